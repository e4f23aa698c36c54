"""Pipelines other people wrote, rebuilt with SDK 2.x as their authors wrote them, with
data and outputs as S3 URIs so that writing the definition calls no service:

- `tuning-top-models`: AWS's example notebook "SageMaker Pipelines Tuning Step"
  (sagemaker-pipelines/tabular/tuning-step): a tuning job of several training jobs,
  then a model from the best (`get_top_model_s3_uri(top_k=0)`) and the second best
  (`top_k=1`), with step caching as AWS's guide writes its durations ("30d", "T12H").
- `autopilot-register`: the SDK's integration test of AutoMLStep
  (tests/integ/sagemaker/workflow/test_automl_steps.py): the best candidate as a model
  (`get_best_auto_ml_model`), registered.
- `model-bias-check`: AWS's example notebook "SageMaker Pipelines with Model Monitor and
  Clarify steps": a ClarifyCheck model-bias step that names the model a ModelStep
  created, beside its Arguments (`ModelName`), and a RegisterModel step that carries the
  check's baselines as drift-check baselines.
- `integ-lineage`: the SDK's integration test of LineageStep
  (tests/integ/sagemaker/workflow/test_lineage_step.py): an action, an artifact and a
  context, and two associations between them by name and type.
- `integ-deploy`: the SDK's integration test of the deployment steps
  (tests/integ/sagemaker/workflow/test_deployment_steps.py): EndpointConfig, Endpoint and
  InferenceComponent chained by the names the service gives what they create.
"""

from sagemaker import image_uris
from sagemaker.automl.automl import AutoML, AutoMLInput
from sagemaker.clarify import BiasConfig, DataConfig, ModelConfig, ModelPredictedLabelConfig
from sagemaker.drift_check_baselines import DriftCheckBaselines
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter
from sagemaker.workflow.automl_step import AutoMLStep
from sagemaker.workflow.check_job_config import CheckJobConfig
from sagemaker.workflow.clarify_check_step import ClarifyCheckStep, ModelBiasCheckConfig
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterBoolean, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.steps import CacheConfig, TrainingStep, TuningStep

ROLE = "arn:aws:iam::123456789012:role/pipeline"
BUCKET = "ported-local"


def _xgboost(session, output):
    return Estimator(
        image_uri=image_uris.retrieve(framework="xgboost", region="us-east-1", version="1.0-1"),
        instance_type="ml.m5.xlarge",
        instance_count=1,
        output_path=output,
        role=ROLE,
        sagemaker_session=session,
    )


def tuning_top_models():
    session = PipelineSession(default_bucket=BUCKET)
    estimator = _xgboost(session, f"s3://{BUCKET}/AbaloneTrain")
    estimator.set_hyperparameters(eval_metric="rmse", objective="reg:squarederror", num_round=50)
    tuner = HyperparameterTuner(
        estimator,
        "validation:rmse",
        {
            "alpha": ContinuousParameter(0.01, 10, scaling_type="Logarithmic"),
            "lambda": ContinuousParameter(0.01, 10, scaling_type="Logarithmic"),
            "max_depth": IntegerParameter(2, 10),
        },
        objective_type="Minimize",
        max_jobs=3,
        max_parallel_jobs=3,
    )
    cache = CacheConfig(enable_caching=True, expire_after="30d")
    step_tuning = TuningStep(
        name="HPTuning",
        step_args=tuner.fit(
            inputs={
                "train": TrainingInput(s3_data=f"s3://{BUCKET}/train", content_type="text/csv"),
                "validation": TrainingInput(s3_data=f"s3://{BUCKET}/validation", content_type="text/csv"),
            }
        ),
        cache_config=cache,
    )
    image = image_uris.retrieve(framework="xgboost", region="us-east-1", version="1.0-1")
    models = []
    for rank, name in [(0, "Best"), (1, "SecondBest")]:
        model = Model(
            image_uri=image,
            model_data=step_tuning.get_top_model_s3_uri(top_k=rank, s3_bucket=BUCKET, prefix="AbaloneTrain"),
            sagemaker_session=session,
            role=ROLE,
        )
        models.append(ModelStep(name=f"{name}Model", step_args=model.create(instance_type="ml.m5.large")))
    # A plain training step beside it, cached for twelve hours in the guide's short form.
    train = TrainingStep(
        name="Baseline",
        step_args=_xgboost(session, f"s3://{BUCKET}/baseline").fit(
            {"train": TrainingInput(s3_data=f"s3://{BUCKET}/train", content_type="text/csv")}
        ),
        cache_config=CacheConfig(enable_caching=True, expire_after="T12H"),
    )
    return Pipeline(name="tuning-top-models", steps=[step_tuning, *models, train], sagemaker_session=session)


