//! `--run-code`: the abalone pipeline as the SageMaker Python SDK wrote it
//! (tests/sdk/definitions/v2/abalone.json), its Processing step running a script of the
//! user's for real (tests/code/), on data in local S3, in its own `/opt/ml`. The scripts
//! use the standard library only, so python3 on PATH runs them.

use std::time::Duration;

use integration_tests::{create_pipeline, deployed_stack, sagemaker_client, wait_until};
use pipelines_emulator::pipeline::{Mocks, StepRecord};
use pipelines_emulator::Emulator;
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(60);
const BUCKET: &str = "abalone-local";

fn file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A stack whose job steps run their code in python3; the evaluation stays on its mock
/// (its MSE over the threshold, so the pipeline ends at its Fail step: no approval).
async fn stack() -> Emulator {
    let stack = deployed_stack(&[], None).await;
    stack
        .enable_code("python3", true)
        .await
        .expect("this machine runs a job's code in its own /opt/ml");
    let mocks = json!({"Steps": {"AbaloneEval": {"Run": "mock",
        "PropertyFiles": {"EvaluationReport": {"regression_metrics": {"mse": {"value": 7.5}}}}}}});
    stack
        .sagemaker
        .pipelines()
        .set_mocks(Mocks::parse(&mocks.to_string()).unwrap());
    let s3 = stack.s3_client();
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    stack
}

async fn put(stack: &Emulator, key: &str, body: String) {
    stack
        .s3_client()
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(body.into_bytes().into())
        .send()
        .await
        .unwrap();
}

async fn get(stack: &Emulator, key: &str) -> Option<String> {
    let object = stack
        .s3_client()
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .ok()?;
    let bytes = object.body.collect().await.ok()?.into_bytes();
    Some(String::from_utf8(bytes.to_vec()).unwrap())
}

/// An abalone-shaped data set: `rows` rows of sex, seven measures and the rings.
fn abalone_rows(rows: usize) -> String {
    (0..rows)
        .map(|i| {
            let length = 0.2 + (i % 50) as f64 / 100.0;
            format!(
                "{},{length:.3},{:.3},{:.3},{:.4},{:.4},{:.4},{:.4},{}\n",
                ["M", "F", "I"][i % 3],
                length * 0.8,
                length * 0.3,
                length * 1.2,
                length * 0.5,
                length * 0.25,
                length * 0.35,
                5 + i % 15
            )
        })
        .collect()
}

async fn start(stack: &Emulator, name: &str) -> String {
    let client = sagemaker_client(stack);
    // Refused as already there when the test starts a second execution of it.
    let _ = create_pipeline(&client, name, &file("sdk/definitions/v2/abalone.json")).await;
    client
        .start_pipeline_execution()
        .pipeline_name(name)
        .send()
        .await
        .unwrap()
        .pipeline_execution_arn
        .unwrap()
}

async fn ended(stack: &Emulator, arn: &str) -> (String, Option<String>, Vec<StepRecord>) {
    let e = stack
        .sagemaker
        .pipelines()
        .wait_until_done(arn, DEADLINE)
        .await
        .unwrap_or_else(|| panic!("{arn} did not end"));
    (e.status, e.failure_reason, e.steps)
}

fn step<'a>(steps: &'a [StepRecord], name: &str) -> &'a StepRecord {
    steps.iter().find(|s| s.name == name).unwrap()
}

#[tokio::test]
async fn the_processing_script_runs_on_local_s3_data_and_its_outputs_feed_the_pipeline() {
    let stack = stack().await;
    put(
        &stack,
        "code/preprocessing.py",
        file("code/preprocessing.py"),
    )
    .await;
    put(&stack, "abalone/abalone-dataset.csv", abalone_rows(100)).await;
    let arn = start(&stack, "abalone").await;
    let (status, reason, steps) = ended(&stack, &arn).await;
    assert_eq!(
        (status.as_str(), reason.as_deref()),
        ("Failed", Some("Execution failed due to MSE > 6.0")),
        "the pipeline ran on past the real step to its Fail step"
    );
    let process = step(&steps, "AbaloneProcess");
    assert_eq!(process.status, "Succeeded");
    assert_eq!(
        process.code_run.as_deref(),
        Some("ran its code: python3 /opt/ml/processing/input/code/preprocessing.py")
    );
    // What the script wrote, where the step's outputs say.
    let lines = |text: Option<String>| text.map_or(0, |t| t.lines().count());
    assert_eq!(
        lines(get(&stack, "AbaloneProcess/train/train.csv").await),
        70
    );
    assert_eq!(
        lines(get(&stack, "AbaloneProcess/validation/validation.csv").await),
        15
    );
    assert_eq!(lines(get(&stack, "AbaloneProcess/test/test.csv").await), 15);
    let train = get(&stack, "AbaloneProcess/train/train.csv").await.unwrap();
    let first: Vec<&str> = train.lines().next().unwrap().split(',').collect();
    assert!(first[0].parse::<u32>().is_ok(), "rings first: {first:?}");
    // What cannot run says so; what the mock file keeps on its mock, too.
    assert_eq!(
        step(&steps, "AbaloneTrain").code_run.as_deref(),
        Some("mocked: the emulator does not run the code of Training steps yet")
    );
    assert_eq!(
        step(&steps, "AbaloneEval").code_run.as_deref(),
        Some("mocked: the mock file keeps it on its mock")
    );
}

