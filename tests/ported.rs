//! Pipelines other people wrote (AWS's example notebooks, the SDK's integration tests),
//! rebuilt unmodified with the real SDK (tests/sdk/ported_v2.py), run as SageMaker runs
//! them: the lists a request sizes have that size, a reference outside a step's
//! Arguments is a dependency and resolves, and the guide's cache durations mean what
//! they mean there.

use std::time::Duration;

use integration_tests::{create_pipeline, deployed_stack, sagemaker_client};
use pipelines_emulator::Emulator;
use pipelines_emulator::{ExecutionRecord, Mocks, StepRecord};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(60);

fn definition(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/sdk/definitions/v2/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Creates the pipeline (once) and runs an execution of it to its end.
async fn run(stack: &Emulator, name: &str, parameters: &[(&str, &str)]) -> ExecutionRecord {
    let client = sagemaker_client(stack);
    if stack.sagemaker.pipelines().pipeline(name).is_none() {
        create_pipeline(&client, name, &definition(name))
            .await
            .expect("the SDK's definition is accepted");
    }
    let mut start = client.start_pipeline_execution().pipeline_name(name);
    for (key, value) in parameters {
        start = start.pipeline_parameters(
            aws_sdk_sagemaker::types::Parameter::builder()
                .name(*key)
                .value(*value)
                .build(),
        );
    }
    let arn = start.send().await.unwrap().pipeline_execution_arn.unwrap();
    let execution = stack
        .sagemaker
        .pipelines()
        .wait_until_done(&arn, DEADLINE)
        .await
        .unwrap_or_else(|| panic!("{arn} did not end"));
    assert_eq!(
        (
            execution.status.as_str(),
            execution.failure_reason.as_deref()
        ),
        ("Succeeded", None)
    );
    execution
}

fn step<'a>(execution: &'a ExecutionRecord, name: &str) -> &'a StepRecord {
    execution
        .steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("step {name} did not run"))
}

fn properties(execution: &ExecutionRecord, name: &str) -> Value {
    step(execution, name)
        .properties
        .clone()
        .expect("it succeeded")
}

#[tokio::test]
async fn a_tuning_step_lists_its_jobs_so_the_second_best_model_resolves() {
    let stack = deployed_stack(&[], None).await;
    let execution = run(&stack, "tuning-top-models", &[]).await;
    let tuning = properties(&execution, "HPTuning");
    let summaries = tuning["TrainingJobSummaries"].as_array().unwrap();
    assert_eq!(summaries.len(), 3, "max_jobs=3");
    for (rank, model) in ["BestModel-CreateModel", "SecondBestModel-CreateModel"]
        .iter()
        .enumerate()
    {
        let job = summaries[rank]["TrainingJobName"].as_str().unwrap();
        assert_eq!(
            properties(&execution, model)["PrimaryContainer"]["ModelDataUrl"],
            json!(format!(
                "s3://ported-local/AbaloneTrain/{job}/output/model.tar.gz"
            )),
            "get_top_model_s3_uri(top_k={rank})"
        );
    }
    assert_eq!(tuning["BestTrainingJob"], summaries[0]);
}

#[tokio::test]
async fn the_guides_cache_durations_are_taken_and_reuse_the_result() {
    let stack = deployed_stack(&[], None).await;
    let first = run(&stack, "tuning-top-models", &[]).await;
    let second = run(&stack, "tuning-top-models", &[]).await;
    // "30d" on the tuning step, "T12H" on the training step.
    for name in ["HPTuning", "Baseline"] {
        assert_eq!(step(&first, name).cache_hit, None);
        assert_eq!(
            step(&second, name).cache_hit.as_deref(),
            Some(first.arn.as_str()),
            "{name} reuses the first execution's result"
        );
    }
    assert_eq!(
        properties(&second, "HPTuning")["TrainingJobSummaries"],
        properties(&first, "HPTuning")["TrainingJobSummaries"]
    );
}

