"""Definitions that carry their jobs' names, written with SDK 2.x: a NotebookJobStep
(whose Training request keeps its TrainingJobName) and a pipeline with
`PipelineDefinitionConfig(use_custom_job_prefix=True)`, whose Processing step keeps the
processor's base job name. The job SageMaker runs, the ARN in the step's Metadata and
the Describe answer must all name the same job.
"""

import os

from sagemaker.processing import Processor
from sagemaker.workflow.notebook_job_step import NotebookJobStep
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig
from sagemaker.workflow.steps import ProcessingStep

ROLE = "arn:aws:iam::123456789012:role/pipeline"
BUCKET = "jobs-local"
NOTEBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notebooks", "report.ipynb")


def notebook_pipeline():
    session = PipelineSession(default_bucket=BUCKET)
    report = NotebookJobStep(
        name="Report",
        input_notebook=NOTEBOOK,
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/notebook:1",
        kernel_name="python3",
        role=ROLE,
        s3_root_uri=f"s3://{BUCKET}/notebooks",
    )
    return Pipeline(name="notebook-job", steps=[report], sagemaker_session=session)


def custom_prefix_pipeline():
    session = PipelineSession(default_bucket=BUCKET)
    processor = Processor(
        role=ROLE,
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/prep:1",
        instance_count=1,
        instance_type="ml.m5.large",
        entrypoint=["python3", "/opt/ml/code/prep.py"],
        base_job_name="nightly-prep",
        sagemaker_session=session,
    )
    prep = ProcessingStep(name="Prep", step_args=processor.run())
    return Pipeline(
        name="custom-prefix",
        steps=[prep],
        sagemaker_session=session,
        pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=True),
    )


PIPELINES = [notebook_pipeline, custom_prefix_pipeline]
