"""boto3 against `pipelines-emulator up`, checking the SageMaker pipeline API against the service
model: the calls the SageMaker Python SDK makes (Pipeline.upsert() creates, and updates on
a ValidationException saying "already exists"), pagination and sort order, idempotent
ClientRequestTokens, tags, display names, the per-execution operations, and a definition
read from PipelineDefinitionS3Location in the local S3.

The endpoints come from the exports `pipelines-emulator up` prints. Exits non-zero with the
failed check; prints "boto3 api: N checks passed" at the end.
"""

import json
import os
import sys
import time

import boto3
from botocore.exceptions import ClientError

DEADLINE_SECONDS = 60
ROLE = "arn:aws:iam::123456789012:role/pipeline"
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/CallbackQueue"

sagemaker = boto3.client("sagemaker")
s3 = boto3.client("s3")
checks = 0


def check(condition, what):
    global checks
    if not condition:
        sys.exit(f"boto3 api: FAILED: {what}")
    checks += 1


def error_of(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    return None, None


def wait_for(what, condition):
    end = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    sys.exit(f"boto3 api: timed out waiting for {what}")


def definition(steps, parameters=()):
    return json.dumps({"Version": "2020-12-01", "Metadata": {}, "Parameters": list(parameters), "Steps": steps})


approval = definition(
    [
        {
            "Name": "Approval",
            "Type": "Callback",
            "Arguments": {"task": "event", "reviewer": {"Get": "Parameters.Reviewer"}},
            "SqsQueueUrl": QUEUE,
            "OutputParameters": [{"OutputName": "Approved", "OutputType": "Boolean"}],
        }
    ],
    [{"Name": "Reviewer", "Type": "String", "DefaultValue": "ml-platform"}],
)

# Create, then what Pipeline.upsert() does the second time.
created = sagemaker.create_pipeline(
    PipelineName="approvals",
    PipelineDisplayName="Approvals",
    PipelineDescription="waits for a reviewer",
    PipelineDefinition=approval,
    RoleArn=ROLE,
    Tags=[{"Key": "team", "Value": "ml-platform"}],
)
arn = created["PipelineArn"]
code, message = error_of(sagemaker.create_pipeline, PipelineName="approvals", PipelineDefinition=approval, RoleArn=ROLE)
check(code == "ValidationException" and "already exists" in message, f"a second CreatePipeline: {code} {message}")
updated = sagemaker.update_pipeline(PipelineName="approvals", PipelineDefinition=approval, RoleArn=ROLE)
check(updated["PipelineArn"] == arn, "UpdatePipeline answers the ARN")
code, _ = error_of(sagemaker.update_pipeline, PipelineName="nosuch", PipelineDefinition=approval)
check(code == "ResourceNotFound", f"UpdatePipeline of a missing pipeline: {code}")
code, _ = error_of(sagemaker.describe_pipeline, PipelineName="nosuch")
check(code == "ResourceNotFound", f"DescribePipeline of a missing pipeline: {code}")
described = sagemaker.describe_pipeline(PipelineName=arn)
check(described["PipelineDisplayName"] == "Approvals", "the display name is kept")
check(described["PipelineDescription"] == "waits for a reviewer", "the description is kept")
check(described["RoleArn"] == ROLE, "the role is kept")

# Tags, as upsert() merges them.
check(sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml-platform"}], "CreatePipeline's tags")
sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "platform"}])
tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=arn)["Tags"]}
check(tags == {"team": "platform", "env": "dev"}, f"AddTags replaces by key: {tags}")

# A definition in the local S3, as the SDK uploads one of 100 KB and more.
s3.create_bucket(Bucket="pipeline-definitions")
s3.put_object(Bucket="pipeline-definitions", Key="big/definition.json", Body=approval.encode())
sagemaker.create_pipeline(
    PipelineName="from-s3",
    PipelineDefinitionS3Location={"Bucket": "pipeline-definitions", "ObjectKey": "big/definition.json"},
    RoleArn=ROLE,
)
check(sagemaker.describe_pipeline(PipelineName="from-s3")["PipelineDefinition"] == approval, "definition read from S3")
code, message = error_of(
    sagemaker.create_pipeline,
    PipelineName="missing-s3",
    PipelineDefinitionS3Location={"Bucket": "pipeline-definitions", "ObjectKey": "nope.json"},
    RoleArn=ROLE,
)
check(code == "ValidationException" and "s3://pipeline-definitions/nope.json" in message, f"missing S3 definition: {message}")

# ListPipelines: prefix, sort, pages.
sagemaker.create_pipeline(PipelineName="approvals-2", PipelineDefinition=approval, RoleArn=ROLE)
names, token = [], None
while True:
    kwargs = {"PipelineNamePrefix": "approvals", "SortBy": "Name", "SortOrder": "Ascending", "MaxResults": 1}
    if token:
        kwargs["NextToken"] = token
    page = sagemaker.list_pipelines(**kwargs)
    check(len(page["PipelineSummaries"]) <= 1, "MaxResults bounds a page")
    names += [p["PipelineName"] for p in page["PipelineSummaries"]]
    token = page.get("NextToken")
    if not token:
        break
