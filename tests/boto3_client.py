"""boto3 against the emulator's SageMaker endpoint, as a user's script would use it:
create a pipeline whose Callback step waits for an approval (task `event`), then approve
one execution, reject one and stop one. Prints a JSON summary for the Rust test.

The endpoint and credentials come from the environment `Emulator::client_env` gives.
"""

import json
import os
import sys
import time

import boto3

DEADLINE_SECONDS = 60

sagemaker = boto3.client("sagemaker", endpoint_url=os.environ["AWS_ENDPOINT_URL_SAGEMAKER"])

definition = {
    "Version": "2020-12-01",
    "Parameters": [{"Name": "Reviewer", "Type": "String", "DefaultValue": "ml-platform"}],
    "Steps": [
        {
            "Name": "Approval",
            "Type": "Callback",
            "Arguments": {"task": "event", "reviewer": {"Get": "Parameters.Reviewer"}},
            "SqsQueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/CallbackQueue",
            "OutputParameters": [{"OutputName": "Approved", "OutputType": "Boolean"}],
        }
    ],
}


def wait_for(what, condition):
    end = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


def steps(arn):
    return sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]


def token_of(arn):
    def token():
        for step in steps(arn):
            found = step.get("Metadata", {}).get("Callback", {}).get("CallbackToken")
            if found:
                return found
        return None

    return wait_for("the callback token", token)


def ended(arn):
    def status():
        answer = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        return answer if answer["PipelineExecutionStatus"] in ("Succeeded", "Failed", "Stopped") else None

    return wait_for("the execution to end", status)["PipelineExecutionStatus"]


def start():
    return sagemaker.start_pipeline_execution(PipelineName="approvals")["PipelineExecutionArn"]


sagemaker.create_pipeline(
    PipelineName="approvals",
    PipelineDefinition=json.dumps(definition),
    RoleArn="arn:aws:iam::123456789012:role/pipeline",
)
assert sagemaker.describe_pipeline(PipelineName="approvals")["PipelineStatus"] == "Active"

approved = start()
sagemaker.send_pipeline_execution_step_success(
    CallbackToken=token_of(approved), OutputParameters=[{"Name": "Approved", "Value": "true"}]
)
approved_status = ended(approved)

rejected = start()
sagemaker.send_pipeline_execution_step_failure(
    CallbackToken=token_of(rejected), FailureReason="rejected by the reviewer"
)
rejected_status = ended(rejected)

stopped = start()
token_of(stopped)
sagemaker.stop_pipeline_execution(PipelineExecutionArn=stopped)
stopped_status = ended(stopped)

print(
    json.dumps(
        {
            "approved": {
                "status": approved_status,
                "outputs": steps(approved)[0]["Metadata"]["Callback"].get("OutputParameters"),
            },
            "rejected": {"status": rejected_status, "step_failure": steps(rejected)[0].get("FailureReason")},
            "stopped": {"status": stopped_status},
            "executions": len(
                sagemaker.list_pipeline_executions(PipelineName="approvals")["PipelineExecutionSummaries"]
            ),
        }
    )
)
