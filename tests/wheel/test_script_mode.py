"""A script-mode pipeline as its author tests it, with `--pipelines-emulator-run-code`: the
SDK uploads the local scripts (a processor's `code`, an estimator's `source_dir`) to the
emulator's S3 when it writes the pipeline, the scripts run for real on the data the test
put there, and the Condition reads the training job's FinalMetricDataList, scraped from
what train.py printed. scripts/wheel-check runs it with SDK 2.x, with only loopback up."""

import os

import pytest

pytest.importorskip("sagemaker.sklearn")  # the 2.x framework classes
from sagemaker.inputs import TrainingInput  # noqa: E402
from sagemaker.processing import ProcessingInput, ProcessingOutput  # noqa: E402
from sagemaker.sklearn.estimator import SKLearn  # noqa: E402
from sagemaker.sklearn.processing import SKLearnProcessor  # noqa: E402
from sagemaker.workflow.condition_step import ConditionStep  # noqa: E402
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo  # noqa: E402
from sagemaker.workflow.fail_step import FailStep  # noqa: E402
from sagemaker.workflow.parameters import ParameterFloat  # noqa: E402
from sagemaker.workflow.pipeline import Pipeline  # noqa: E402
from sagemaker.workflow.steps import ProcessingStep, TrainingStep  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "script_mode")


def test_the_scripts_run_and_the_condition_reads_the_scraped_metric(pipelines_emulator):
    session = pipelines_emulator.pipeline_session()
    role, bucket = pipelines_emulator.role_arn, pipelines_emulator.default_bucket
    s3 = pipelines_emulator.boto3_session().client("s3")
    session.default_bucket()  # made by the SDK on first use, as on AWS
    s3.put_object(Bucket=bucket, Key="data/rows.csv", Body="".join(f"{i},{i % 5}\n" for i in range(40)))
    threshold = ParameterFloat(name="MaxMse", default_value=10.0)
    processor = SKLearnProcessor(framework_version="1.2-1", role=role, instance_type="ml.m5.large", instance_count=1, sagemaker_session=session)
    prepare = ProcessingStep(
        name="Prepare",
        step_args=processor.run(
            code=os.path.join(HERE, "preprocess.py"),
            inputs=[ProcessingInput(source=f"s3://{bucket}/data", destination="/opt/ml/processing/input")],
            outputs=[ProcessingOutput(output_name="train", source="/opt/ml/processing/train")],
        ),
    )
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=HERE,
        framework_version="1.2-1",
        py_version="py3",
        role=role,
        instance_type="ml.m5.large",
        hyperparameters={"shift": 0.5},
        metric_definitions=[{"Name": "train:mse", "Regex": "train mse: ([0-9.]+)"}],
        sagemaker_session=session,
    )
    train = TrainingStep(
        name="Train",
        step_args=estimator.fit(
            inputs={"train": TrainingInput(s3_data=prepare.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri)}
        ),
    )
    mse = train.properties.FinalMetricDataList["train:mse"].Value
    gate = ConditionStep(
        name="Fits",
        conditions=[ConditionLessThanOrEqualTo(left=mse, right=threshold)],
        if_steps=[],
        else_steps=[FailStep(name="TooFar", error_message="the training error is over the threshold")],
    )
    pipeline = Pipeline(name="script-mode", parameters=[threshold], steps=[prepare, train, gate], sagemaker_session=session)
    pipeline.upsert(role_arn=role)

    execution = pipeline.start()
    execution.wait(delay=1, max_attempts=300)
    steps = {s["StepName"]: s["StepStatus"] for s in execution.list_steps()}
    assert steps == {"Prepare": "Succeeded", "Train": "Succeeded", "Fits": "Succeeded"}, steps
    trained = next(s for s in execution.list_steps() if s["StepName"] == "Train")
    job = trained["Metadata"]["TrainingJob"]["Arn"].split("/")[-1]
    described = session.sagemaker_client.describe_training_job(TrainingJobName=job)
    # Targets 0..4 evenly, their mean shifted by 0.5: an MSE of 2.25.
    assert described["FinalMetricDataList"][0]["Value"] == 2.25
    model = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert s3.head_object(Bucket=bucket, Key=model.split(f"s3://{bucket}/", 1)[1])

    strict = pipeline.start(parameters={"MaxMse": 1.0})
    try:
        strict.wait(delay=1, max_attempts=300)
    except Exception:  # the SDK's waiter raises on a Failed execution
        pass
    # The execution answers in SageMaker's words; the Fail step carries the message.
    assert strict.describe()["FailureReason"] == "Step failure: One or multiple steps failed."
    failed = [s for s in strict.list_steps() if s["StepStatus"] == "Failed"]
    assert [s.get("FailureReason") for s in failed] == ["the training error is over the threshold"], failed
