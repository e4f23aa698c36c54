"""SDK 3.x's newest constructs: ForEach fan-out (a literal list, and a parameter holding
a JSON list of objects with a selector), and a Cleanup step deleting what a Processing
step and a Training step wrote.

ForEach: `Fan` runs its body LambdaStep `Echo` once per item, two at a time; the Fail
step after it reports the counts SageMaker gives. `Rank` runs `Score` per JSON-object item,
the selector picks the highest score, and `Best` reads the selected iteration's output and
the first iteration's.
"""

from sagemaker.core.lambda_helper import Lambda
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.mlops.workflow.cleanup_step import CleanupStep, S3CleanupSource
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.for_each_step import (
    CurrentItem,
    ForEachSelector,
    ForEachStep,
    IterationOutput,
)
from sagemaker.mlops.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.mlops.workflow.pipeline import Pipeline

LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:LambdaStepFunction"


def flatten(name, json, outputs):
    return LambdaStep(
        name=name,
        lambda_func=Lambda(function_arn=LAMBDA_ARN),
        inputs={"function": "flatten-json", "json": json},
        outputs=[LambdaOutput(output_name=n, output_type=t) for n, t in outputs],
    )


def for_each_pipeline():
    echo = flatten(
        "Echo",
        Join(on="", values=['{"item": "', CurrentItem(), '"}']),
        [("item", LambdaOutputTypeEnum.String)],
    )
    fan = ForEachStep(name="Fan", iterable_items=["a", "b", "c"], max_concurrency=2, for_each_body=[echo])
    report = FailStep(
        name="Report",
        error_message=Join(
            on=" ",
            values=["items", fan.properties.InputItemCount, "succeeded", fan.properties.SucceededStepCount],
        ),
        depends_on=[fan],
    )
    return Pipeline(name="for-each", steps=[fan, report])


def for_each_select_pipeline():
    items = ParameterString(
        name="Items",
        default_value='[{"name": "a", "score": 3}, {"name": "b", "score": 9}, {"name": "c", "score": 5}]',
    )
    score = flatten(
        "Score",
        Join(on="", values=['{"name": "', CurrentItem().name, '", "score": ', CurrentItem()["score"], "}"]),
        [("name", LambdaOutputTypeEnum.String), ("score", LambdaOutputTypeEnum.Integer)],
    )
    rank = ForEachStep(
        name="Rank",
        iterable_items=items,
        max_concurrency=3,
        for_each_body=[score],
        selector=ForEachSelector(pick="MaxBy", field=IterationOutput(score).OutputParameters["score"]),
    )
    best = flatten(
        "Best",
        Join(
            on="",
            values=[
                '{"best": "',
                rank.properties.Selected.OutputParameters["name"],
                '", "first": "',
                rank.properties.IterationOutputs[0].Score.OutputParameters["name"],
                '", "count": ',
                rank.properties.InputItemCount,
                "}",
            ],
        ),
        [("best", LambdaOutputTypeEnum.String), ("first", LambdaOutputTypeEnum.String), ("count", LambdaOutputTypeEnum.Integer)],
    )
    return Pipeline(name="for-each-select", parameters=[items], steps=[rank, best])


def for_each_jobs_pipeline():
    """A job step in the body: EMR Serverless runs per item, two at a time."""
    from sagemaker.mlops.workflow.emr_serverless_step import EMRServerlessJobConfig, EMRServerlessStep

    run = EMRServerlessStep(
        name="Run",
        display_name="Run per item",
        description="a Spark job for the item",
        application_id="00fabc123def",
        job_config=EMRServerlessJobConfig(
            job_driver={"sparkSubmit": {"entryPoint": Join(on="", values=["s3://jobs-local/", CurrentItem(), ".py"])}},
            execution_role_arn="arn:aws:iam::123456789012:role/emr-serverless",
        ),
    )
    spark = ForEachStep(name="Spark", iterable_items=["x", "y", "z"], max_concurrency=2, for_each_body=[run])
    return Pipeline(name="for-each-jobs", steps=[spark])


def prep_processor(session):
    """A processor whose job runs /opt/ml/code/prep.py (on a mock in the tests)."""
    from sagemaker.core.processing import Processor

    return Processor(
        role="arn:aws:iam::123456789012:role/pipeline",
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/prep:1",
        instance_count=1,
        instance_type="ml.m5.large",
        entrypoint=["python3", "/opt/ml/code/prep.py"],
        sagemaker_session=session,
    )


def for_each_cached_pipeline():
    """A cached Processing step in the body, its output under the item's prefix."""
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep

    session = PipelineSession(default_bucket="jobs-local")
    processor = prep_processor(session)
    output = ProcessingOutput(
        output_name="part",
        s3_output=ProcessingS3Output(
            s3_uri=Join(on="/", values=["s3://jobs-local/parts", CurrentItem()]),
            local_path="/opt/ml/processing/part",
            s3_upload_mode="EndOfJob",
        ),
    )
    prep = ProcessingStep(
        name="PrepPart",
        step_args=processor.run(outputs=[output]),
        cache_config=CacheConfig(enable_caching=True, expire_after="P1D"),
    )
    parts = ForEachStep(name="Parts", iterable_items=["east", "west"], max_concurrency=2, for_each_body=[prep])
    return Pipeline(name="for-each-cached", steps=[parts], sagemaker_session=session)


