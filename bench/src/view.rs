//! The view's figures: a 1,000-step pipeline's execution page, rendered by the stack and
//! ready in headless Chromium; the size of the abalone pipeline's report file.

use std::time::{Duration, Instant};

use pipelines_emulator::{workspace_root, DeployOptions, Emulator, Mocks};
use serde_json::json;

/// A definition of `steps` Processing steps in layers of 50, each reading the one before
/// it in its column: a graph as wide and as deep as real large pipelines get.
fn wide_and_deep(steps: usize) -> String {
    let definition: Vec<_> = (0..steps)
        .map(|i| {
            let mut step =
                json!({"Name": format!("Step{i}"), "Type": "Processing", "Arguments": {}});
            if i >= 50 {
                step["DependsOn"] = json!([format!("Step{}", i - 50)]);
            }
            step
        })
        .collect();
    json!({"Version": "2020-12-01", "Parameters": [], "Steps": definition}).to_string()
}

async fn ended(
    stack: &Emulator,
    name: &str,
    definition: String,
    mocks: serde_json::Value,
) -> String {
    let pipelines = stack.sagemaker.pipelines();
    pipelines
        .jobs()
        .set_mocks(Mocks::parse(&mocks.to_string()).expect("mocks"));
    pipelines
        .put_pipeline(
            pipelines_emulator::PipelineSpec {
                name: name.into(),
                definition_text: definition,
                max_parallel: Some(50),
                ..Default::default()
            },
            false,
        )
        .expect("pipeline");
    let arn =
        pipelines_emulator::start_execution(pipelines, name, &Default::default()).expect("started");
    pipelines
        .wait_until_done(&arn, Duration::from_secs(600))
        .await
        .expect("the execution ends");
    arn
}

/// (time to render the 1,000-step page on the stack, time until it is ready in
/// Chromium, its size in bytes, the abalone report's size in bytes).
pub async fn figures() -> (Duration, Option<Duration>, usize, usize) {
    let mut stack = Emulator::start().await.expect("emulator");
    stack
        .deploy(&DeployOptions::default())
        .await
        .expect("deploy");
    let arn = ended(&stack, "thousand", wide_and_deep(1000), json!({})).await;
    let started = Instant::now();
    let page = stack.report(&arn).expect("report");
    let rendered = started.elapsed();
    let id = arn.rsplit('/').next().unwrap_or_default();
    let output = std::process::Command::new(workspace_root().join(".venv/bin/python"))
        .arg(workspace_root().join("tests/view/browser.py"))
        .args([
            "ready",
            &stack.view_url(),
            &format!("/pipelines/thousand/executions/{id}"),
        ])
        .env("SE_OFFLINE", "true")
        .output();
    let ready = output.ok().filter(|o| o.status.success()).and_then(|o| {
        let ms: f64 = String::from_utf8_lossy(&o.stdout).trim().parse().ok()?;
        Some(Duration::from_secs_f64(ms / 1000.0))
    });
    let abalone =
        std::fs::read_to_string(workspace_root().join("tests/sdk/definitions/v2/abalone.json"))
            .expect("abalone.json");
    let mocks =
        std::fs::read_to_string(workspace_root().join("infra/pipelines/abalone-mocks.json"))
            .expect("abalone-mocks.json");
    let pipelines = stack.sagemaker.pipelines();
    pipelines
        .jobs()
        .set_mocks(Mocks::parse(&mocks).expect("mocks"));
    pipelines
        .put_pipeline(
            pipelines_emulator::PipelineSpec {
                name: "abalone".into(),
                definition_text: abalone,
                ..Default::default()
            },
            false,
        )
        .expect("abalone");
    let start = pipelines_emulator::StartRequest::default();
    let abalone_arn =
        pipelines_emulator::start_execution(pipelines, "abalone", &start).expect("started");
    // Its Callback step waits for an approval nobody gives here: the run is stopped
    // there, every other step done.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let waiting = pipelines
            .read_execution(&abalone_arn, |e| {
                e.steps.iter().any(|s| s.name == "AbaloneApprove")
            })
            .unwrap_or(false);
        if waiting {
            break;
        }
        let mut changes = pipelines.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(1), changes.changed()).await;
    }
    let _ = pipelines.request_stop(&abalone_arn);
    pipelines
        .wait_until_done(&abalone_arn, Duration::from_secs(60))
        .await;
    let report = stack.report(&abalone_arn).expect("report");
    (rendered, ready, page.len(), report.len())
}