def autopilot_register():
    session = PipelineSession(default_bucket=BUCKET)
    auto_ml = AutoML(
        role=ROLE,
        target_attribute_name="y",
        sagemaker_session=session,
        max_candidates=1,
        mode="ENSEMBLING",
        output_path=f"s3://{BUCKET}/autopilot",
    )
    step_automl = AutoMLStep(
        name="MyAutoMLStep",
        step_args=auto_ml.fit(
            inputs=[
                AutoMLInput(inputs=f"s3://{BUCKET}/autopilot/train.csv", target_attribute_name="y", channel_type="training"),
                AutoMLInput(inputs=f"s3://{BUCKET}/autopilot/validation.csv", target_attribute_name="y", channel_type="validation"),
            ]
        ),
    )
    best_model = step_automl.get_best_auto_ml_model(role=ROLE, sagemaker_session=session)
    step_create = ModelStep(name="CreateBestModel", step_args=best_model.create(instance_type="ml.c5.xlarge"))
    step_register = ModelStep(
        name="RegisterBestModel",
        step_args=best_model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.c5.xlarge"],
            transform_instances=["ml.c5.xlarge"],
            model_package_group_name="autopilot-models",
            approval_status="Approved",
        ),
    )
    return Pipeline(name="autopilot-register", steps=[step_automl, step_create, step_register], sagemaker_session=session)


def model_bias_check():
    session = PipelineSession(default_bucket=BUCKET)
    skip_check = ParameterBoolean(name="SkipModelBiasCheck", default_value=False)
    register_new = ParameterBoolean(name="RegisterNewModelBiasBaseline", default_value=False)
    supplied = ParameterString(name="ModelBiasSuppliedBaselineConstraints", default_value=f"s3://{BUCKET}/old/analysis.json")
    train = TrainingStep(
        name="TrainAbaloneModel",
        step_args=_xgboost(session, f"s3://{BUCKET}/train-out").fit(
            {"train": TrainingInput(s3_data=f"s3://{BUCKET}/train", content_type="text/csv")}
        ),
    )
    model = Model(
        image_uri=image_uris.retrieve(framework="xgboost", region="us-east-1", version="1.0-1"),
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        sagemaker_session=session,
        role=ROLE,
    )
    create = ModelStep(name="AbaloneCreateModel", step_args=model.create(instance_type="ml.m5.large"))
    check_job = CheckJobConfig(role=ROLE, instance_count=1, instance_type="ml.c5.xlarge", sagemaker_session=session)
    bias = ClarifyCheckStep(
        name="ModelBiasCheckStep",
        clarify_check_config=ModelBiasCheckConfig(
            data_config=DataConfig(
                s3_data_input_path=f"s3://{BUCKET}/train/train.csv",
                s3_output_path=f"s3://{BUCKET}/modelbiascheckstep",
                label=0,
                dataset_type="text/csv",
            ),
            data_bias_config=BiasConfig(label_values_or_threshold=[15.0], facet_name=[8], facet_values_or_threshold=[[0.5]]),
            model_config=ModelConfig(
                model_name=create.properties.ModelName,
                instance_count=1,
                instance_type="ml.c5.xlarge",
            ),
            model_predicted_label_config=ModelPredictedLabelConfig(),
        ),
        check_job_config=check_job,
        skip_check=skip_check,
        register_new_baseline=register_new,
        supplied_baseline_constraints=supplied,
        model_package_group_name="abalone-bias",
    )
    register = ModelStep(
        name="RegisterAbaloneModel",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name="abalone-bias",
            drift_check_baselines=DriftCheckBaselines(
                bias_config_file=None,
                bias_pre_training_constraints=None,
                bias_post_training_constraints=MetricsSource(
                    s3_uri=bias.properties.BaselineUsedForDriftCheckConstraints,
                    content_type="application/json",
                ),
            ),
        ),
    )
    return Pipeline(
        name="model-bias-check",
        parameters=[skip_check, register_new, supplied],
        steps=[train, create, bias, register],
        sagemaker_session=session,
    )


