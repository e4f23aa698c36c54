"""A pipeline of `@step` functions whose code runs for real on the emulator: the SDK
writes the pipeline against it (its pickled functions and arguments land in local S3), each
function runs through the SDK's own remote-function runtime in this interpreter, a Condition
branches on what a function returned, `execution.result()` reads it back, and a function
that raises fails its step with the exception. scripts/wheel-check runs it with
`--pipelines-emulator-run-code`, with only loopback up."""

try:  # 3.x
    from sagemaker.core.workflow.conditions import ConditionGreaterThan
    from sagemaker.core.workflow.parameters import ParameterInteger
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.function_step import step
    from sagemaker.mlops.workflow.pipeline import Pipeline

    MAJOR = 3
except ImportError:  # 2.x
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThan
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.function_step import step
    from sagemaker.workflow.parameters import ParameterInteger
    from sagemaker.workflow.pipeline import Pipeline

    MAJOR = 2

# Any image: the emulator runs the function in this interpreter, not in a container.
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/functions:latest"


def wait(execution):
    try:
        execution.wait(delay=1, max_attempts=300)
    except Exception:  # the SDK's waiter raises on a Failed execution
        pass
    return {s["StepName"]: s for s in execution.list_steps()}


def test_a_condition_branches_on_what_a_function_returned(pipelines_emulator):
    session = pipelines_emulator.pipeline_session()
    role = pipelines_emulator.role_arn
    shift = ParameterInteger(name="Shift", default_value=30)

    @step(name="Score", instance_type="ml.m5.large", image_uri=IMAGE, role=role)
    def score(shift):
        return {"auc": 0.5 + shift / 100}

    @step(name="Double", instance_type="ml.m5.large", image_uri=IMAGE, role=role)
    def double(scored):
        return scored["auc"] * 2

    doubled = double(score(shift))
    gate = ConditionStep(
        name="GoodEnough",
        conditions=[ConditionGreaterThan(left=doubled, right=1.0)],
        if_steps=[],
        else_steps=[FailStep(name="TooLow", error_message="the doubled score is too low")],
    )
    pipeline = Pipeline(name=f"functions-v{MAJOR}", parameters=[shift], steps=[doubled, gate], sagemaker_session=session)
    pipeline.upsert(role_arn=role)

    execution = pipeline.start()
    steps = wait(execution)
    assert {name: s["StepStatus"] for name, s in steps.items()} == {
        "Score": "Succeeded",
        "Double": "Succeeded",
        "GoodEnough": "Succeeded",
    }, steps
    assert execution.result(step_name="Double") == 1.6
    assert execution.result(step_name="Score") == {"auc": 0.8}

    low = pipeline.start(parameters={"Shift": -30})
    steps = wait(low)
    assert low.describe()["PipelineExecutionStatus"] == "Failed"
    assert "TooLow" in steps, steps
    assert low.result(step_name="Double") == 0.4


def test_a_function_that_raises_fails_its_step_with_the_exception(pipelines_emulator):
    session = pipelines_emulator.pipeline_session()
    role = pipelines_emulator.role_arn

    @step(name="Load", instance_type="ml.m5.large", image_uri=IMAGE, role=role)
    def load():
        raise ValueError("no rows to train on")

    pipeline = Pipeline(name=f"raises-v{MAJOR}", steps=[load()], sagemaker_session=session)
    pipeline.upsert(role_arn=role)
    execution = pipeline.start()
    steps = wait(execution)
    assert steps["Load"]["StepStatus"] == "Failed"
    assert "no rows to train on" in steps["Load"]["FailureReason"], steps["Load"]["FailureReason"]
