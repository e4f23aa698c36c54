"""Writes pipeline definitions with the real SageMaker Python SDK, 2.x
(`sagemaker.workflow`) or 3.x (`sagemaker.mlops.workflow`), whichever this Python has.

    python tests/sdk/generate.py OUT_DIR

Run by scripts/sdk-definitions in a venv per major; the files it writes are committed
(tests/sdk/definitions/v2, v3) and the integration tests run each on the emulator.
No AWS call is made: `Pipeline.definition()` only serialises.
"""

import inspect
import json
import os
import sys

try:  # 3.x
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.emr_step import EMRStep, EMRStepConfig
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.core.workflow.conditions import (
        ConditionEquals,
        ConditionGreaterThan,
        ConditionGreaterThanOrEqualTo,
        ConditionIn,
        ConditionLessThan,
        ConditionLessThanOrEqualTo,
        ConditionNot,
        ConditionOr,
    )
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import (
        ParameterBoolean,
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )
    from sagemaker.mlops.workflow.pipeline_experiment_config import (
        PipelineExperimentConfigProperties,
    )
    from sagemaker.mlops.workflow.retry import StepRetryPolicy, StepExceptionTypeEnum
    from sagemaker.mlops.workflow.steps import CacheConfig
    from sagemaker.core.lambda_helper import Lambda

    MAJOR = 3
