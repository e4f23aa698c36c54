//! The inner loop of pipeline development, as SageMaker offers it, through
//! aws-sdk-sagemaker on the emulator: selective execution (the selected steps run,
//! the steps upstream reuse the reference execution's results), RetryPipelineExecution
//! (a failed execution resumes from its failed steps under its ARN), pipeline versions,
//! and the MLflow experiment of an execution. Definitions are the SDK's
//! (tests/sdk/definitions/v2).

use std::time::Duration;

use aws_sdk_sagemaker::types::{SelectedStep, SelectiveExecutionConfig};
use aws_sdk_sagemaker::Client;
use integration_tests::{create_pipeline, deployed_stack, execution_steps, sagemaker_client};
use pipelines_emulator::Emulator;
use pipelines_emulator::{ExecutionRecord, Mocks};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(60);

fn definition(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/sdk/definitions/v2/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn mocks(stack: &Emulator, steps: serde_json::Value) {
    stack
        .sagemaker
        .pipelines()
        .jobs()
        .set_mocks(Mocks::parse(&json!({ "Steps": steps }).to_string()).unwrap());
}

async fn ended(stack: &Emulator, arn: &str) -> ExecutionRecord {
    stack
        .sagemaker
        .pipelines()
        .wait_until_done(arn, DEADLINE)
        .await
        .unwrap_or_else(|| panic!("{arn} did not end"))
}

fn selection(source: Option<&str>, steps: &[&str]) -> SelectiveExecutionConfig {
    let mut config = SelectiveExecutionConfig::builder();
    for step in steps {
        config = config.selected_steps(SelectedStep::builder().step_name(*step).build());
    }
    config
        .set_source_pipeline_execution_arn(source.map(str::to_owned))
        .build()
}

async fn start_selective(
    client: &Client,
    pipeline: &str,
    config: SelectiveExecutionConfig,
) -> Result<String, (String, String)> {
    client
        .start_pipeline_execution()
        .pipeline_name(pipeline)
        .selective_execution_config(config)
        .send()
        .await
        .map(|answer| answer.pipeline_execution_arn.unwrap())
        .map_err(|e| {
            let e = e.into_service_error();
            (
                e.meta().code().unwrap_or_default().to_owned(),
                e.meta().message().unwrap_or_default().to_owned(),
            )
        })
}

async fn start(client: &Client, pipeline: &str) -> String {
    client
        .start_pipeline_execution()
        .pipeline_name(pipeline)
        .send()
        .await
        .unwrap()
        .pipeline_execution_arn
        .unwrap()
}

#[tokio::test]
async fn a_selective_execution_runs_the_selected_step_on_the_reference_results() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    create_pipeline(&client, "abalone", &definition("abalone"))
        .await
        .unwrap();
    // The reference fails at the threshold's Fail step.
    mocks(
        &stack,
        json!({"AbaloneEval": {"PropertyFiles": {"EvaluationReport": {"regression_metrics": {"mse": {"value": 7.5}}}}}}),
    );
    let reference = start(&client, "abalone").await;
    let reference_run = ended(&stack, &reference).await;
    assert_eq!(reference_run.status, "Failed");

    // Rerun the evaluation alone, on the reference's processing and training.
    let arn = start_selective(
        &client,
        "abalone",
        selection(Some(&reference), &["AbaloneEval"]),
    )
    .await
    .unwrap();
    let run = ended(&stack, &arn).await;
    assert_eq!(
        (run.status.as_str(), run.failure_reason.as_deref()),
        ("Succeeded", None)
    );
    let steps = execution_steps(&client, &arn).await;
    let mut names: Vec<&str> = steps.iter().map(|s| s.step_name().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        ["AbaloneEval", "AbaloneProcess", "AbaloneTrain"],
        "nothing downstream runs"
    );
    for step in &steps {
        let reused = step
            .selective_execution_result()
            .and_then(|r| r.source_pipeline_execution_arn());
        match step.step_name().unwrap() {
            "AbaloneEval" => assert_eq!(reused, None),
            _ => assert_eq!(reused, Some(reference.as_str())),
        }
    }
    // The reused training job is the reference's, not a new one.
    let job = |e: &ExecutionRecord, step: &str| {
        e.steps
            .iter()
            .find(|s| s.name == step)
            .unwrap()
            .metadata
            .clone()
    };
    assert_eq!(
        job(&run, "AbaloneTrain"),
        job(&reference_run, "AbaloneTrain")
    );
    assert_ne!(job(&run, "AbaloneEval"), job(&reference_run, "AbaloneEval"));
    let described = client
        .describe_pipeline_execution()
        .pipeline_execution_arn(&arn)
        .send()
        .await
        .unwrap();
    let config = described.selective_execution_config().unwrap();
    assert_eq!(
        config.source_pipeline_execution_arn(),
        Some(reference.as_str())
    );
    assert_eq!(config.selected_steps()[0].step_name(), Some("AbaloneEval"));
}

