"""A scikit-learn model trained in script mode and served by a batch transform with its
own inference script, written with SageMaker Python SDK 2.x: an SKLearn estimator
(entry_point train.py from a source_dir archive), a ModelStep creating an SKLearnModel
whose inference.py comes from a source_dir archive in S3 (so no repack step), and a
TransformStep that splits CSV by line, drops the id column with an InputFilter and
joins each prediction to its input row.

The code and data are S3 URIs, so writing the definition calls no service; the test puts
them at those URIs in the emulator's local S3.

`repack_pipeline` is the same with a generic Model whose source_dir is a local folder: the SDK then adds a
repack step before the model (a script-mode SKLearn training job running its own
`_repack_model.py`, uploaded with the script while the definition is written), whose
model.tar.gz is the trained model with `code/inference.py` inside; the model serves from
that `code/`. The generator keeps what the SDK uploaded beside the definition.
"""

import os
import shutil
import tempfile

from sagemaker import image_uris
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.sklearn.model import SKLearnModel
from sagemaker.transformer import Transformer
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.steps import TrainingStep, TransformStep

ROLE = "arn:aws:iam::123456789012:role/pipeline"
BUCKET = "abalone-local"


SERVING = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "code", "serving")


def pipeline():
    return serving_pipeline("sklearn-serving", source_dir=f"s3://{BUCKET}/code/serving/sourcedir.tar.gz")


def repack_pipeline():
    # The SDK writes its repack script into a local source_dir: a copy, not the tree's.
    source_dir = os.path.join(tempfile.mkdtemp(), "serving")
    shutil.copytree(SERVING, source_dir)
    return serving_pipeline("sklearn-repack", source_dir=source_dir)


def serving_pipeline(name, source_dir):
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
    if source_dir.startswith("s3://"):
        model = SKLearnModel(
            model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
            entry_point="inference.py",
            source_dir=source_dir,
            framework_version="1.2-1",
            role=ROLE,
            sagemaker_session=session,
        )
    else:
        # A generic Model on the scikit-learn image, as AWS's examples write one.
        model = Model(
            image_uri=image_uris.retrieve("sklearn", "us-east-1", version="1.2-1"),
            model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
            entry_point="inference.py",
            source_dir=source_dir,
            role=ROLE,
            sagemaker_session=session,
        )
    create = ModelStep(name="ServingModel", step_args=model.create(instance_type="ml.m5.xlarge"))
    transformer = Transformer(
        model_name=create.properties.ModelName,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        output_path=f"s3://{BUCKET}/{name.removeprefix('sklearn-')}/scored",
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
    return Pipeline(name=name, steps=[train, create, score], sagemaker_session=session)