check(names == ["approvals", "approvals-2"], f"ListPipelines pages: {names}")
newest_first = [p["PipelineName"] for p in sagemaker.list_pipelines()["PipelineSummaries"]]
check(newest_first[0] == "approvals-2", f"newest first by default: {newest_first}")

# An execution started twice with one ClientRequestToken is one execution.
start = dict(
    PipelineName="approvals",
    PipelineExecutionDisplayName="nightly",
    PipelineExecutionDescription="the nightly run",
    PipelineParameters=[{"Name": "Reviewer", "Value": "alice"}],
    ClientRequestToken="nightly-2026-11-25-00000000000000",
)
execution = sagemaker.start_pipeline_execution(**start)["PipelineExecutionArn"]
check(sagemaker.start_pipeline_execution(**start)["PipelineExecutionArn"] == execution, "idempotent start")
check(len(sagemaker.list_pipeline_executions(PipelineName="approvals")["PipelineExecutionSummaries"]) == 1, "one execution")
described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution)
check(described["PipelineExecutionDisplayName"] == "nightly", "execution display name")
check(described["PipelineExecutionDescription"] == "the nightly run", "execution description")
check(
    sagemaker.describe_pipeline_definition_for_execution(PipelineExecutionArn=execution)["PipelineDefinition"] == approval,
    "DescribePipelineDefinitionForExecution",
)
parameters = sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution)["PipelineParameters"]
check(parameters == [{"Name": "Reviewer", "Value": "alice"}], f"ListPipelineParametersForExecution: {parameters}")


def token_of(arn):
    def token():
        for step in sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]:
            found = step.get("Metadata", {}).get("Callback", {}).get("CallbackToken")
            if found:
                return found
        return None

    return wait_for("the callback token", token)


answer = sagemaker.send_pipeline_execution_step_success(
    CallbackToken=token_of(execution), OutputParameters=[{"Name": "Approved", "Value": "true"}]
)
check(answer["PipelineExecutionArn"] == execution, "SendPipelineExecutionStepSuccess answers the execution")
wait_for(
    "the execution to succeed",
    lambda: sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution)["PipelineExecutionStatus"] == "Succeeded",
)

# Executions: sort and pages; a stop repeated with its token.
others = [sagemaker.start_pipeline_execution(PipelineName="approvals")["PipelineExecutionArn"] for _ in range(2)]
for other in others:
    token_of(other)
pages, token = [], None
while True:
    kwargs = {"PipelineName": "approvals", "MaxResults": 2, "SortOrder": "Ascending"}
    if token:
        kwargs["NextToken"] = token
    page = sagemaker.list_pipeline_executions(**kwargs)
    pages.append([e["PipelineExecutionArn"] for e in page["PipelineExecutionSummaries"]])
    token = page.get("NextToken")
    if not token:
        break
check(pages == [[execution, others[0]], [others[1]]], f"ListPipelineExecutions pages: {pages}")
for other in others:
    stop = dict(PipelineExecutionArn=other, ClientRequestToken=f"stop-{other[-12:]}-0000000000000000000")
    check(sagemaker.stop_pipeline_execution(**stop)["PipelineExecutionArn"] == other, "StopPipelineExecution")
    check(sagemaker.stop_pipeline_execution(**stop)["PipelineExecutionArn"] == other, "a repeated stop")
code, _ = error_of(sagemaker.stop_pipeline_execution, PipelineExecutionArn=execution)
check(code == "ConflictException", f"stopping an ended execution: {code}")
code, _ = error_of(sagemaker.describe_pipeline_execution, PipelineExecutionArn=arn + "/execution/nosuch")
check(code == "ResourceNotFound", f"a missing execution: {code}")

steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=execution, SortOrder="Ascending", MaxResults=1)
check(len(steps["PipelineExecutionSteps"]) == 1 and "NextToken" not in steps, "one step, one page")
step = steps["PipelineExecutionSteps"][0]
check(step["AttemptCount"] == 1 and step["StepDisplayName"] == "Approval", f"step fields: {step}")

code, message = error_of(sagemaker.list_pipelines, NextToken="forged")
check(code == "ValidationException" and "pagination token" in message, f"a forged NextToken: {message}")
sagemaker.delete_pipeline(PipelineName="approvals-2", ClientRequestToken="delete-approvals-2-0000000000000000")
check(
    [p["PipelineName"] for p in sagemaker.list_pipelines(PipelineNamePrefix="approvals")["PipelineSummaries"]] == ["approvals"],
    "DeletePipeline",
)