#[tokio::test]
async fn selective_executions_sagemaker_refuses_are_refused() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    for name in ["abalone", "model-bias-check"] {
        create_pipeline(&client, name, &definition(name))
            .await
            .unwrap();
    }
    mocks(&stack, json!({"AbaloneProcess": {"Seconds": 30}}));
    let running = start(&client, "abalone").await;
    let other = start(&client, "model-bias-check").await;
    ended(&stack, &other).await;
    for (config, expected) in [
        (
            selection(Some(&running), &["AbaloneTrain"]),
            "must be Succeeded or Failed",
        ),
        (
            selection(Some(&other), &["AbaloneTrain"]),
            "belongs to another pipeline",
        ),
        (
            selection(None, &["AbaloneTrain"]),
            "SourcePipelineExecutionArn is required",
        ),
        (
            selection(None, &["AbaloneProcess", "AbaloneEval"]),
            "Step 'AbaloneTrain' is on a path between",
        ),
        (
            selection(None, &["NoSuchStep"]),
            "'NoSuchStep' is not a step",
        ),
        (
            selection(None, &["AbaloneProcess"; 51]),
            "less than or equal to 50",
        ),
    ] {
        let (code, message) = start_selective(&client, "abalone", config)
            .await
            .unwrap_err();
        assert_eq!(code, "ValidationException", "{message}");
        assert!(message.contains(expected), "{message}");
    }
    client
        .stop_pipeline_execution()
        .pipeline_execution_arn(&running)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_retried_execution_resumes_from_its_failed_step_under_its_arn() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    create_pipeline(&client, "model-bias-check", &definition("model-bias-check"))
        .await
        .unwrap();
    mocks(
        &stack,
        json!({"AbaloneCreateModel-CreateModel": {"Fail": "ValidationException: no capacity"}}),
    );
    let arn = start(&client, "model-bias-check").await;
    let failed = ended(&stack, &arn).await;
    assert_eq!(failed.status, "Failed");
    let trained = failed
        .steps
        .iter()
        .find(|s| s.name == "TrainAbaloneModel")
        .unwrap()
        .clone();

    mocks(&stack, json!({}));
    let retried = client
        .retry_pipeline_execution()
        .pipeline_execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(retried.pipeline_execution_arn(), Some(arn.as_str()));
    let run = ended(&stack, &arn).await;
    assert_eq!(
        (run.status.as_str(), run.failure_reason.as_deref()),
        ("Succeeded", None)
    );
    let step = |name: &str| run.steps.iter().find(|s| s.name == name).unwrap();
    assert_eq!(
        step("TrainAbaloneModel"),
        &trained,
        "what succeeded is kept, not rerun"
    );
    assert_eq!(step("AbaloneCreateModel-CreateModel").status, "Succeeded");
    assert_eq!(
        step("RegisterAbaloneModel-RegisterModel").status,
        "Succeeded"
    );
    assert_eq!(run.steps.len(), 4);

    let refused = client
        .retry_pipeline_execution()
        .pipeline_execution_arn(&arn)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(refused
        .meta()
        .message()
        .unwrap()
        .contains("only a Failed pipeline execution can be retried"));
}