#[tokio::test]
async fn the_best_automl_candidate_becomes_a_model_and_a_package() {
    let stack = deployed_stack(&[], None).await;
    let execution = run(&stack, "autopilot-register", &[]).await;
    let automl = properties(&execution, "MyAutoMLStep");
    let best = &automl["BestCandidate"]["InferenceContainers"][0];
    let model = properties(&execution, "CreateBestModel-CreateModel");
    assert_eq!(model["PrimaryContainer"]["Image"], best["Image"]);
    assert_eq!(
        model["PrimaryContainer"]["ModelDataUrl"],
        best["ModelDataUrl"]
    );
    assert_eq!(
        model["PrimaryContainer"]["Environment"]["MODEL_NAME"],
        best["Environment"]["MODEL_NAME"]
    );
    assert!(best["ModelDataUrl"]
        .as_str()
        .unwrap()
        .starts_with("s3://ported-local/autopilot/"));
    let package = properties(&execution, "RegisterBestModel-RegisterModel");
    assert_eq!(
        package["InferenceSpecification"]["Containers"][0]["Image"],
        best["Image"]
    );
}

#[tokio::test]
async fn a_check_waits_for_the_model_it_names_beside_its_arguments() {
    let stack = deployed_stack(&[], None).await;
    // The model step takes a while: a check that did not wait for it would start first.
    stack.sagemaker.pipelines().jobs().set_mocks(
        Mocks::parse(
            &json!({"Steps": {"AbaloneCreateModel-CreateModel": {"Seconds": 0.3}}}).to_string(),
        )
        .unwrap(),
    );
    let execution = run(&stack, "model-bias-check", &[]).await;
    let create = step(&execution, "AbaloneCreateModel-CreateModel");
    let check = step(&execution, "ModelBiasCheckStep");
    assert!(
        check.started >= create.ended.unwrap(),
        "the check started before the model it names was created"
    );
    // Not registering a new baseline: the drift check used the supplied one, and the
    // model package carries it.
    let supplied = "s3://ported-local/old/analysis.json";
    assert_eq!(
        properties(&execution, "ModelBiasCheckStep")["BaselineUsedForDriftCheckConstraints"],
        supplied
    );
    let package = properties(&execution, "RegisterAbaloneModel-RegisterModel");
    let drift = &package["DriftCheckBaselines"]["Bias"]["PostTrainingConstraints"]["S3Uri"];
    assert_eq!(drift, supplied);
    assert_eq!(check.metadata["ClarifyCheck"]["RegisterNewBaseline"], false);
    // The check's processing job answers DescribeProcessingJob, as SageMaker's does.
    let job = check.metadata["ClarifyCheck"]["CheckJobArn"]
        .as_str()
        .unwrap();
    let described = sagemaker_client(&stack)
        .describe_processing_job()
        .processing_job_name(integration_tests::name_in_arn(job))
        .send()
        .await
        .expect("DescribeProcessingJob of the check's job");
    assert_eq!(described.processing_job_arn(), Some(job));
    assert_eq!(
        described.processing_job_status().map(|s| s.as_str()),
        Some("Completed")
    );

    let execution = run(
        &stack,
        "model-bias-check",
        &[("RegisterNewModelBiasBaseline", "true")],
    )
    .await;
    let calculated = "s3://ported-local/modelbiascheckstep/analysis.json";
    let check = properties(&execution, "ModelBiasCheckStep");
    assert_eq!(check["CalculatedBaselineConstraints"], calculated);
    assert_eq!(check["BaselineUsedForDriftCheckConstraints"], calculated);
}

/// The ARN of the model package an autopilot-register execution registered, as its
/// step's metadata gives it.
fn registered_package(execution: &ExecutionRecord) -> String {
    step(execution, "RegisterBestModel-RegisterModel").metadata["RegisterModel"]["Arn"]
        .as_str()
        .expect("the step's metadata names its package")
        .to_owned()
}

/// The name a Describe* call takes for the job a step's metadata names.
fn named(arn: Option<&str>) -> String {
    integration_tests::name_in_arn(arn.expect("the step's metadata names its job")).to_owned()
}