# Definitions the SageMaker Python SDK wrote, as they are.
sdk = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sdk", "definitions")
for major in ("v2", "v3"):
    def sdk_definition(name):
        with open(os.path.join(sdk, major, f"{name}.json")) as f:
            return f.read()

    code, message = error_of(
        sagemaker.create_pipeline, PipelineName=f"nested-{major}", PipelineDefinition=sdk_definition("nested-condition"), RoleArn=ROLE
    )
    check(code == "ValidationException" and "nested Condition steps are not supported" in message, f"{major} nested: {message}")
    sagemaker.create_pipeline(PipelineName=f"conditions-{major}", PipelineDefinition=sdk_definition("conditions"), RoleArn=ROLE)
    off = sagemaker.start_pipeline_execution(
        PipelineName=f"conditions-{major}", PipelineParameters=[{"Name": "Mode", "Value": "off"}]
    )["PipelineExecutionArn"]
    ended = wait_for(
        "the conditions execution to end",
        lambda: (lambda d: d if d["PipelineExecutionStatus"] in ("Succeeded", "Failed") else None)(
            sagemaker.describe_pipeline_execution(PipelineExecutionArn=off)
        ),
    )
    # The execution answers in SageMaker's words; the Fail step carries its own message.
    check(ended.get("FailureReason") == "Step failure: One or multiple steps failed.", f"{major} Not: {ended}")
    failed = [
        s
        for s in sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=off)["PipelineExecutionSteps"]
        if s["StepStatus"] == "Failed"
    ]
    check(
        [s.get("FailureReason") for s in failed] == ["a condition failed for mode off"],
        f"{major} Not, the Fail step: {failed}",
    )
    sagemaker.create_pipeline(PipelineName=f"enum-{major}", PipelineDefinition=sdk_definition("enum-parameter"), RoleArn=ROLE)
    code, message = error_of(
        sagemaker.start_pipeline_execution,
        PipelineName=f"enum-{major}",
        PipelineParameters=[{"Name": "Env", "Value": "staging"}],
    )
    check(code == "ValidationException" and "EnumValues" in message, f"{major} EnumValues: {message}")

# The abalone pipeline on `up --mocks infra/pipelines/abalone-mocks.json`: the mocked
# MSE (4.2) is under the threshold, so the model is registered and the approval waits.
with open(os.path.join(sdk, "v2", "abalone.json")) as f:
    sagemaker.create_pipeline(PipelineName="abalone", PipelineDefinition=f.read(), RoleArn=ROLE)
abalone = sagemaker.start_pipeline_execution(PipelineName="abalone")["PipelineExecutionArn"]
token_of(abalone)
statuses = {
    s["StepName"]: s["StepStatus"]
    for s in sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=abalone)["PipelineExecutionSteps"]
}
check(statuses.get("AbaloneRegister-RegisterModel") == "Succeeded", f"abalone took the If branch: {statuses}")
sagemaker.stop_pipeline_execution(PipelineExecutionArn=abalone)
wait_for(
    "the abalone execution to stop",
    lambda: sagemaker.describe_pipeline_execution(PipelineExecutionArn=abalone)["PipelineExecutionStatus"] == "Stopped",
)

# The inner loop with boto3: a selective execution reruns the bias check on the results
# of a finished execution; the member the stack does not honour is refused by name.
with open(os.path.join(sdk, "v2", "model-bias-check.json")) as f:
    sagemaker.create_pipeline(PipelineName="model-bias-check", PipelineDefinition=f.read(), RoleArn=ROLE)


def ended(arn):
    return wait_for(
        f"{arn} to end",
        lambda: (lambda e: e if e["PipelineExecutionStatus"] in ("Succeeded", "Failed", "Stopped") else None)(
            sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        ),
    )


reference = sagemaker.start_pipeline_execution(PipelineName="model-bias-check")["PipelineExecutionArn"]
check(ended(reference)["PipelineExecutionStatus"] == "Succeeded", "the reference execution succeeds")
config = {"SourcePipelineExecutionArn": reference, "SelectedSteps": [{"StepName": "ModelBiasCheckStep"}]}
selective = sagemaker.start_pipeline_execution(PipelineName="model-bias-check", SelectiveExecutionConfig=config)[
    "PipelineExecutionArn"
]
described = ended(selective)
check(described["PipelineExecutionStatus"] == "Succeeded", f"the selective execution succeeds: {described}")
check(described.get("SelectiveExecutionConfig") == config, f"Describe shows the config: {described}")
reused = {
    s["StepName"]: s.get("SelectiveExecutionResult", {}).get("SourcePipelineExecutionArn")
    for s in sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=selective)["PipelineExecutionSteps"]
}
check(
    reused == {"TrainAbaloneModel": reference, "AbaloneCreateModel-CreateModel": reference, "ModelBiasCheckStep": None},
    f"upstream steps are reused, nothing downstream runs: {reused}",
)
code, message = error_of(sagemaker.retry_pipeline_execution, PipelineExecutionArn=selective)
check(code == "ValidationException" and "only a Failed" in message, f"retry of a Succeeded execution: {message}")
code, message = error_of(sagemaker.start_pipeline_execution, PipelineName="model-bias-check", PipelineVersionAlias="prod")
check(
    code == "ValidationException" and "PipelineVersionAlias is not supported" in message,
    f"a member the stack does not honour is refused by name: {message}",
)

print(f"boto3 api: {checks} checks passed")
