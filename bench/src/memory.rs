//! Peak RSS of each handler over 1,000 messages or events.

use std::path::Path;
use std::time::Duration;

use pipelines_emulator::Emulator;
use pipelines_emulator::LocalFunction;
use serde_json::json;

use crate::consumers::{peak_rss_mb, Consumer, Tokens};

async fn wait_until_completed(stack: &Emulator, cluster: &str, count: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let steps = stack.emr.engine().steps(cluster).unwrap_or_default();
        if steps.iter().filter(|s| s.state == "COMPLETED").count() == count {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the benchmark's EMR steps did not complete"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// 1,000 "EMR Step Status Change" events for 20 completed token-carrying steps: each
/// is described, checked for duplicates and reported (later reports are final conflicts).
pub async fn emr_events(stack: &Emulator, bin_dir: &Path) -> f64 {
    let engine = stack.emr.engine();
    let steps: Vec<_> = (0..20)
        .map(|i| {
            let token = format!("Emr{i:07}");
            stack.sagemaker.callbacks().register(&token);
            pipelines_emulator::NewStep {
                name: format!("bench [sm-callback:{token}]"),
                jar: "command-runner.jar".into(),
                args: vec!["true".into()],
                action_on_failure: "CONTINUE".into(),
            }
        })
        .collect();
    let cluster = engine.create_cluster(
        "bench",
        Some("s3://bench/logs/".into()),
        true,
        Vec::new(),
        steps,
    );
    wait_until_completed(stack, &cluster, 20).await;
    let records = engine.steps(&cluster).unwrap();
    let function = LocalFunction::start(stack.function_spec(
        "emr-events",
        bin_dir.join("emr-events"),
        Vec::new(),
        Vec::new(),
    ))
    .await
    .expect("start emr-events");
    for i in 0..1000 {
        let step = &records[i % records.len()];
        let event = json!({"version": "0", "id": format!("bench-{i}"), "detail-type": "EMR Step Status Change",
            "source": "aws.emr", "account": "123456789012", "time": "2026-11-24T20:53:09Z", "region": "us-east-1",
            "resources": [], "detail": {"severity": "INFO", "actionOnFailure": "CONTINUE", "stepId": step.id,
            "name": step.name, "clusterId": cluster, "state": "COMPLETED", "message": "completed"}});
        function.invoke(&event).await.expect("event handled");
    }
    peak_rss(&function).await
}

/// 1,000 flatten-json invocations.
pub async fn lambda_step(stack: &Emulator, bin_dir: &Path) -> f64 {
    let function = LocalFunction::start(stack.function_spec(
        "lambda-step",
        bin_dir.join("lambda-step"),
        Vec::new(),
        Vec::new(),
    ))
    .await
    .expect("start lambda-step");
    for i in 0..1000 {
        let inputs = json!({"function": "flatten-json", "json": json!({"metrics": {"auc": 0.9, "run": i}}).to_string()});
        function.invoke(&inputs).await.expect("invocation answered");
    }
    peak_rss(&function).await
}

/// callback-queue over 1,000 messages in batches of 10.
pub async fn callback_queue(stack: &Emulator, bin_dir: &Path, tokens: &mut Tokens) -> f64 {
    let function = Consumer::Rust.start(stack, bin_dir).await;
    let batches: Vec<_> = (0..100).map(|_| tokens.batch(stack, 10)).collect();
    for batch in &batches {
        function.invoke(batch).await.expect("batch answered");
    }
    peak_rss(&function).await
}

async fn peak_rss(function: &LocalFunction) -> f64 {
    function
        .pid()
        .await
        .and_then(peak_rss_mb)
        .unwrap_or(f64::NAN)
}
