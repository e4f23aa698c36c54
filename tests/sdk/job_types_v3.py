"""SageMaker job step types that only SDK 3.x writes: EMRServerless, with a Lambda step
after it. (3.27 cannot resolve the step's `properties`, EMR Serverless GetJobRun's
answer, so nothing reads them here.)"""

from sagemaker.core.lambda_helper import Lambda
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.mlops.workflow.emr_serverless_step import EMRServerlessJobConfig, EMRServerlessStep
from sagemaker.mlops.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.mlops.workflow.pipeline import Pipeline

ROLE = "arn:aws:iam::123456789012:role/emr-serverless"
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:LambdaStepFunction"


def pipeline():
    spark = EMRServerlessStep(
        name="SparkJob",
        display_name="Spark on EMR Serverless",
        description="a Spark job on an existing application",
        application_id="00fabc123def",
        job_config=EMRServerlessJobConfig(
            job_driver={"sparkSubmit": {"entryPoint": "s3://jobs-local/spark/job.py"}},
            execution_role_arn=ROLE,
        ),
    )
    read = LambdaStep(
        name="ReadRun",
        lambda_func=Lambda(function_arn=LAMBDA_ARN),
        inputs={
            "function": "flatten-json",
            "json": Join(on="", values=['{"pipeline": "', ExecutionVariables.PIPELINE_NAME, '"}']),
        },
        outputs=[LambdaOutput(output_name="pipeline", output_type=LambdaOutputTypeEnum.String)],
        depends_on=[spark],
    )
    return Pipeline(name="job-types-v3", steps=[spark, read])


def mlflow_pipeline():
    """A pipeline with 3.x's MlflowConfig: its executions log to that MLflow experiment."""
    from sagemaker.core.shapes.shapes import MlflowConfig

    read = LambdaStep(
        name="ReadRun",
        lambda_func=Lambda(function_arn=LAMBDA_ARN),
        inputs={
            "function": "flatten-json",
            "json": Join(on="", values=['{"pipeline": "', ExecutionVariables.PIPELINE_NAME, '"}']),
        },
        outputs=[LambdaOutput(output_name="pipeline", output_type=LambdaOutputTypeEnum.String)],
    )
    return Pipeline(
        name="mlflow-v3",
        steps=[read],
        mlflow_config=MlflowConfig(
            mlflow_resource_arn="arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/local",
            mlflow_experiment_name="abalone",
        ),
    )
