//! Both steps of this crate in a pipeline on the emulator: the scoring Lambda step
//! and the batch-job Callback step, whose job the "batch service" (this test) completes
//! with the token, and which a Stop cancels.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use pipelines_emulator::binary_dir;
use pipelines_emulator::Emulator;
use pipelines_emulator::{sdk_config, DeployOptions};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(60);

fn definition() -> String {
    json!({"Version": "2020-12-01", "Parameters": [{"Name": "Model", "Type": "String", "DefaultValue": "xgb"}],
        "Steps": [
            {"Name": "Score", "Type": "Lambda",
             "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:scoring-step",
             "Arguments": {"function": "score", "model": {"Get": "Parameters.Model"}, "threshold": 10},
             "OutputParameters": [{"OutputName": "Score", "OutputType": "Integer"},
                                  {"OutputName": "Passed", "OutputType": "Boolean"}]},
            {"Name": "Train", "Type": "Callback",
             "SqsQueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/batch-jobs",
             "Arguments": {"task": "batch-job", "job": {"Std:Join": {"On": "-", "Values": ["train", {"Get": "Parameters.Model"}]}},
                           "priority": {"Get": "Steps.Score.OutputParameters['Score']"}},
             "OutputParameters": [{"OutputName": "ModelUri", "OutputType": "String"}]}
        ]})
    .to_string()
}

async fn stack(jobs: &Path) -> Emulator {
    let bin = binary_dir();
    let mut stack = Emulator::start().await.expect("emulator");
    let options = DeployOptions {
        extra_functions: BTreeMap::from([(
            "scoring-step".to_owned(),
            bin.join("scoring-step").display().to_string(),
        )]),
        queue_functions: BTreeMap::from([(
            "batch-jobs".to_owned(),
            // The handler's setting, given as a user's command line would.
            format!(
                "env JOBS_DIR={} {}",
                jobs.display(),
                bin.join("batch-job-callback").display()
            ),
        )]),
        ..DeployOptions::default()
    };
    stack.deploy(&options).await.expect("deploy");
    stack
}

/// Waits for a job file of the batch service; answers its JSON.
async fn job_file(jobs: &Path, suffix: &str) -> (String, Value) {
    let end = Instant::now() + DEADLINE;
    loop {
        let found = std::fs::read_dir(jobs).ok().and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(suffix))
        });
        if let Some(path) = found {
            let token = path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .split('.')
                .next()
                .unwrap()
                .to_owned();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            return (token, serde_json::from_str(&text).unwrap_or(Value::Null));
        }
        assert!(
            Instant::now() < end,
            "no {suffix} file in {}",
            jobs.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_custom_steps_run_in_a_pipeline_and_the_job_completes_or_is_cancelled() {
    let jobs = tempfile::tempdir().unwrap();
    let stack = stack(jobs.path()).await;
    let client = aws_sdk_sagemaker::Client::new(&sdk_config(
        &stack.sagemaker.endpoint(),
        stack.credentials(),
    ));
    client
        .create_pipeline()
        .pipeline_name("custom")
        .pipeline_definition(definition())
        .role_arn("arn:aws:iam::123456789012:role/pipeline")
        .send()
        .await
        .unwrap();
    let start = || async {
        client
            .start_pipeline_execution()
            .pipeline_name("custom")
            .send()
            .await
            .unwrap()
            .pipeline_execution_arn
            .unwrap()
    };

    let arn = start().await;
    let (token, job) = job_file(jobs.path(), ".job.json").await;
    let score = "xgb".bytes().map(u32::from).sum::<u32>() % 100;
    assert_eq!(
        job,
        json!({"token": token, "job": "train-xgb", "priority": score})
    );
    // The batch service finished the job: it completes the step with the token.
    client
        .send_pipeline_execution_step_success()
        .callback_token(&token)
        .output_parameters(
            aws_sdk_sagemaker::types::OutputParameter::builder()
                .name("ModelUri")
                .value("s3://models/train-xgb/model.tar.gz")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let done = stack
        .sagemaker
        .pipelines()
        .wait_until_done(&arn, DEADLINE)
        .await
        .unwrap();
    assert_eq!(done.status, "Succeeded", "{:?}", done.failure_reason);
    std::fs::remove_file(jobs.path().join(format!("{token}.job.json"))).unwrap();

    let arn = start().await;
    let (token, _) = job_file(jobs.path(), ".job.json").await;
    client
        .stop_pipeline_execution()
        .pipeline_execution_arn(&arn)
        .send()
        .await
        .unwrap();
    let (cancelled, _) = job_file(jobs.path(), ".cancel").await;
    assert_eq!(cancelled, token);
    let stopped = stack
        .sagemaker
        .pipelines()
        .wait_until_done(&arn, DEADLINE)
        .await
        .unwrap();
    assert_eq!(stopped.status, "Stopped");
    let train = stopped.steps.iter().find(|s| s.name == "Train").unwrap();
    assert!(
        train
            .failure_reason
            .as_deref()
            .unwrap_or_default()
            .contains("its job was cancelled"),
        "{train:?}"
    );
}
