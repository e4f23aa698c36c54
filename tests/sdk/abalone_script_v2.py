"""The abalone pipeline with the user's own code in every job step, written with
SageMaker Python SDK 2.x: an SKLearnProcessor running preprocessing.py, an SKLearn
estimator in script mode (entry_point train.py from a source_dir archive, a
MetricDefinition scraped from its output), an SKLearnProcessor running evaluation.py into
a PropertyFile, and a Condition on the MSE the scripts computed: a Lambda step reports it
when it is under the threshold, a Fail step ends the run when it is not. The training
step is cached for an hour; the preprocessing step has a retry policy on the service's
faults.

The scripts (tests/code/abalone/) are referenced by S3 URI, so writing the definition
calls no service; the test puts them at those URIs in the emulator's local S3.
"""

from sagemaker.inputs import TrainingInput
from sagemaker.lambda_helper import Lambda
from sagemaker.processing import ProcessingInput, ProcessingOutput
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.retry import SageMakerJobExceptionTypeEnum, SageMakerJobStepRetryPolicy
from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep

ROLE = "arn:aws:iam::123456789012:role/pipeline"
BUCKET = "abalone-local"
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:LambdaStepFunction"


def pipeline():
    session = PipelineSession(default_bucket=BUCKET)
    input_data = ParameterString(name="InputData", default_value=f"s3://{BUCKET}/abalone/abalone-dataset.csv")
    mse_threshold = ParameterFloat(name="MseThreshold", default_value=6.0)
    processor = SKLearnProcessor(
        framework_version="1.2-1",
        instance_type="ml.m5.xlarge",
        instance_count=1,
        base_job_name="abalone-script-process",
        role=ROLE,
        sagemaker_session=session,
    )
    step_process = ProcessingStep(
        name="Preprocess",
        step_args=processor.run(
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(output_name="train", source="/opt/ml/processing/train", destination=f"s3://{BUCKET}/script/train"),
                ProcessingOutput(output_name="test", source="/opt/ml/processing/test", destination=f"s3://{BUCKET}/script/test"),
            ],
            code=f"s3://{BUCKET}/code/abalone/preprocessing.py",
        ),
        # Retried on the service's own faults, never on the script's.
        retry_policies=[
            SageMakerJobStepRetryPolicy(
                exception_types=[SageMakerJobExceptionTypeEnum.INTERNAL_ERROR, SageMakerJobExceptionTypeEnum.CAPACITY_ERROR],
                max_attempts=3,
            )
        ],
    )
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=f"s3://{BUCKET}/code/abalone/sourcedir.tar.gz",
        framework_version="1.2-1",
        py_version="py3",
        instance_type="ml.m5.xlarge",
        role=ROLE,
        output_path=f"s3://{BUCKET}/script/models",
        hyperparameters={"max_depth": 6},
        metric_definitions=[{"Name": "train:mse", "Regex": "train mse: ([0-9.]+)"}],
        sagemaker_session=session,
    )
    step_train = TrainingStep(
        name="Train",
        cache_config=CacheConfig(enable_caching=True, expire_after="PT1H"),
        step_args=estimator.fit(
            inputs={
                "train": TrainingInput(
                    s3_data=step_process.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri,
                    content_type="text/csv",
                )
            }
        ),
    )
    evaluation_report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    step_eval = ProcessingStep(
        name="Evaluate",
        step_args=processor.run(
            inputs=[
                ProcessingInput(source=step_train.properties.ModelArtifacts.S3ModelArtifacts, destination="/opt/ml/processing/model"),
                ProcessingInput(
                    source=step_process.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri,
                    destination="/opt/ml/processing/test",
                ),
            ],
            outputs=[
                ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation", destination=f"s3://{BUCKET}/script/evaluation")
            ],
            code=f"s3://{BUCKET}/code/abalone/evaluation.py",
        ),
        property_files=[evaluation_report],
    )
    mse = JsonGet(step_name=step_eval.name, property_file=evaluation_report, json_path="regression_metrics.mse.value")
    report = LambdaStep(
        name="ReportMse",
        lambda_func=Lambda(function_arn=LAMBDA_ARN),
        inputs={"function": "flatten-json", "json": Join(on="", values=['{"mse": "', mse, '"}'])},
        outputs=[LambdaOutput(output_name="mse", output_type=LambdaOutputTypeEnum.String)],
    )
    too_high = FailStep(name="MseTooHigh", error_message=Join(on=" ", values=["MSE", mse, "is over", mse_threshold]))
    gate = ConditionStep(
        name="MseUnderThreshold",
        conditions=[ConditionLessThanOrEqualTo(left=mse, right=mse_threshold)],
        if_steps=[report],
        else_steps=[too_high],
    )
    return Pipeline(
        name="abalone-script",
        parameters=[input_data, mse_threshold],
        steps=[step_process, step_train, step_eval, gate],
        sagemaker_session=session,
    )