def cleanup_pipeline():
    """A Processing step writes two objects under its output; the Cleanup step after it
    deletes the one its S3Uris name."""
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.steps import ProcessingStep

    session = PipelineSession(default_bucket="jobs-local")
    processor = prep_processor(session)
    scratch = ProcessingOutput(
        output_name="scratch",
        s3_output=ProcessingS3Output(
            s3_uri="s3://jobs-local/scratch", local_path="/opt/ml/processing/scratch", s3_upload_mode="EndOfJob"
        ),
    )
    prep = ProcessingStep(name="Prep", step_args=processor.run(outputs=[scratch]))
    location = prep.properties.ProcessingOutputConfig.Outputs["scratch"].S3Output.S3Uri
    clean = CleanupStep(
        name="Clean",
        s3_sources=[S3CleanupSource(step=prep, s3_uris=[Join(on="/", values=[location, "part-0.csv"])])],
    )
    return Pipeline(name="cleanup", steps=[prep, clean], sagemaker_session=session)


class AgentJob:
    """A CreateJob producer as the SDK's own declare themselves (`_pipeline_caller_name`),
    so that a JobStep composes its request: one job of the AgentRFT category."""

    _pipeline_caller_name = "create_job"

    def __init__(self, sagemaker_session):
        self.sagemaker_session = sagemaker_session

    def run(self):
        from sagemaker.core.workflow.pipeline_capture import capture_create_job_request
        from sagemaker.core.workflow.pipeline_context import runnable_by_pipeline

        @runnable_by_pipeline
        def create(producer):
            return capture_create_job_request(
                producer.sagemaker_session,
                job_name="agent-rft",
                role_arn="arn:aws:iam::123456789012:role/pipeline",
                job_category="AgentRFT",
                schema_version="1.0",
                job_config={"OutputDataConfig": {"S3OutputPath": "s3://jobs-local/agent"}, "Model": "base"},
            )

        return create(self)


def job_pipeline():
    """A Job step (CreateJob), and a Lambda step reading the job's status after it."""
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.steps import JobStep

    session = PipelineSession(default_bucket="jobs-local")
    job = JobStep(name="Agent", step_args=AgentJob(session).run())
    read = flatten(
        "ReadJob",
        Join(on="", values=['{"status": "', job.properties.JobStatus, '"}']),
        [("status", LambdaOutputTypeEnum.String)],
    )
    return Pipeline(name="job-step", steps=[job, read], sagemaker_session=session)


def lineage_pipeline():
    """A Lineage step records an action, an artifact and the association between them;
    a Lambda step reads the artifact's ARN."""
    from sagemaker.core.lineage.action import Action
    from sagemaker.core.lineage.artifact import Artifact
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.lineage_step import (
        LineageAssociation,
        LineageEntityReference,
        LineageStep,
    )

    session = PipelineSession(default_bucket="jobs-local")
    record = LineageStep(
        name="Record",
        actions=[
            Action.create(
                action_name="training-run",
                source_uri="s3://jobs-local/run",
                source_type="S3ETag",
                action_type="ModelTraining",
                sagemaker_session=session,
            )
        ],
        artifacts=[
            Artifact.create(
                artifact_name="trained-model",
                source_uri="s3://jobs-local/model.tar.gz",
                artifact_type="Model",
                sagemaker_session=session,
            )
        ],
        associations=[
            LineageAssociation(
                source=LineageEntityReference(name="training-run", type="Action"),
                destination=LineageEntityReference(name="trained-model", type="Artifact"),
                association_type="Produced",
            )
        ],
    )
    read = flatten(
        "ReadLineage",
        Join(on="", values=['{"artifact": "', record.properties.ArtifactArns["trained-model"], '"}']),
        [("artifact", LambdaOutputTypeEnum.String)],
    )
    return Pipeline(name="lineage", steps=[record, read], sagemaker_session=session)


def endpoint_pipeline():
    """An endpoint config, the endpoint, and an inference component on it."""
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.endpoint_step import EndpointConfigStep, EndpointStep
    from sagemaker.mlops.workflow.inference_component_step import InferenceComponentStep

    session = PipelineSession(default_bucket="jobs-local")
    config = EndpointConfigStep(
        name="Config",
        step_args=session.create_endpoint_config(
            name="abalone-config",
            production_variants=[
                {"VariantName": "AllTraffic", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
            ],
            role="arn:aws:iam::123456789012:role/pipeline",
        ),
    )
    endpoint = EndpointStep(
        name="Endpoint",
        step_args=session.create_endpoint(
            endpoint_name="abalone", config_name=config.properties.EndpointConfigName
        ),
    )
    component = InferenceComponentStep(
        name="Component",
        step_args=session.create_inference_component(
            inference_component_name="abalone-model",
            endpoint_name=endpoint.properties.EndpointName,
            variant_name="AllTraffic",
            specification={"ModelName": "abalone-model", "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}},
            runtime_config={"CopyCount": 1},
        ),
    )
    return Pipeline(name="endpoint", steps=[config, endpoint, component], sagemaker_session=session)


PIPELINES = [
    for_each_pipeline,
    for_each_select_pipeline,
    for_each_jobs_pipeline,
    for_each_cached_pipeline,
    cleanup_pipeline,
    job_pipeline,
    lineage_pipeline,
    endpoint_pipeline,
]