#[tokio::test]
async fn updates_make_versions_and_an_execution_runs_the_version_it_names() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let (first, second) = (
        definition("model-bias-check"),
        definition("autopilot-register"),
    );
    create_pipeline(&client, "versioned", &first).await.unwrap();
    let updated = client
        .update_pipeline()
        .pipeline_name("versioned")
        .pipeline_definition(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.pipeline_version_id(), Some(2));
    let versions = client
        .list_pipeline_versions()
        .pipeline_name("versioned")
        .send()
        .await
        .unwrap();
    let ids: Vec<i64> = versions
        .pipeline_version_summaries()
        .iter()
        .filter_map(|v| v.pipeline_version_id())
        .collect();
    assert_eq!(ids, [2, 1]);
    let v1 = client
        .describe_pipeline()
        .pipeline_name("versioned")
        .pipeline_version_id(1)
        .send()
        .await
        .unwrap();
    assert_eq!(v1.pipeline_definition(), Some(first.as_str()));

    let arn = client
        .start_pipeline_execution()
        .pipeline_name("versioned")
        .pipeline_version_id(1)
        .mlflow_experiment_name("abalone-experiments")
        .send()
        .await
        .unwrap()
        .pipeline_execution_arn
        .unwrap();
    let run = ended(&stack, &arn).await;
    assert!(
        run.steps.iter().any(|s| s.name == "ModelBiasCheckStep"),
        "version 1's steps ran"
    );
    let described = client
        .describe_pipeline_execution()
        .pipeline_execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(described.pipeline_version_id(), Some(1));
    assert_eq!(
        described
            .m_lflow_config()
            .and_then(|c| c.mlflow_experiment_name()),
        Some("abalone-experiments")
    );
    client
        .update_pipeline_version()
        .pipeline_arn(described.pipeline_arn().unwrap())
        .pipeline_version_id(1)
        .pipeline_version_display_name("bias-checked")
        .send()
        .await
        .unwrap();
    let versions = client
        .list_pipeline_versions()
        .pipeline_name("versioned")
        .send()
        .await
        .unwrap();
    let v1 = &versions.pipeline_version_summaries()[1];
    assert_eq!(v1.pipeline_version_display_name(), Some("bias-checked"));
    assert_eq!(
        v1.last_execution_pipeline_execution_arn(),
        Some(arn.as_str())
    );

    let missing = client
        .describe_pipeline()
        .pipeline_name("versioned")
        .pipeline_version_id(9)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(missing.meta().code(), Some("ResourceNotFound"));
}

#[tokio::test]
async fn an_execution_shows_the_mlflow_config_the_v3_sdk_wrote_and_the_start_named() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let text = std::fs::read_to_string(format!(
        "{}/sdk/definitions/v3/mlflow-v3.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    create_pipeline(&client, "mlflow-v3", &text).await.unwrap();
    let server = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/local";
    for (named, expected) in [
        (None, "abalone"),
        (Some("abalone-tuning"), "abalone-tuning"),
    ] {
        let arn = client
            .start_pipeline_execution()
            .pipeline_name("mlflow-v3")
            .set_mlflow_experiment_name(named.map(str::to_owned))
            .send()
            .await
            .unwrap()
            .pipeline_execution_arn
            .unwrap();
        ended(&stack, &arn).await;
        let described = client
            .describe_pipeline_execution()
            .pipeline_execution_arn(&arn)
            .send()
            .await
            .unwrap();
        let config = described.m_lflow_config().unwrap();
        assert_eq!(config.mlflow_experiment_name(), Some(expected));
        assert_eq!(config.mlflow_resource_arn(), Some(server));
    }
}