def integ_lineage():
    from sagemaker.lineage.action import Action
    from sagemaker.lineage.artifact import Artifact
    from sagemaker.lineage.context import Context
    from sagemaker.workflow.lineage_step import LineageAssociation, LineageEntityReference, LineageStep

    session = PipelineSession(default_bucket=BUCKET)
    stamp = "0a1b2c3d"
    action_name = f"lineage-integ-action-{stamp}"
    artifact_name = f"lineage-integ-artifact-{stamp}"
    context_name = f"lineage-integ-context-{stamp}"
    step = LineageStep(
        name="RecordLineage",
        actions=[
            Action.create(
                action_name=action_name,
                source_uri=f"s3://lineage-integ-test/{stamp}/run",
                source_type="MODEL",
                action_type="ModelTraining",
                status="Completed",
                description="Lineage integ test action",
                sagemaker_session=session,
            )
        ],
        artifacts=[
            Artifact.create(
                artifact_name=artifact_name,
                source_uri=f"s3://lineage-integ-test/{stamp}/model.tar.gz",
                artifact_type="Model",
                sagemaker_session=session,
            )
        ],
        contexts=[
            Context.create(
                context_name=context_name,
                source_uri=f"s3://lineage-integ-test/{stamp}/experiment",
                context_type="Experiment",
                description="Lineage integ test context",
                sagemaker_session=session,
            )
        ],
        associations=[
            LineageAssociation(
                source=LineageEntityReference(name=action_name, type="Action"),
                destination=LineageEntityReference(name=artifact_name, type="Artifact"),
                association_type="Produced",
            ),
            LineageAssociation(
                source=LineageEntityReference(name=context_name, type="Context"),
                destination=LineageEntityReference(name=action_name, type="Action"),
                association_type="AssociatedWith",
            ),
        ],
    )
    return Pipeline(name="integ-lineage", steps=[step], sagemaker_session=session)


def integ_deploy():
    from sagemaker.workflow.endpoint_step import EndpointConfigStep, EndpointStep
    from sagemaker.workflow.inference_component_step import InferenceComponentStep

    session = PipelineSession(default_bucket=BUCKET)
    stamp = "0a1b2c3d"
    config_step = EndpointConfigStep(
        name="CreateConfig",
        step_args=session.create_endpoint_config(
            name=f"integ-deploy-cfg-{stamp}",
            production_variants=[
                {
                    "VariantName": "AllTraffic",
                    "InstanceType": "ml.m5.xlarge",
                    "InitialInstanceCount": 1,
                    "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 1},
                    "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
                }
            ],
            role=ROLE,
        ),
    )
    endpoint_step = EndpointStep(
        name="CreateEndpoint",
        step_args=session.create_endpoint(
            endpoint_name=f"integ-deploy-ep-{stamp}", config_name=config_step.properties.EndpointConfigName
        ),
        depends_on=[config_step],
    )
    component_step = InferenceComponentStep(
        name="CreateComponent",
        step_args=session.create_inference_component(
            inference_component_name=f"integ-deploy-ic-{stamp}",
            endpoint_name=endpoint_step.properties.EndpointName,
            variant_name="AllTraffic",
            specification={
                "ModelName": f"integ-deploy-model-{stamp}",
                "ComputeResourceRequirements": {"NumberOfCpuCoresRequired": 1.0, "MinMemoryRequiredInMb": 1024},
            },
            runtime_config={"CopyCount": 1},
        ),
        depends_on=[endpoint_step],
    )
    return Pipeline(
        name="integ-deploy", steps=[config_step, endpoint_step, component_step], sagemaker_session=session
    )


PIPELINES = [tuning_top_models, autopilot_register, model_bias_check, integ_lineage, integ_deploy]