#[tokio::test]
async fn a_script_that_raises_fails_its_step_with_the_error() {
    let stack = stack().await;
    put(
        &stack,
        "code/preprocessing.py",
        file("code/preprocessing.py"),
    )
    .await;
    let bad = abalone_rows(10).replacen(",5\n", ",many\n", 1);
    put(&stack, "abalone/abalone-dataset.csv", bad).await;
    let arn = start(&stack, "abalone").await;
    let (status, _, steps) = ended(&stack, &arn).await;
    assert_eq!(status, "Failed");
    let process = step(&steps, "AbaloneProcess");
    assert_eq!(process.status, "Failed");
    let reason = process.failure_reason.as_deref().unwrap();
    assert!(
        reason.starts_with(
            "AlgorithmError: python3 /opt/ml/processing/input/code/preprocessing.py exited with code 1; its last lines: "
        ),
        "{reason}"
    );
    assert!(
        reason.ends_with("ValueError: could not convert string to float: 'many'"),
        "the traceback's last line ends the reason: {reason}"
    );
    assert!(
        get(&stack, "AbaloneProcess/train/train.csv")
            .await
            .is_none(),
        "a failed job uploads nothing"
    );
}

/// The job logs of the stack, by job folder.
fn job_logs(stack: &Emulator) -> Vec<String> {
    std::fs::read_dir(stack.work_dir().join("jobs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|job| std::fs::read_to_string(job.path().join("output.log")).ok())
        .collect()
}

#[tokio::test]
async fn a_stop_during_the_script_sends_it_sigterm_and_the_step_ends_stopped() {
    let stack = stack().await;
    put(
        &stack,
        "code/preprocessing.py",
        file("code/waits_for_stop.py"),
    )
    .await;
    put(&stack, "abalone/abalone-dataset.csv", abalone_rows(10)).await;
    let arn = start(&stack, "abalone").await;
    wait_until("the script runs", DEADLINE, || {
        job_logs(&stack)
            .iter()
            .any(|l| l.contains("waiting to be stopped"))
    })
    .await;
    sagemaker_client(&stack)
        .stop_pipeline_execution()
        .pipeline_execution_arn(&arn)
        .client_request_token("stop-during-the-script-0000000000")
        .send()
        .await
        .unwrap();
    let (status, _, steps) = ended(&stack, &arn).await;
    assert_eq!(status, "Stopped");
    assert_eq!(step(&steps, "AbaloneProcess").status, "Stopped");
    assert!(
        job_logs(&stack).iter().any(|l| l.contains("got SIGTERM")),
        "{:?}",
        job_logs(&stack)
    );
}

#[tokio::test]
async fn two_jobs_at_once_each_have_their_own_opt_ml() {
    let stack = stack().await;
    put(&stack, "code/preprocessing.py", file("code/own_opt_ml.py")).await;
    put(&stack, "abalone/abalone-dataset.csv", abalone_rows(10)).await;
    let first = start(&stack, "abalone").await;
    let second = start(&stack, "abalone").await;
    let (_, _, first_steps) = ended(&stack, &first).await;
    let (_, _, second_steps) = ended(&stack, &second).await;
    let (a, b) = (
        step(&first_steps, "AbaloneProcess"),
        step(&second_steps, "AbaloneProcess"),
    );
    assert_eq!(
        (a.status.as_str(), b.status.as_str()),
        ("Succeeded", "Succeeded"),
        "{:?} {:?}",
        a.failure_reason,
        b.failure_reason
    );
    // They ran at the same time, so each would have seen the other's file in a shared /opt/ml.
    assert!(a.started < b.ended.unwrap() && b.started < a.ended.unwrap());
}
