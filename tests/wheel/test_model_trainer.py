"""SDK 3.x script mode as its author tests it, with `--pipelines-emulator-run-code`: a
ScriptProcessor's `code` splitting data the test put in local S3, then a ModelTrainer with
a SourceCode (the source folder and the SDK's own container drivers
uploaded to the emulator's S3 as the `code` and `sm_drivers` channels when it writes the
pipeline), its `sm_train.sh` run as the training container runs it, in this interpreter,
and a Condition that reads the FinalMetricDataList scraped from what train.py printed.
scripts/wheel-check runs it with SDK 3.x, with only loopback up."""

import os

import pytest

pytest.importorskip("sagemaker.train")  # the 3.x ModelTrainer
from sagemaker.core.processing import ScriptProcessor  # noqa: E402
from sagemaker.core.shapes import MetricDefinition, ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output  # noqa: E402
from sagemaker.core.workflow.conditions import ConditionLessThanOrEqualTo  # noqa: E402
from sagemaker.core.workflow.parameters import ParameterFloat  # noqa: E402
from sagemaker.mlops.workflow.condition_step import ConditionStep  # noqa: E402
from sagemaker.mlops.workflow.fail_step import FailStep  # noqa: E402
from sagemaker.mlops.workflow.pipeline import Pipeline  # noqa: E402
from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep  # noqa: E402
from sagemaker.train import ModelTrainer  # noqa: E402
from sagemaker.core.training.configs import Compute, InputData, SourceCode  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "script_mode")
# Any image: the emulator runs the container's entrypoint in this interpreter.
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def run(pipelines_emulator, threshold):
    session = pipelines_emulator.pipeline_session()
    role, bucket = pipelines_emulator.role_arn, pipelines_emulator.default_bucket
    s3 = pipelines_emulator.boto3_session().client("s3")
    session.default_bucket()
    s3.put_object(Bucket=bucket, Key="trainer/data/rows.csv", Body="".join(f"{i},{i % 5}\n" for i in range(80)))
    processor = ScriptProcessor(
        image_uri=IMAGE, command=["python3"], role=role, instance_type="ml.m5.large", instance_count=1, sagemaker_session=session
    )
    prepare = ProcessingStep(
        name="Prepare",
        step_args=processor.run(
            code=os.path.join(HERE, "preprocess.py"),
            inputs=[
                ProcessingInput(
                    input_name="rows",
                    s3_input=ProcessingS3Input(s3_uri=f"s3://{bucket}/trainer/data", local_path="/opt/ml/processing/input", s3_data_type="S3Prefix"),
                )
            ],
            outputs=[
                ProcessingOutput(
                    output_name="train",
                    s3_output=ProcessingS3Output(s3_uri=f"s3://{bucket}/trainer/prepared", local_path="/opt/ml/processing/train", s3_upload_mode="EndOfJob"),
                )
            ],
        ),
    )
    prepared = prepare.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri
    trainer = ModelTrainer(
        training_image=IMAGE,
        source_code=SourceCode(source_dir=HERE, entry_script="train.py"),
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        hyperparameters={"shift": 0.5},
        role=role,
        sagemaker_session=session,
        base_job_name="trainer",
    ).with_metric_definitions([MetricDefinition(name="train:mse", regex="train mse: ([0-9.]+)")])
    train = TrainingStep(
        name="Train",
        step_args=trainer.train(input_data_config=[InputData(channel_name="train", data_source=prepared)]),
    )
    limit = ParameterFloat(name="MaxMse", default_value=threshold)
    gate = ConditionStep(
        name="Fits",
        conditions=[ConditionLessThanOrEqualTo(left=train.properties.FinalMetricDataList["train:mse"].Value, right=limit)],
        if_steps=[],
        else_steps=[FailStep(name="TooFar", error_message="the training error is over the threshold")],
    )
    pipeline = Pipeline(name=f"model-trainer-{int(threshold)}", parameters=[limit], steps=[prepare, train, gate], sagemaker_session=session)
    pipeline.upsert(role_arn=role)
    execution = pipeline.start()
    try:
        execution.wait(delay=1, max_attempts=300)
    except Exception:  # the SDK's waiter raises on a Failed execution
        pass
    return session, s3, bucket, {s["StepName"]: s for s in execution.list_steps()}


def test_the_trainers_script_runs_and_the_condition_reads_its_metric(pipelines_emulator):
    session, s3, bucket, steps = run(pipelines_emulator, 10.0)
    assert {name: s["StepStatus"] for name, s in steps.items()} == {"Prepare": "Succeeded", "Train": "Succeeded", "Fits": "Succeeded"}, steps
    job = steps["Train"]["Metadata"]["TrainingJob"]["Arn"].split("/")[-1]
    described = session.sagemaker_client.describe_training_job(TrainingJobName=job)
    # The even rows' targets, 0, 2, 4, 1, 3 evenly, their mean shifted by 0.5: an MSE of 2.25.
    assert described["FinalMetricDataList"][0]["Value"] == 2.25
    model = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert s3.head_object(Bucket=bucket, Key=model.split(f"s3://{bucket}/", 1)[1])


def test_over_the_threshold_the_computed_metric_takes_the_fail_branch(pipelines_emulator):
    _, _, _, steps = run(pipelines_emulator, 1.0)
    assert steps["Train"]["StepStatus"] == "Succeeded"
    assert steps["TooFar"]["StepStatus"] == "Failed"
