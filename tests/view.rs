//! The view in a real browser (headless Chromium through Selenium, tests/view/browser.py)
//! on view-demo.json, SDK-written: a running execution's page follows it live, a failed
//! step's own URL opens its panel with its reason and log, a rerun started from the
//! page becomes a selective execution, and the report file opens with the network off
//! and shows every step.

use integration_tests::{
    create_and_start, deployed_stack, finished, sagemaker_client, start_again,
};
use pipelines_emulator::workspace_root;
use std::process::Command;

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
    assert_eq!(finished(&stack, &arn).await.status, "Succeeded");

    // A failed step: its own URL opens its panel with its reason and its log.
    let failed = start_again(&client, "view-demo", &[("Outcome", "missing")]).await;
    let execution = finished(&stack, &failed).await;
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

    // The report of the first execution, opened from disk with the network off; the
    // Lambda step's panel ends with its function's log.
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("run.html");
    let html = stack.report(&arn).unwrap();
    let read_panel = &html[html.find("id=\"step-Read\"").unwrap()..];
    let read_panel = &read_panel[..read_panel.find("</details>").unwrap()];
    assert!(read_panel.contains("log (last 40 lines)"), "{read_panel}");
    std::fs::write(&file, html).unwrap();
    let report = tokio::task::spawn_blocking(move || {
        browser(&["report", file.to_str().unwrap(), "Prepare", "Read"])
    });
    assert!(report.await.unwrap().contains("('Prepare', 'succeeded')"));
}

/// One raw HTTP/1.1 request to the view: its status code.
async fn status_of(address: &str, request: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Another local user who finds the view's port gets nothing without the token: no
/// page, no report, no action; a wrong token is as good as none. The token in the URL
/// sets a same-site, HTTP-only cookie.
#[tokio::test]
async fn the_view_refuses_whoever_has_not_its_token() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let arn = create_and_start(&client, "view-demo", &definition(), &[]).await;
    finished(&stack, &arn).await;
    let url = stack.view_url();
    let (address, token) = url
        .strip_prefix("http://")
        .unwrap()
        .split_once("/?token=")
        .unwrap();
    let page = page_of(&arn);
    let get = |path: &str, cookie: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n{cookie}Connection: close\r\n\r\n")
    };
    let post = |path: &str, cookie: &str| {
        format!("POST {path} HTTP/1.1\r\nHost: {address}\r\n{cookie}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 13\r\nConnection: close\r\n\r\nsteps=Prepare")
    };
    let wrong = "Cookie: pipelines_emulator_view=0000000000000000000000000000000000000000000000000000000000000000\r\n";
    for request in [
        get("/", ""),
        get(&page, ""),
        get(&format!("{page}/report"), ""),
        get("/?token=not-the-token", ""),
        get(&page, wrong),
        post(&format!("{page}/rerun"), ""),
        post(&format!("{page}/rerun"), wrong),
        post("/pipelines/view-demo/start", ""),
    ] {
        assert_eq!(status_of(address, &request).await, 403, "{request}");
    }
    let executions = stack.sagemaker.pipelines().executions_of("view-demo").len();
    assert_eq!(executions, 1, "no action was taken");
    let right = format!("Cookie: pipelines_emulator_view={token}\r\n");
    assert_eq!(status_of(address, &get(&page, &right)).await, 200);
    // The token in the URL: a redirect setting the cookie, HTTP-only and same-site.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(get(&format!("/?token={token}"), "").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let cookie = answer
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

/// A Callback step's panel shows its token and the message put on its queue (the
/// abalone pipeline the SDK wrote, its job steps on the mocks the demo uses).
#[tokio::test]
async fn a_callback_steps_panel_shows_its_token_and_the_message_sent() {
    let stack = deployed_stack(&[], None).await;
    let mocks =
        std::fs::read_to_string(workspace_root().join("infra/pipelines/abalone-mocks.json"))
            .unwrap();
    let pipelines = stack.sagemaker.pipelines();
    pipelines
        .jobs()
        .set_mocks(pipelines_emulator::Mocks::parse(&mocks).unwrap());
    let client = sagemaker_client(&stack);
    let definition = integration_tests::sdk_definition("v2", "abalone");
    let arn = create_and_start(&client, "abalone", &definition, &[]).await;
    integration_tests::wait_until(
        "the Callback step sent its message",
        std::time::Duration::from_secs(60),
        || {
            pipelines
                .read_execution(&arn, |e| {
                    e.steps
                        .iter()
                        .any(|s| s.name == "AbaloneApprove" && s.message.is_some())
                })
                .unwrap_or(false)
        },
    )
    .await;
    let html = stack.report(&arn).unwrap();
    let panel = &html[html.find("id=\"step-AbaloneApprove\"").unwrap()..];
    let panel = &panel[..panel.find("</details>").unwrap()];
    let token = pipelines
        .read_execution(&arn, |e| {
            e.steps
                .iter()
                .find(|s| s.name == "AbaloneApprove")
                .unwrap()
                .metadata["Callback"]["CallbackToken"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .unwrap();
    assert!(
        panel.contains("the message sent to its queue") && panel.contains(&token),
        "{panel}"
    );
    assert!(panel.contains("pipelineExecutionArn"), "{panel}");
    pipelines.request_stop(&arn).unwrap();
    finished(&stack, &arn).await;
}
