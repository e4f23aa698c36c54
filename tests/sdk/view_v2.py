"""The pipeline the browser tests of the view run, written with SDK 2.x: an EMR step
whose command takes two seconds and fails, printing why, unless the `Outcome` parameter
is `ok`, and a Lambda step reading the EMR step's state."""

from sagemaker.lambda_helper import Lambda
from sagemaker.workflow.emr_step import EMRStep, EMRStepConfig
from sagemaker.workflow.functions import Join
from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline

LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:LambdaStepFunction"


def pipeline():
    outcome = ParameterString(name="Outcome", default_value="ok")
    prepare = EMRStep(
        name="Prepare",
        display_name="Prepare",
        description="prepares the data on the cluster",
        cluster_id="j-LOCALCLUSTER1",
        step_config=EMRStepConfig(
            jar="command-runner.jar",
            args=[
                "sh",
                "-c",
                Join(on="", values=["echo preparing the data; sleep 2; test ", outcome, " = ok || { echo no input found; exit 3; }"]),
            ],
        ),
    )
    read = LambdaStep(
        name="Read",
        lambda_func=Lambda(function_arn=LAMBDA_ARN),
        inputs={"function": "flatten-json", "json": Join(on="", values=['{"state": "', prepare.properties.Status.State, '"}'])},
        outputs=[LambdaOutput(output_name="state", output_type=LambdaOutputTypeEnum.String)],
    )
    return Pipeline(name="view-demo", parameters=[outcome], steps=[prepare, read])
