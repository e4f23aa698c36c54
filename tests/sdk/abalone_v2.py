"""The abalone pipeline of AWS's Pipeline Steps guide, written with SageMaker Python SDK
2.x: Processing, Training, an evaluation Processing step with a PropertyFile, a
Condition on JsonGet, RegisterModel and a Model step, Transform, Fail; with a Lambda
step and a Callback step added, as teams mix SageMaker's job steps with their own.

Code, data and outputs are S3 URIs, so that writing the definition calls no service.
"""

from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import CreateModelInput, TrainingInput, TransformInput
from sagemaker.lambda_helper import Lambda
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.transformer import Transformer
from sagemaker.workflow.callback_step import CallbackOutput, CallbackOutputTypeEnum, CallbackStep
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TrainingStep, TransformStep

ROLE = "arn:aws:iam::123456789012:role/pipeline"
REGION = "us-east-1"
BUCKET = "abalone-local"
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:LambdaStepFunction"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/CallbackQueue"


def pipeline(xgboost_version="1.7-1", name="abalone"):
    session = PipelineSession(default_bucket=BUCKET)
    instance_count = ParameterInteger(name="ProcessingInstanceCount", default_value=1)
    input_data = ParameterString(name="InputData", default_value=f"s3://{BUCKET}/abalone/abalone-dataset.csv")
    batch_data = ParameterString(name="BatchData", default_value=f"s3://{BUCKET}/abalone/abalone-batch.csv")
    approval = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
    mse_threshold = ParameterFloat(name="MseThreshold", default_value=6.0)

    sklearn = SKLearnProcessor(
        framework_version="1.2-1",
        instance_type="ml.m5.xlarge",
        instance_count=instance_count,
        base_job_name="sklearn-abalone-process",
        role=ROLE,
        sagemaker_session=session,
    )
    step_process = ProcessingStep(
        name="AbaloneProcess",
        step_args=sklearn.run(
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(output_name="train", source="/opt/ml/processing/train", destination=f"s3://{BUCKET}/AbaloneProcess/train"),
                ProcessingOutput(output_name="validation", source="/opt/ml/processing/validation", destination=f"s3://{BUCKET}/AbaloneProcess/validation"),
                ProcessingOutput(output_name="test", source="/opt/ml/processing/test", destination=f"s3://{BUCKET}/AbaloneProcess/test"),
            ],
            code=f"s3://{BUCKET}/code/preprocessing.py",
        ),
    )

    image_uri = image_uris.retrieve(
        framework="xgboost", region=REGION, version=xgboost_version, py_version="py3", instance_type="ml.m5.xlarge"
    )
    xgb = Estimator(
        image_uri=image_uri,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        output_path=f"s3://{BUCKET}/AbaloneTrain",
        role=ROLE,
        sagemaker_session=session,
    )
    xgb.set_hyperparameters(objective="reg:linear", num_round=50, max_depth=5, eta=0.2, gamma=4, min_child_weight=6, subsample=0.7)
    step_train = TrainingStep(
        name="AbaloneTrain",
        step_args=xgb.fit(
            inputs={
                "train": TrainingInput(
                    s3_data=step_process.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri,
                    content_type="text/csv",
                ),
                "validation": TrainingInput(
                    s3_data=step_process.properties.ProcessingOutputConfig.Outputs["validation"].S3Output.S3Uri,
                    content_type="text/csv",
                ),
            }
        ),
    )

    script_eval = ScriptProcessor(
        image_uri=image_uri,
        command=["python3"],
        instance_type="ml.m5.xlarge",
        instance_count=1,
        base_job_name="script-abalone-eval",
        role=ROLE,
        sagemaker_session=session,
    )
    evaluation_report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    step_eval = ProcessingStep(
        name="AbaloneEval",
        step_args=script_eval.run(
            inputs=[
                ProcessingInput(source=step_train.properties.ModelArtifacts.S3ModelArtifacts, destination="/opt/ml/processing/model"),
                ProcessingInput(
                    source=step_process.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri,
                    destination="/opt/ml/processing/test",
                ),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="evaluation",
                    source="/opt/ml/processing/evaluation",
                    destination=f"s3://{BUCKET}/AbaloneEval/evaluation",
                )
            ],
            code=f"s3://{BUCKET}/code/evaluation.py",
        ),
        property_files=[evaluation_report],
    )

    model_metrics = ModelMetrics(
        model_statistics=MetricsSource(
            s3_uri=Join(
                on="/",
                values=[step_eval.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri, "evaluation.json"],
            ),
            content_type="application/json",
        )
    )
    model = Model(
        image_uri=image_uri,
        model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
        sagemaker_session=session,
        role=ROLE,
    )
    step_register = ModelStep(
        name="AbaloneRegister",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.t2.medium", "ml.m5.xlarge"],
            transform_instances=["ml.m5.xlarge"],
            model_package_group_name="AbaloneModelPackageGroup",
            approval_status=approval,
            model_metrics=model_metrics,
        ),
    )
    step_create_model = ModelStep(
        name="AbaloneCreateModel",
        step_args=model.create(instance_type="ml.m5.large", accelerator_type="ml.eia1.medium"),
    )
    transformer = Transformer(
        model_name=step_create_model.properties.ModelName,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        output_path=f"s3://{BUCKET}/AbaloneTransform",
        sagemaker_session=session,
    )
    step_transform = TransformStep(
        name="AbaloneTransform",
        step_args=transformer.transform(data=batch_data),
    )
    notify = LambdaStep(
        name="AbaloneNotify",
        lambda_func=Lambda(function_arn=LAMBDA_ARN),
        inputs={
            "function": "flatten-json",
            "json": Join(on="", values=['{"model_package": "', step_register.properties.ModelPackageArn, '"}']),
        },
        outputs=[LambdaOutput(output_name="model_package", output_type=LambdaOutputTypeEnum.String)],
    )
    approve = CallbackStep(
        name="AbaloneApprove",
        sqs_queue_url=QUEUE_URL,
        inputs={"task": "event", "model_package": step_register.properties.ModelPackageArn},
        outputs=[CallbackOutput(output_name="Approved", output_type=CallbackOutputTypeEnum.Boolean)],
        depends_on=[step_transform],
    )
    step_fail = FailStep(
        name="AbaloneMSEFail",
        error_message=Join(on=" ", values=["Execution failed due to MSE >", mse_threshold]),
    )
    mse = JsonGet(step_name=step_eval.name, property_file=evaluation_report, json_path="regression_metrics.mse.value")
    step_cond = ConditionStep(
        name="AbaloneMSECond",
        conditions=[ConditionLessThanOrEqualTo(left=mse, right=mse_threshold)],
        if_steps=[step_register, step_create_model, step_transform, notify, approve],
        else_steps=[step_fail],
    )
    return Pipeline(
        name=name,
        parameters=[instance_count, input_data, batch_data, approval, mse_threshold],
        steps=[step_process, step_train, step_eval, step_cond],
        sagemaker_session=session,
    )


def guide_pipeline():
    """The same pipeline on the image the guide names, XGBoost 1.0-1, whose model is a
    pickled Booster that the evaluation script unpickles."""
    return pipeline(xgboost_version="1.0-1", name="abalone-guide")
