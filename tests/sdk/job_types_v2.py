"""SageMaker job step types beyond the abalone pipeline, written with SDK 2.x: Tuning,
AutoML, QualityCheck and ClarifyCheck, with a Lambda step reading a property of each
(the best training job of the tuning, the check's calculated baseline).

Data and outputs are S3 URIs, so that writing the definition calls no service.
"""

from sagemaker import image_uris
from sagemaker.automl.automl import AutoML, AutoMLInput
from sagemaker.clarify import BiasConfig, DataConfig
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.lambda_helper import Lambda
from sagemaker.model_monitor.dataset_format import DatasetFormat
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner
from sagemaker.workflow.automl_step import AutoMLStep
from sagemaker.workflow.check_job_config import CheckJobConfig
from sagemaker.workflow.clarify_check_step import ClarifyCheckStep, DataBiasCheckConfig
from sagemaker.workflow.functions import Join
from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep
from sagemaker.workflow.steps import TuningStep

ROLE = "arn:aws:iam::123456789012:role/pipeline"
BUCKET = "jobs-local"
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:LambdaStepFunction"


def pipeline():
    session = PipelineSession(default_bucket=BUCKET)
    image_uri = image_uris.retrieve(framework="xgboost", region="us-east-1", version="1.7-1")
    estimator = Estimator(
        image_uri=image_uri,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        output_path=f"s3://{BUCKET}/tuning",
        role=ROLE,
        sagemaker_session=session,
    )
    tuner = HyperparameterTuner(
        estimator=estimator,
        objective_metric_name="validation:rmse",
        objective_type="Minimize",
        hyperparameter_ranges={"eta": ContinuousParameter(0.1, 0.5)},
        metric_definitions=[{"Name": "validation:rmse", "Regex": "rmse: ([0-9.]+)"}],
        max_jobs=2,
        max_parallel_jobs=1,
    )
    tuning = TuningStep(
        name="Tune",
        step_args=tuner.fit(inputs={"train": TrainingInput(s3_data=f"s3://{BUCKET}/train", content_type="text/csv")}),
    )
    automl = AutoMLStep(
        name="AutoPilot",
        step_args=AutoML(
            role=ROLE,
            target_attribute_name="rings",
            output_path=f"s3://{BUCKET}/automl",
            mode="ENSEMBLING",
            sagemaker_session=session,
        ).fit(inputs=AutoMLInput(inputs=f"s3://{BUCKET}/automl/train.csv", target_attribute_name="rings")),
    )
    check_job = CheckJobConfig(role=ROLE, instance_count=1, instance_type="ml.m5.xlarge", sagemaker_session=session)
    quality = QualityCheckStep(
        name="DataQuality",
        quality_check_config=DataQualityCheckConfig(
            baseline_dataset=f"s3://{BUCKET}/baseline.csv",
            dataset_format=DatasetFormat.csv(header=False),
            output_s3_uri=f"s3://{BUCKET}/quality",
        ),
        check_job_config=check_job,
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name="JobsGroup",
    )
    bias = ClarifyCheckStep(
        name="DataBias",
        clarify_check_config=DataBiasCheckConfig(
            data_config=DataConfig(
                s3_data_input_path=f"s3://{BUCKET}/baseline.csv",
                s3_output_path=f"s3://{BUCKET}/bias",
                label=0,
                dataset_type="text/csv",
            ),
            data_bias_config=BiasConfig(label_values_or_threshold=[1], facet_name=1),
        ),
        check_job_config=check_job,
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name="JobsGroup",
    )
    read = LambdaStep(
        name="ReadJobs",
        lambda_func=Lambda(function_arn=LAMBDA_ARN),
        inputs={
            "function": "flatten-json",
            "json": Join(
                on="",
                values=[
                    '{"best": "',
                    tuning.properties.BestTrainingJob.TrainingJobName,
                    '", "top_model": "',
                    tuning.get_top_model_s3_uri(top_k=0, s3_bucket=BUCKET, prefix="tuning"),
                    '", "automl": "',
                    automl.properties.AutoMLJobStatus,
                    '", "statistics": "',
                    quality.properties.CalculatedBaselineStatistics,
                    '", "constraints": "',
                    bias.properties.CalculatedBaselineConstraints,
                    '"}',
                ],
            ),
        },
        outputs=[
            LambdaOutput(output_name=name, output_type=LambdaOutputTypeEnum.String)
            for name in ["best", "top_model", "automl", "statistics", "constraints"]
        ],
    )
    return Pipeline(name="job-types", steps=[tuning, automl, quality, bias, read], sagemaker_session=session)