#[tokio::test]
async fn each_job_answers_its_describe_call_with_what_its_step_properties_came_from() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let automl = run(&stack, "autopilot-register", &[]).await;
    let tuning = run(&stack, "tuning-top-models", &[]).await;
    let steps = integration_tests::execution_steps(&client, &automl.arn).await;
    let metadata = |steps: &[aws_sdk_sagemaker::types::PipelineExecutionStep], name: &str| {
        steps
            .iter()
            .find(|s| s.step_name() == Some(name))
            .and_then(|s| s.metadata().cloned())
            .unwrap_or_else(|| panic!("no metadata for {name}"))
    };

    // The names the SDK (and a user) reads off ListPipelineExecutionSteps' ARNs.
    let job = named(
        metadata(&steps, "MyAutoMLStep")
            .auto_ml_job()
            .unwrap()
            .arn(),
    );
    let described = client
        .describe_auto_ml_job()
        .auto_ml_job_name(&job)
        .send()
        .await
        .expect("DescribeAutoMLJob of the step's job");
    let expected = properties(&automl, "MyAutoMLStep");
    assert_eq!(
        described.best_candidate().unwrap().candidate_name(),
        expected["BestCandidate"]["CandidateName"].as_str()
    );
    assert_eq!(
        described.auto_ml_job_status().unwrap().as_str(),
        "Completed"
    );

    let model = named(
        metadata(&steps, "CreateBestModel-CreateModel")
            .model()
            .unwrap()
            .arn(),
    );
    let described = client
        .describe_model()
        .model_name(&model)
        .send()
        .await
        .expect("DescribeModel of the step's model");
    assert_eq!(
        described.primary_container().unwrap().model_data_url(),
        properties(&automl, "CreateBestModel-CreateModel")["PrimaryContainer"]["ModelDataUrl"]
            .as_str()
    );

    let steps = integration_tests::execution_steps(&client, &tuning.arn).await;
    let job = named(metadata(&steps, "HPTuning").tuning_job().unwrap().arn());
    let described = client
        .describe_hyper_parameter_tuning_job()
        .hyper_parameter_tuning_job_name(&job)
        .send()
        .await
        .expect("DescribeHyperParameterTuningJob of the step's job");
    assert_eq!(
        described.best_training_job().unwrap().training_job_name(),
        properties(&tuning, "HPTuning")["BestTrainingJob"]["TrainingJobName"].as_str()
    );

    // What no step made is not found, as SageMaker says it.
    let missing = client
        .describe_model()
        .model_name("no-such-model")
        .send()
        .await
        .expect_err("an unknown model")
        .into_service_error();
    assert_eq!(missing.meta().code(), Some("ValidationException"));
    assert!(missing
        .meta()
        .message()
        .unwrap()
        .starts_with("Could not find model \"arn:aws:sagemaker:"));
    let missing = client
        .describe_hyper_parameter_tuning_job()
        .hyper_parameter_tuning_job_name("no-such-job")
        .send()
        .await
        .expect_err("an unknown tuning job")
        .into_service_error();
    assert!(missing.is_resource_not_found(), "{missing:?}");
}