except ImportError:  # 2.x
    from sagemaker.lambda_helper import Lambda
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import (
        ConditionEquals,
        ConditionGreaterThan,
        ConditionGreaterThanOrEqualTo,
        ConditionIn,
        ConditionLessThan,
        ConditionLessThanOrEqualTo,
        ConditionNot,
        ConditionOr,
    )
    from sagemaker.workflow.emr_step import EMRStep, EMRStepConfig
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.workflow.parameters import (
        ParameterBoolean,
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_experiment_config import PipelineExperimentConfigProperties
    from sagemaker.workflow.retry import StepExceptionTypeEnum, StepRetryPolicy
    from sagemaker.workflow.steps import CacheConfig

    MAJOR = 2

# The template's resources, by the names the emulator matches (infra/template.yaml).
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:LambdaStepFunction"
CLUSTER_ID = "j-LOCALCLUSTER1"


def flatten(name, document_values, outputs, **kwargs):
    """A Lambda step running `flatten-json` on a JSON document built with Join: its
    outputs show the values the pipeline resolved."""
    return LambdaStep(
        name=name,
        lambda_func=Lambda(function_arn=LAMBDA_ARN),
        inputs={"function": "flatten-json", "json": Join(on="", values=document_values)},
        outputs=[LambdaOutput(output_name=o, output_type=t) for o, t in outputs],
        **kwargs,
    )


def json_of(**fields):
    """Join values for a flat JSON object of string fields."""
    values = ["{"]
    for i, (key, value) in enumerate(fields.items()):
        values += [("," if i else "") + f'"{key}":"', value, '"']
    return values + ["}"]


def conditions():
    """Every condition type, Not and Or included, on parameters: the If branch runs when
    all hold. `Mode` defaults to a value that makes them all hold."""
    mode = ParameterString(name="Mode", default_value="fast")
    threshold = ParameterFloat(name="Threshold", default_value=0.5)
    count = ParameterInteger(name="Count", default_value=3)
    enabled = ParameterBoolean(name="Enabled", default_value=True)
    checks = [
        ConditionEquals(left=enabled, right=True),
        ConditionGreaterThan(left=threshold, right=0.4),
        ConditionGreaterThanOrEqualTo(left=count, right=3),
        ConditionLessThan(left=count, right=4),
        ConditionLessThanOrEqualTo(left=threshold, right=0.5),
        ConditionIn(value=mode, in_values=["fast", "thorough"]),
        ConditionNot(expression=ConditionEquals(left=mode, right="off")),
        ConditionOr(conditions=[ConditionEquals(left=count, right=0), ConditionEquals(left=mode, right="fast")]),
    ]
    passed = flatten("AllHold", json_of(mode=mode), [("mode", LambdaOutputTypeEnum.String)])
    failed = FailStep(name="SomeFailed", error_message=Join(on=" ", values=["a condition failed for mode", mode]))
    gate = ConditionStep(name="Gate", conditions=checks, if_steps=[passed], else_steps=[failed])
    return Pipeline(name="conditions", parameters=[mode, threshold, count, enabled], steps=[gate])


def branch_chain():
    """Steps of one branch that read each other, and a later step that reads the
    Condition step's Outcome."""
    first = flatten("First", json_of(value="one"), [("value", LambdaOutputTypeEnum.String)])
    second = flatten(
        "Second",
        json_of(value=Join(on="-", values=[first.properties.Outputs["value"], "two"])),
        [("value", LambdaOutputTypeEnum.String)],
    )
    gate = ConditionStep(
        name="Gate",
        conditions=[ConditionEquals(left=1, right=1)],
        if_steps=[first, second],
        else_steps=[],
    )
    after = flatten("After", json_of(outcome=gate.properties.Outcome), [("outcome", LambdaOutputTypeEnum.String)])
    return Pipeline(name="branch-chain", steps=[gate, after])


def nested_condition():
    """A Condition step in a branch of another: SageMaker refuses it."""
    inner = ConditionStep(
        name="Inner",
        conditions=[ConditionEquals(left=1, right=1)],
        if_steps=[FailStep(name="InnerFail", error_message="inner")],
        else_steps=[],
    )
    outer = ConditionStep(name="Outer", conditions=[ConditionEquals(left=1, right=1)], if_steps=[inner], else_steps=[])
    return Pipeline(name="nested-condition", steps=[outer])


def properties():
    """EMR step properties, PipelineExperimentConfig and every execution variable read by
    a later step; the EMR step retries on throttling and is cached."""
    retry = {}
    # 2.x's EMRStep takes retry policies; 3.x's does not.
    if "retry_policies" in inspect.signature(EMRStep.__init__).parameters:
        retry["retry_policies"] = [
            StepRetryPolicy(
                exception_types=[StepExceptionTypeEnum.THROTTLING, StepExceptionTypeEnum.SERVICE_FAULT],
                interval_seconds=1,
                backoff_rate=1.0,
                max_attempts=3,
            )
        ]
    emr = EMRStep(
        name="Prepare",
        display_name="Prepare the data",
        description="runs a command on the standing cluster",
        cluster_id=CLUSTER_ID,
        step_config=EMRStepConfig(jar="command-runner.jar", args=["true"]),
        cache_config=CacheConfig(enable_caching=True, expire_after="PT1H"),
        **retry,
    )
    read = flatten(
        "Read",
        json_of(
            state=emr.properties.Status.State,
            step_id=emr.properties.Id,
            experiment=PipelineExperimentConfigProperties.EXPERIMENT_NAME,
            trial=PipelineExperimentConfigProperties.TRIAL_NAME,
            execution_id=ExecutionVariables.PIPELINE_EXECUTION_ID,
            execution_arn=ExecutionVariables.PIPELINE_EXECUTION_ARN,
            pipeline_name=ExecutionVariables.PIPELINE_NAME,
            pipeline_arn=ExecutionVariables.PIPELINE_ARN,
            start=ExecutionVariables.START_DATETIME,
            now=ExecutionVariables.CURRENT_DATETIME,
        ),
        [
            (name, LambdaOutputTypeEnum.String)
            for name in [
                "state",
                "step_id",
                "experiment",
                "trial",
                "execution_id",
                "execution_arn",
                "pipeline_name",
                "pipeline_arn",
                "start",
                "now",
            ]
        ],
        display_name="Read the properties",
    )
    return Pipeline(name="properties", steps=[emr, read])


def enum_parameter():
    env = ParameterString(name="Env", default_value="dev", enum_values=["dev", "prod"])
    step = flatten("Deploy", json_of(env=env), [("env", LambdaOutputTypeEnum.String)])
    return Pipeline(name="enum-parameter", parameters=[env], steps=[step])


def json_get_s3():
    """A condition on a value read from a JSON document in S3 (Std:JsonGet with S3Uri)."""
    prefix = ParameterString(name="MetricsPrefix", default_value="run-1")
    auc = JsonGet(
        s3_uri=Join(on="/", values=["s3://local-metrics", prefix, "metrics.json"]),
        json_path="metrics.auc.value",
    )
    good = flatten("Promote", json_of(auc=auc), [("auc", LambdaOutputTypeEnum.Float)])
    bad = FailStep(name="TooLow", error_message=Join(on=" ", values=["auc too low:", auc]))
    gate = ConditionStep(
        name="AucHighEnough",
        conditions=[ConditionGreaterThanOrEqualTo(left=auc, right=0.8)],
        if_steps=[good],
        else_steps=[bad],
    )
    return Pipeline(name="json-get-s3", parameters=[prefix], steps=[gate])


PIPELINES = [conditions, branch_chain, nested_condition, properties, enum_parameter, json_get_s3]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    pipelines = list(PIPELINES)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if MAJOR == 2:
        import abalone_script_v2
        import abalone_v2
        import job_names_v2
        import job_types_v2
        import ported_v2
        import readme_v2
        import sklearn_serving_v2
        import view_v2

        pipelines += [abalone_v2.pipeline, abalone_v2.guide_pipeline, abalone_script_v2.pipeline, job_types_v2.pipeline, readme_v2.pipeline]
        pipelines += [sklearn_serving_v2.pipeline, sklearn_serving_v2.repack_pipeline]
        pipelines += ported_v2.PIPELINES
        pipelines += job_names_v2.PIPELINES
        pipelines += [view_v2.pipeline]
        with open(os.path.join(out, "features.readme.py"), "w") as f:
            f.write(readme_v2.source())
    else:
        import job_types_v3
        import newest_v3

        pipelines += [job_types_v3.pipeline, job_types_v3.mlflow_pipeline]
        pipelines += newest_v3.PIPELINES
    for make in pipelines:
        pipeline = make()
        definition = json.loads(pipeline.definition())
        path = os.path.join(out, f"{pipeline.name}.json")
        with open(path, "w") as f:
            json.dump(definition, f, indent=2, sort_keys=True)
            f.write("\n")
        print(f"sagemaker {MAJOR}.x wrote {path}")
        keep_uploads(definition, os.path.join(out, f"{pipeline.name}.files"))


def keep_uploads(definition, folder):
    """Saves the code archives the SDK uploaded while it wrote the definition (a repack
    step's, say) under FOLDER/<bucket>/<key>, for the tests to put in local S3."""
    import boto3
    import botocore

    import shutil

    shutil.rmtree(folder, ignore_errors=True)  # a new run uploads under new keys
    s3 = boto3.client("s3")
    for step in all_steps(definition["Steps"]):
        archive = step.get("Arguments", {}).get("HyperParameters", {}).get("sagemaker_submit_directory")
        if not isinstance(archive, str):
            continue
        bucket, _, key = json.loads(archive).removeprefix("s3://").partition("/")
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except botocore.exceptions.ClientError:
            continue  # not the SDK's: the test puts its own there
        path = os.path.join(folder, bucket, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(body)
        print(f"  kept {path}")


def all_steps(steps):
    for step in steps:
        yield step
        arguments = step.get("Arguments", {})
        for branch in ("IfSteps", "ElseSteps"):
            yield from all_steps(arguments.get(branch, []))


if __name__ == "__main__":
    main()
