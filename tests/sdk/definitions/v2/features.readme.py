import json
from sagemaker.workflow.callback_step import CallbackStep, CallbackOutput, CallbackOutputTypeEnum
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionEquals
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join
from sagemaker.workflow.lambda_step import LambdaStep, LambdaOutput, LambdaOutputTypeEnum
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.lambda_helper import Lambda

cluster_id = ParameterString("ClusterId", default_value="j-XXXXXXXXXXXXX")
preflight = LambdaStep(
    name="CheckCluster",
    lambda_func=Lambda(function_arn=LAMBDA_STEP_FUNCTION_ARN),    # stack output
    inputs={"function": "emr-preflight", "cluster_id": cluster_id},
    outputs=[LambdaOutput("Ready", LambdaOutputTypeEnum.Boolean),
             LambdaOutput("Reason", LambdaOutputTypeEnum.String),
             LambdaOutput("ClusterState", LambdaOutputTypeEnum.String),
             LambdaOutput("PendingSteps", LambdaOutputTypeEnum.Integer)],
)
# A step's outputs are read through its properties (a LambdaOutput is only their declaration).
ready = preflight.properties.Outputs["Ready"]
reason = preflight.properties.Outputs["Reason"]
features = CallbackStep(
    name="BuildFeatures",
    sqs_queue_url=CALLBACK_QUEUE_URL,                              # stack output
    inputs={"task": "emr", "cluster_id": cluster_id, "step_name": "build features",
            "args": json.dumps(["spark-submit", "s3://my-bucket/jobs/features.py"])},
    outputs=[CallbackOutput("StepId", CallbackOutputTypeEnum.String),
             CallbackOutput("LogUri", CallbackOutputTypeEnum.String)],
)
not_ready = FailStep(
    name="ClusterNotReady",
    error_message=Join(on=" ", values=["EMR cluster", cluster_id, "cannot take the step:", reason]),
)
gate = ConditionStep(
    name="ClusterReady",
    conditions=[ConditionEquals(left=ready, right=True)],
    if_steps=[features],
    else_steps=[not_ready],
)
pipeline = Pipeline(name="features", parameters=[cluster_id], steps=[preflight, gate])
pipeline.upsert(role_arn=PIPELINE_EXECUTION_ROLE_ARN)               # one of PipelineExecutionRoleArns
