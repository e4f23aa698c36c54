//! The view in a real browser (headless Chromium through Selenium, tests/view/browser.py)
//! on view-demo.json, SDK-written: a running execution's page follows it live, a failed
//! step's own URL opens its panel with its reason and log, a rerun started from the
//! page becomes a selective execution, and the report file opens with the network off
//! and shows every step.

use std::process::Command;
use std::time::Duration;

use integration_tests::{create_and_start, deployed_stack, sagemaker_client};
use pipelines_emulator::{workspace_root, Emulator};

const DEADLINE: Duration = Duration::from_secs(60);

fn browser(args: &[&str]) -> String {
    let root = workspace_root();
    let output = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/view/browser.py"))
        .args(args)
        .env("SE_OFFLINE", "true")
        .output()
        .expect("scripts/setup made .venv with selenium");
    assert!(
        output.status.success(),
        "browser.py {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn definition() -> String {
    std::fs::read_to_string(workspace_root().join("tests/sdk/definitions/v2/view-demo.json"))
        .unwrap()
}

fn page_of(arn: &str) -> String {
    let id = arn.rsplit('/').next().unwrap();
    format!("/pipelines/view-demo/executions/{id}")
}

async fn ended(stack: &Emulator, arn: &str) -> pipelines_emulator::ExecutionRecord {
    stack
        .sagemaker
        .pipelines()
        .wait_until_done(arn, DEADLINE)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_view_follows_inspects_reruns_and_reports_an_execution_in_a_browser() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let url = stack.view_url();

    // Live: the browser opens while Prepare runs (two seconds) and sees it end.
    let arn = create_and_start(&client, "view-demo", &definition(), &[]).await;
    let live = {
        let (url, page) = (url.clone(), page_of(&arn));
        tokio::task::spawn_blocking(move || browser(&["live", &url, &page]))
    };
    let seen = live.await.unwrap();
    assert!(seen.contains("('Read', 'succeeded')"), "{seen}");
    assert_eq!(ended(&stack, &arn).await.status, "Succeeded");

    // A failed step: its own URL opens its panel with its reason and its log.
    let failed = client
        .start_pipeline_execution()
        .pipeline_name("view-demo")
        .pipeline_parameters(
            aws_sdk_sagemaker::types::Parameter::builder()
                .name("Outcome")
                .value("missing")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .pipeline_execution_arn
        .unwrap();
    let execution = ended(&stack, &failed).await;
    assert_eq!(execution.status, "Failed");
    let reason = execution.steps[0].failure_reason.clone().unwrap();
    let step_page = format!("{}/steps/Prepare", page_of(&failed));
    let shown = tokio::task::spawn_blocking({
        let (url, reason) = (url.clone(), reason.clone());
        move || {
            browser(&[
                "failed",
                &url,
                &step_page,
                "Prepare",
                &reason,
                "no input found",
                "preparing the data",
            ])
        }
    });
    assert_eq!(shown.await.unwrap(), "shown");

    // Rerun Prepare from the failed execution's page: a selective execution of it.
    let rerun = tokio::task::spawn_blocking({
        let (url, page) = (url.clone(), page_of(&failed));
        move || browser(&["rerun", &url, &page, "Prepare"])
    })
    .await
    .unwrap();
    let id = rerun.rsplit('/').next().unwrap();
    let newest = stack.sagemaker.pipelines().executions_of("view-demo");
    let started = newest
        .iter()
        .find(|e| e.arn.ends_with(id))
        .expect("the rerun is an execution");
    let config = started
        .selective_config
        .clone()
        .expect("a SelectiveExecutionConfig");
    assert_eq!(config["SelectedSteps"][0]["StepName"], "Prepare");
    assert_eq!(config["SourcePipelineExecutionArn"], failed.as_str());

    // The report of the first execution, opened from disk with the network off.
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("run.html");
    std::fs::write(&file, stack.report(&arn).unwrap()).unwrap();
    let report = tokio::task::spawn_blocking(move || {
        browser(&["report", file.to_str().unwrap(), "Prepare", "Read"])
    });
    assert!(report.await.unwrap().contains("('Prepare', 'succeeded')"));
}
