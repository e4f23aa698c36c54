"""boto3 completes the Callback step that waits in the stack `pipelines-emulator run` started:
it reads the stack's endpoints file, finds the waiting step's token through
ListPipelineExecutionSteps, and sends SendPipelineExecutionStepSuccess with the outputs
given as NAME=VALUE arguments.

    python tests/complete_callback.py STATE_DIR STEP_NAME [NAME=VALUE ...]
"""

import json
import os
import sys
import time

import boto3

state_dir, step_name, *outputs = sys.argv[1:]
with open(os.path.join(state_dir, "endpoints.json")) as f:
    stack = json.load(f)
# The keys this start of the stack made, as its state file gives them to its user.
sagemaker = boto3.client(
    "sagemaker",
    endpoint_url=stack["sagemaker"],
    region_name="us-east-1",
    aws_access_key_id=stack["env"]["AWS_ACCESS_KEY_ID"],
    aws_secret_access_key=stack["env"]["AWS_SECRET_ACCESS_KEY"],
)

deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    for pipeline in sagemaker.list_pipelines()["PipelineSummaries"]:
        executions = sagemaker.list_pipeline_executions(PipelineName=pipeline["PipelineName"])
        for execution in executions["PipelineExecutionSummaries"]:
            steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=execution["PipelineExecutionArn"])
            for step in steps["PipelineExecutionSteps"]:
                token = step.get("Metadata", {}).get("Callback", {}).get("CallbackToken")
                if step["StepName"] == step_name and step["StepStatus"] == "Executing" and token:
                    answer = sagemaker.send_pipeline_execution_step_success(
                        CallbackToken=token,
                        OutputParameters=[dict(zip(("Name", "Value"), o.split("=", 1))) for o in outputs],
                    )
                    print(f"completed {step_name} of {answer['PipelineExecutionArn']}")
                    sys.exit(0)
    time.sleep(0.1)
sys.exit(f"no waiting step {step_name}")