#[tokio::test]
async fn a_tuning_jobs_training_jobs_and_each_registered_version_are_described() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    // The training jobs a tuning job lists are jobs of their own: the SDK's
    // `get_top_model_s3_uri` and users' code follow them to their models.
    let tuning = run(&stack, "tuning-top-models", &[]).await;
    let listed = properties(&tuning, "HPTuning");
    for (rank, model) in ["BestModel-CreateModel", "SecondBestModel-CreateModel"]
        .iter()
        .enumerate()
    {
        let summary = &listed["TrainingJobSummaries"][rank];
        let described = client
            .describe_training_job()
            .training_job_name(summary["TrainingJobName"].as_str().unwrap())
            .send()
            .await
            .expect("DescribeTrainingJob of a job the tuning job lists");
        assert_eq!(
            described.model_artifacts().unwrap().s3_model_artifacts(),
            properties(&tuning, model)["PrimaryContainer"]["ModelDataUrl"].as_str()
        );
        assert_eq!(
            described.tuning_job_arn(),
            listed["HyperParameterTuningJobArn"].as_str()
        );
        let tuned = summary["TunedHyperParameters"].as_object().unwrap();
        assert!(!tuned.is_empty());
        for (name, value) in tuned {
            assert_eq!(
                described
                    .hyper_parameters()
                    .unwrap()
                    .get(name)
                    .map(String::as_str),
                value.as_str(),
                "{name}"
            );
        }
        let objective = &summary["FinalHyperParameterTuningJobObjectiveMetric"];
        let reached = described
            .final_metric_data_list()
            .iter()
            .find(|m| m.metric_name() == objective["MetricName"].as_str())
            .and_then(|m| m.value());
        let expected = objective["Value"].as_f64().unwrap();
        assert!(
            reached.is_some_and(|v| (f64::from(v) - expected).abs() < 1e-6),
            "{reached:?} for {expected}"
        );
    }

    // Each execution's RegisterModel step is the group's next version.
    let first = run(&stack, "autopilot-register", &[]).await;
    let second = run(&stack, "autopilot-register", &[]).await;
    let mut versions = Vec::new();
    for execution in [&first, &second] {
        let package = registered_package(execution);
        let described = client
            .describe_model_package()
            .model_package_name(&package)
            .send()
            .await
            .expect("DescribeModelPackage of the step's package");
        assert_eq!(described.model_package_arn(), Some(package.as_str()));
        let group = described.model_package_group_name().unwrap().to_owned();
        assert_eq!(
            Some(group.as_str()),
            properties(execution, "RegisterBestModel-RegisterModel")["ModelPackageGroupName"]
                .as_str()
        );
        let version = described.model_package_version().unwrap();
        assert!(package.ends_with(&format!("/{version}")), "{package}");
        versions.push(version);
        // By `<group>/<version>` too.
        let by_version = client
            .describe_model_package()
            .model_package_name(format!("{group}/{version}"))
            .send()
            .await
            .unwrap();
        assert_eq!(by_version.model_package_arn(), Some(package.as_str()));
    }
    assert_eq!(versions, [1, 2]);
    // IncludedData: MetadataOnly differs only in a model card's content; a package with
    // no model card answers in full, one with a model card is refused by name.
    let first_package = registered_package(&first);
    let metadata_only = client
        .describe_model_package()
        .model_package_name(&first_package)
        .included_data(aws_sdk_sagemaker::types::IncludedData::MetadataOnly)
        .send()
        .await
        .expect("MetadataOnly of a package with no model card");
    assert_eq!(metadata_only.model_package_version(), Some(1));
    stack.sagemaker.pipelines().jobs().set_mocks(
        Mocks::parse(
            &json!({"Steps": {"RegisterBestModel-RegisterModel": {"Properties": {
                "ModelCard": {"ModelCardContent": "{}", "ModelCardStatus": "Draft"}}}}})
            .to_string(),
        )
        .unwrap(),
    );
    let carded = run(&stack, "autopilot-register", &[]).await;
    let carded = registered_package(&carded);
    let refused = client
        .describe_model_package()
        .model_package_name(&carded)
        .included_data(aws_sdk_sagemaker::types::IncludedData::MetadataOnly)
        .send()
        .await
        .expect_err("MetadataOnly of a package with a model card")
        .into_service_error();
    assert!(
        refused
            .meta()
            .message()
            .unwrap()
            .contains("IncludedData MetadataOnly of a package with a ModelCard"),
        "{refused:?}"
    );
    let whole = client
        .describe_model_package()
        .model_package_name(&carded)
        .send()
        .await
        .unwrap();
    assert_eq!(
        whole.model_card().and_then(|c| c.model_card_content()),
        Some("{}")
    );
    let missing = client
        .describe_model_package()
        .model_package_name("no-such-group/1")
        .send()
        .await
        .expect_err("an unknown package")
        .into_service_error();
    assert_eq!(missing.meta().code(), Some("ValidationException"));
    assert_eq!(
        missing.meta().message(),
        Some("ModelPackage no-such-group/1 does not exist.")
    );
}
