"""A scikit-learn model trained in script mode and served by a batch transform with its
own inference script, written with SageMaker Python SDK 2.x: an SKLearn estimator
(entry_point train.py from a source_dir archive), a ModelStep creating an SKLearnModel
whose inference.py comes from a source_dir archive in S3 (so no repack step), and a
TransformStep that splits CSV by line, drops the id column with an InputFilter and
joins each prediction to its input row.

The code and data are S3 URIs, so writing the definition calls no service; the test puts
them at those URIs in the emulator's local S3.
"""

from sagemaker.inputs import TrainingInput
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.sklearn.model import SKLearnModel
from sagemaker.transformer import Transformer
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.steps import TrainingStep, TransformStep

ROLE = "arn:aws:iam::123456789012:role/pipeline"
BUCKET = "abalone-local"


def pipeline():
    session = PipelineSession(default_bucket=BUCKET)
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=f"s3://{BUCKET}/code/abalone/sourcedir.tar.gz",
        framework_version="1.2-1",
        instance_type="ml.m5.xlarge",
        role=ROLE,
        sagemaker_session=session,
        output_path=f"s3://{BUCKET}/serving/model",
    )
    train = TrainingStep(
        name="Train",
        step_args=estimator.fit(inputs={"train": TrainingInput(s3_data=f"s3://{BUCKET}/serving/train", content_type="text/csv")}),
    )
    model = SKLearnModel(
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        entry_point="inference.py",
        source_dir=f"s3://{BUCKET}/code/serving/sourcedir.tar.gz",
        framework_version="1.2-1",
        role=ROLE,
        sagemaker_session=session,
    )
    create = ModelStep(name="ServingModel", step_args=model.create(instance_type="ml.m5.xlarge"))
    transformer = Transformer(
        model_name=create.properties.ModelName,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        output_path=f"s3://{BUCKET}/serving/scored",
        accept="text/csv",
        assemble_with="Line",
        sagemaker_session=session,
    )
    score = TransformStep(
        name="Score",
        step_args=transformer.transform(
            data=f"s3://{BUCKET}/serving/batch",
            content_type="text/csv",
            split_type="Line",
            input_filter="$[1:]",
            join_source="Input",
        ),
    )
    return Pipeline(name="sklearn-serving", steps=[train, create, score], sagemaker_session=session)
