"""A pipeline author's own pytest test, as the README shows it: nothing but the installed
wheel's `pipelines_emulator` fixture and the SageMaker SDK (2.x or 3.x). scripts/wheel-check
runs it from a folder outside the checkout, in a fresh venv, with only loopback up."""

import json

try:  # 3.x
    from sagemaker.core.lambda_helper import Lambda
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output
    from sagemaker.core.workflow.conditions import ConditionEquals
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep

    MAJOR = 3

    def train_output(bucket):
        return ProcessingOutput(
            output_name="train",
            s3_output=ProcessingS3Output(
                s3_uri=f"s3://{bucket}/prepare/train", local_path="/opt/ml/processing/train", s3_upload_mode="EndOfJob"
            ),
        )

except ImportError:  # 2.x
    from sagemaker.lambda_helper import Lambda
    from sagemaker.processing import ProcessingOutput, ScriptProcessor
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionEquals
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import ProcessingStep

    MAJOR = 2

    def train_output(bucket):
        return ProcessingOutput(output_name="train", source="/opt/ml/processing/train", destination=f"s3://{bucket}/prepare/train")

LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:LambdaStepFunction"


def build(session, role, bucket):
    mode = ParameterString(name="Mode", default_value="go")
    processor = ScriptProcessor(
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/prepare:latest",
        command=["python3"],
        role=role,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        sagemaker_session=session,
    )
    prepare = ProcessingStep(
        name="Prepare",
        step_args=processor.run(
            code=__file__,
            outputs=[train_output(bucket)],
        ),
    )
    flatten = LambdaStep(
        name="Flatten",
        lambda_func=Lambda(function_arn=LAMBDA_ARN),
        inputs={"function": "flatten-json", "json": Join(on="", values=['{"mode": "', mode, '"}'])},
        outputs=[LambdaOutput(output_name="mode", output_type=LambdaOutputTypeEnum.String)],
        depends_on=[prepare],
    )
    gate = ConditionStep(
        name="Go",
        conditions=[ConditionEquals(left=flatten.properties.Outputs["mode"], right="go")],
        if_steps=[],
        else_steps=[FailStep(name="Halt", error_message=Join(on=" ", values=["mode is", mode]))],
    )
    return Pipeline(name=f"user-pipeline-v{MAJOR}", parameters=[mode], steps=[prepare, flatten, gate], sagemaker_session=session)


def test_the_pipeline_runs_both_ways(pipelines_emulator):
    session = pipelines_emulator.pipeline_session()
    pipeline = build(session, pipelines_emulator.role_arn, pipelines_emulator.default_bucket)
    pipeline.upsert(role_arn=pipelines_emulator.role_arn)

    execution = pipeline.start()
    execution.wait(delay=1, max_attempts=120)
    steps = {s["StepName"]: s["StepStatus"] for s in execution.list_steps()}
    assert steps == {"Prepare": "Succeeded", "Flatten": "Succeeded", "Go": "Succeeded"}

    halted = pipeline.start(parameters={"Mode": "stop"})
    try:
        halted.wait(delay=1, max_attempts=120)
    except Exception:  # the SDK's waiter raises on a Failed execution
        pass
    described = halted.describe()
    assert described["PipelineExecutionStatus"] == "Failed"
    # The execution answers in SageMaker's words; the Fail step carries the message.
    assert described["FailureReason"] == "Step failure: One or multiple steps failed."
    failed = [s for s in halted.list_steps() if s["StepStatus"] == "Failed"]
    assert [s.get("FailureReason") for s in failed] == ["mode is stop"], failed


def test_the_sdk_uploaded_the_script_to_the_emulators_s3(pipelines_emulator):
    s3 = pipelines_emulator.boto3_session().client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=pipelines_emulator.default_bucket).get("Contents", [])]
    assert any(key.endswith("test_user_pipeline.py") for key in keys), json.dumps(keys)


def test_the_fixture_hides_the_users_token_and_profile_and_puts_them_back(pipelines_emulator):
    import os

    import boto3

    users_own = {"AWS_SESSION_TOKEN": "the-users-real-token", "AWS_PROFILE": "the-users-profile"}
    saved = {key: os.environ.get(key) for key in users_own}
    os.environ.update(users_own)
    try:
        with pipelines_emulator.environment():
            assert not [key for key in users_own if key in os.environ]
            # Signed with the stack's keys alone: a token beside them would be refused.
            boto3.client("sagemaker").list_pipelines()
        assert {key: os.environ.get(key) for key in users_own} == users_own
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
