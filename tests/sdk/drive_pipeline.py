"""The SageMaker Python SDK's own Pipeline object against `pipelines-emulator up`: upsert twice,
start, wait, describe, list the steps, a selective execution on the latest one; then a definition of more than 100 KB, which the
SDK uploads to its default bucket and creates through PipelineDefinitionS3Location.

    python tests/sdk/drive_pipeline.py      # with the AWS_ENDPOINT_URL_* exports of `up`

Run by scripts/sdk-check with each SDK major's venv. Exits non-zero on the first
failed check.
"""

import json
import os
import sys

# Every service the SDK reaches that `up` does not name (3.x makes clients at import)
# goes to the local moto server too: nothing leaves this machine.
os.environ.setdefault("AWS_ENDPOINT_URL", os.environ["AWS_ENDPOINT_URL_S3"])

import boto3  # noqa: E402

try:  # 3.x  # noqa: E402
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.lambda_helper import Lambda
    from sagemaker.core.workflow.conditions import ConditionEquals
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.selective_execution_config import SelectiveExecutionConfig

    MAJOR = 3
except ImportError:  # 2.x
    from sagemaker.lambda_helper import Lambda
    from sagemaker.session import Session
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionEquals
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.selective_execution_config import SelectiveExecutionConfig

    MAJOR = 2

ROLE = "arn:aws:iam::123456789012:role/pipeline"
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:LambdaStepFunction"


def check(condition, what):
    if not condition:
        sys.exit(f"sdk {MAJOR}.x: FAILED: {what}")
    print(f"sdk {MAJOR}.x: ok: {what}")


# A named default bucket: the SDK then asks STS for no account id (it would at the fixed
# regional STS endpoint, whatever AWS_ENDPOINT_URL_STS says).
session = Session(boto_session=boto3.Session(), default_bucket="sagemaker-local-pipelines")

# The pipeline's role, as it exists in an account: 3.x checks its trust policy.
iam = boto3.client("iam")
try:
    iam.create_role(
        RoleName="pipeline",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )
except iam.exceptions.EntityAlreadyExistsException:
    pass
mode = ParameterString(name="Mode", default_value="go")


def pipeline(name, padding=""):
    flatten = LambdaStep(
        name="Flatten",
        lambda_func=Lambda(function_arn=LAMBDA_ARN),
        inputs={"function": "flatten-json", "json": Join(on="", values=['{"mode": "', mode, '"}']), "padding": padding},
        outputs=[LambdaOutput(output_name="mode", output_type=LambdaOutputTypeEnum.String)],
    )
    gate = ConditionStep(
        name="Go",
        conditions=[ConditionEquals(left=flatten.properties.Outputs["mode"], right="go")],
        if_steps=[],
        else_steps=[FailStep(name="Stop", error_message=Join(on=" ", values=["mode is", mode]))],
    )
    return Pipeline(name=name, parameters=[mode], steps=[flatten, gate], sagemaker_session=session)


sdk = pipeline(f"sdk-v{MAJOR}")
first = sdk.upsert(role_arn=ROLE, description="driven by the SDK")
second = sdk.upsert(role_arn=ROLE, description="driven by the SDK, again")
check(first["PipelineArn"] == second["PipelineArn"], "upsert twice: created, then updated")
check(sdk.describe()["PipelineDescription"] == "driven by the SDK, again", "describe after the update")

execution = sdk.start(execution_display_name="from-the-sdk")
execution.wait(delay=1, max_attempts=60)
described = execution.describe()
check(described["PipelineExecutionStatus"] == "Succeeded", f"execution succeeded: {described.get('FailureReason')}")
check(described["PipelineExecutionDisplayName"] == "from-the-sdk", "display name")
steps = {s["StepName"]: s for s in execution.list_steps()}
check(set(steps) == {"Flatten", "Go"}, f"list_steps: {sorted(steps)}")
check(steps["Go"]["Metadata"]["Condition"]["Outcome"] == "True", "the condition's outcome")

failed = sdk.start(parameters={"Mode": "halt"})
try:
    failed.wait(delay=1, max_attempts=60)
except Exception:  # the SDK's waiter raises on a Failed execution
    pass
described = failed.describe()
fail_steps = [s for s in failed.list_steps() if s["StepStatus"] == "Failed"]
check(
    described["PipelineExecutionStatus"] == "Failed"
    and described["FailureReason"] == "Step failure: One or multiple steps failed."
    and [s.get("FailureReason") for s in fail_steps] == ["mode is halt"],
    f"SageMaker's words for the execution, the Fail step's message on the step: {described.get('FailureReason')}, {fail_steps}",
)

# Selective execution as the SDK does it: the latest execution (the failed one) is the
# reference; the condition runs again on Flatten's result there, and nothing after it runs.
rerun = sdk.start(selective_execution_config=SelectiveExecutionConfig(selected_steps=["Go"]))
rerun.wait(delay=1, max_attempts=60)
described = rerun.describe()
check(described["PipelineExecutionStatus"] == "Succeeded", f"the selective execution succeeded: {described.get('FailureReason')}")
check(
    described["SelectiveExecutionConfig"]["SourcePipelineExecutionArn"] == failed.arn,
    "the SDK referenced the latest execution",
)
steps = {s["StepName"]: s for s in rerun.list_steps()}
check(set(steps) == {"Flatten", "Go"}, f"only Go ran, on Flatten's reused result: {sorted(steps)}")
check(
    steps["Flatten"]["SelectiveExecutionResult"]["SourcePipelineExecutionArn"] == failed.arn,
    "Flatten shows SelectiveExecutionResult",
)
check(steps["Go"]["Metadata"]["Condition"]["Outcome"] == "False", "Go read the reference's mode, halt")

big = pipeline(f"sdk-v{MAJOR}-big", padding="x" * 110_000)
check(len(big.definition().encode()) > 100 * 1024, "the definition is over 100 KB")
big.upsert(role_arn=ROLE)
check(
    len(big.describe()["PipelineDefinition"]) > 100 * 1024,
    "created from PipelineDefinitionS3Location in the local S3",
)
