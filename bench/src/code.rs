//! Job steps whose code runs (`--run-code`): the stack's overhead per job beyond the
//! script's own time (staging, the namespace, the upload), and the script-mode abalone
//! pipeline with its scikit-learn scripts beside the same pipeline on mocks.

use std::time::{Duration, Instant};

use pipelines_emulator::workspace_root;
use pipelines_emulator::DeployOptions;
use pipelines_emulator::Emulator;
use pipelines_emulator::{start_execution, Mocks, PipelineSpec, StartRequest};
use serde_json::json;

use crate::stats::median;

const BUCKET: &str = "abalone-local";
const RUNS: usize = 10;

async fn stack() -> Emulator {
    let mut stack = Emulator::start().await.expect("emulator");
    stack
        .deploy(&DeployOptions::default())
        .await
        .expect("deploy the template");
    stack
        .s3_client()
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    stack
}

async fn put(stack: &Emulator, key: &str, body: Vec<u8>) {
    stack
        .s3_client()
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(body.into())
        .send()
        .await
        .expect("put");
}

fn definition(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join(format!("tests/sdk/definitions/v2/{name}.json")))
        .expect("an SDK-written definition")
}

/// Runs `pipeline` to its end; its record.
async fn run(stack: &Emulator, pipeline: &str) -> pipelines_emulator::ExecutionRecord {
    let pipelines = stack.sagemaker.pipelines();
    let arn = start_execution(pipelines, pipeline, &StartRequest::default()).expect("started");
    pipelines
        .wait_until_done(&arn, Duration::from_secs(600))
        .await
        .expect("ended")
}

fn create(stack: &Emulator, name: &str, definition: String) {
    stack
        .sagemaker
        .pipelines()
        .put_pipeline(
            PipelineSpec {
                name: name.to_owned(),
                definition_text: definition,
                ..PipelineSpec::default()
            },
            false,
        )
        .expect("a valid definition");
}

/// The median overhead of a Processing job whose script does nothing (abalone.json's
/// AbaloneProcess): its step's time on the stack less the same interpreter running the
/// same script outside it.
pub async fn overhead_per_job() -> (Duration, Duration, Duration) {
    let stack = stack().await;
    stack
        .enable_code("python3", true)
        .await
        .expect("--run-code");
    let mocks = json!({"Steps": {"AbaloneEval": {"Run": "mock",
        "PropertyFiles": {"EvaluationReport": {"regression_metrics": {"mse": {"value": 9.0}}}}}}});
    stack
        .sagemaker
        .pipelines()
        .jobs()
        .set_mocks(Mocks::parse(&mocks.to_string()).expect("mocks"));
    put(&stack, "code/preprocessing.py", b"pass\n".to_vec()).await;
    put(&stack, "abalone/abalone-dataset.csv", b"M,0.5,9\n".to_vec()).await;
    create(&stack, "abalone", definition("abalone"));
    let mut on_stack = Vec::new();
    for _ in 0..RUNS {
        let execution = run(&stack, "abalone").await;
        let step = execution
            .steps
            .iter()
            .find(|s| s.name == "AbaloneProcess")
            .expect("the step ran");
        assert_eq!(step.status, "Succeeded", "{:?}", step.failure_reason);
        on_stack.push(
            step.ended
                .expect("ended")
                .duration_since(step.started)
                .unwrap_or_default(),
        );
    }
    let script = stack.work_dir().join("empty.py");
    std::fs::write(&script, "pass\n").expect("script");
    let mut alone = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let status = tokio::process::Command::new("python3")
            .arg(&script)
            .status()
            .await
            .expect("python3");
        assert!(status.success());
        alone.push(started.elapsed());
    }
    let (on_stack, alone) = (median(on_stack), median(alone));
    (on_stack.saturating_sub(alone), on_stack, alone)
}

/// abalone-script.json end to end: its scripts for real in `.venv-code`, and on mocks.
pub async fn abalone_script() -> (Duration, Duration) {
    let real = stack().await;
    let python = workspace_root().join(".venv-code/bin/python");
    real.enable_code(python.to_str().expect("a UTF-8 path"), true)
        .await
        .expect("scripts/setup made .venv-code");
    let code = workspace_root().join("tests/code/abalone");
    for script in ["preprocessing.py", "evaluation.py"] {
        put(
            &real,
            &format!("code/abalone/{script}"),
            std::fs::read(code.join(script)).expect("script"),
        )
        .await;
    }
    let archive = real.work_dir().join("sourcedir.tar.gz");
    pipelines_emulator::staging::pack(&code, &archive).expect("pack");
    put(
        &real,
        "code/abalone/sourcedir.tar.gz",
        std::fs::read(&archive).expect("archive"),
    )
    .await;
    // Rings follow the length, as in the real data set, so the model fits under the
    // pipeline's threshold.
    let rows: String = (0..200)
        .map(|i| {
            let length = 0.2 + (i % 50) as f64 / 100.0;
            format!(
                "M,{length:.3},0.3,0.1,0.5,0.2,0.1,0.15,{}\n",
                5 + i % 50 / 4
            )
        })
        .collect();
    put(&real, "abalone/abalone-dataset.csv", rows.into_bytes()).await;
    let real_wall = succeeded_in(&real).await;

    let mocked = stack().await;
    let mocks = json!({"Steps": {"Evaluate": {"PropertyFiles": {"EvaluationReport": {"regression_metrics": {"mse": {"value": 2.0}}}}}}});
    mocked
        .sagemaker
        .pipelines()
        .jobs()
        .set_mocks(Mocks::parse(&mocks.to_string()).expect("mocks"));
    (real_wall, succeeded_in(&mocked).await)
}

/// abalone-script.json created and run to Succeeded on `stack`: its wall time.
async fn succeeded_in(stack: &Emulator) -> Duration {
    create(stack, "abalone-script", definition("abalone-script"));
    let started = Instant::now();
    let execution = run(stack, "abalone-script").await;
    assert_eq!(
        execution.status, "Succeeded",
        "{:?}",
        execution.failure_reason
    );
    started.elapsed()
}
