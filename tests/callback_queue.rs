//! callback-queue under the emulator's Lambda Runtime API, with EventBridge and SQS
//! on moto server and SageMaker on the emulator's endpoint, fed the events/ files.

use std::time::Duration;

use integration_tests::{
    batch_item_failures, fixture, reported, tokens_in, wait_until, BusCapture,
};
use pipelines_emulator::CallbackState;
use pipelines_emulator::Emulator;
use sagemaker_custom_steps::task::{EVENT_SOURCE, STOPPING_DETAIL_TYPE, WAITING_DETAIL_TYPE};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(20);

async fn stack() -> Emulator {
    let mut stack = Emulator::start().await.expect("emulator");
    stack
        .add_function(
            "callback-queue",
            "callback-queue",
            &[("EVENT_BUS_NAME", "default")],
        )
        .await
        .expect("callback-queue function");
    stack
}

/// Invokes callback-queue with a fixture whose tokens are waiting callback steps.
async fn invoke(stack: &Emulator, name: &str) -> Value {
    let event = fixture(name);
    for token in tokens_in(&event) {
        stack.sagemaker.callbacks().register(&token);
    }
    stack
        .function("callback-queue")
        .unwrap()
        .invoke(&event)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn failure_reason(state: CallbackState) -> String {
    match state {
        CallbackState::Failed { reason, .. } => reason,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn event_task_start_publishes_waiting_and_leaves_the_step_pending() {
    let stack = stack().await;
    let bus = BusCapture::new(&stack, EVENT_SOURCE).await;

    let response = invoke(&stack, "sqs-start.json").await;
    assert!(batch_item_failures(&response).is_empty(), "{response}");

    let events = bus.expect(1, DEADLINE).await;
    assert_eq!(events[0]["detail-type"], WAITING_DETAIL_TYPE);
    assert_eq!(events[0]["detail"]["token"], "StartTok01");
    assert_eq!(events[0]["detail"]["arguments"]["approver"], "ml-platform");
    assert_eq!(
        events[0]["detail"]["pipelineExecutionArn"],
        "arn:aws:sagemaker:us-east-1:123456789012:pipeline/demo-pipeline/execution/7pinimwddh3a"
    );
    assert_eq!(
        stack.sagemaker.callbacks().state("StartTok01"),
        Some(CallbackState::Waiting)
    );
    assert_eq!(stack.sagemaker.requests_received(), 0);
}

#[tokio::test]
async fn event_task_stopping_publishes_then_reports_failure() {
    let stack = stack().await;
    let bus = BusCapture::new(&stack, EVENT_SOURCE).await;

    let response = invoke(&stack, "sqs-stopping.json").await;
    assert!(batch_item_failures(&response).is_empty(), "{response}");

    let events = bus.expect(1, DEADLINE).await;
    assert_eq!(events[0]["detail-type"], STOPPING_DETAIL_TYPE);
    assert_eq!(events[0]["detail"]["token"], "StopTok001");
    let reason = failure_reason(reported(&stack, "StopTok001").await);
    assert!(reason.contains("stopping"), "{reason}");
}

#[tokio::test]
async fn unknown_task_and_malformed_argument_fail_the_step_with_a_named_reason() {
    let stack = stack().await;

    invoke(&stack, "sqs-unknown-task.json").await;
    assert_eq!(
        failure_reason(reported(&stack, "UnknownTk1").await),
        "unknown task 'teleport'; tasks: event, emr"
    );

    invoke(&stack, "sqs-malformed-argument.json").await;
    let reason = failure_reason(reported(&stack, "BadArgTok1").await);
    assert!(
        reason.starts_with("argument 'task' must be a string"),
        "{reason}"
    );
}

#[tokio::test]
async fn unreadable_token_and_non_json_body_are_batch_item_failures_and_nothing_is_reported() {
    let stack = stack().await;
    for name in ["sqs-unreadable-token.json", "sqs-not-json.json"] {
        let event = fixture(name);
        let response = invoke(&stack, name).await;
        assert_eq!(
            batch_item_failures(&response),
            [event["Records"][0]["messageId"].as_str().unwrap()],
            "{name}"
        );
    }
    assert_eq!(stack.sagemaker.requests_received(), 0);
}

#[tokio::test]
async fn nested_arguments_reach_the_bus_intact() {
    let stack = stack().await;
    let bus = BusCapture::new(&stack, EVENT_SOURCE).await;
    invoke(&stack, "sqs-nested-arguments.json").await;
    let events = bus.expect(1, DEADLINE).await;
    let arguments = &events[0]["detail"]["arguments"];
    assert_eq!(arguments["config"]["instances"][1], 2);
    assert_eq!(arguments["config"]["spot"], true);
    assert_eq!(arguments["tags"][0], "a");
}

#[tokio::test]
async fn a_batch_of_ten_publishes_ten_events() {
    let stack = stack().await;
    let bus = BusCapture::new(&stack, EVENT_SOURCE).await;
    let event = fixture("sqs-batch-10.json");
    let response = invoke(&stack, "sqs-batch-10.json").await;
    assert!(batch_item_failures(&response).is_empty(), "{response}");
    let events = bus.expect(10, DEADLINE).await;
    let tokens: Vec<&str> = events
        .iter()
        .map(|e| e["detail"]["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, tokens_in(&event));
}

#[tokio::test]
async fn log_lines_are_json_with_token_arn_and_message_id_and_no_payload() {
    let stack = stack().await;
    invoke(&stack, "sqs-unknown-task.json").await;
    reported(&stack, "UnknownTk1").await;

    let function = stack.function("callback-queue").unwrap();
    // The lines reach the stack through a pipe read by a task of its own.
    wait_until("the lines about the message are kept", DEADLINE, || {
        function.logs().iter().any(|l| l.contains("UnknownTk1"))
    })
    .await;
    let lines: Vec<Value> = function
        .logs()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let about_message: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["name"] == "message")
        .collect();
    assert!(
        !about_message.is_empty(),
        "no line about the message: {lines:?}"
    );
    for line in about_message {
        assert_eq!(line["span"]["token"], "UnknownTk1");
        assert_eq!(
            line["span"]["message_id"],
            "0c3c5e2d-7a1f-4b7e-9b8f-000000000000"
        );
        assert!(line["span"]["execution_arn"]
            .as_str()
            .unwrap()
            .ends_with("/execution/7pinimwddh3a"));
    }
    assert!(
        !function.logs().iter().any(|l| l.contains("\"arguments\"")),
        "a log line carries the payload"
    );
}

/// The EMF lines a function wrote, once `count` are kept.
async fn emf_lines(stack: &Emulator, function: &str, count: usize) -> Vec<Value> {
    let function = stack.function(function).unwrap();
    let emf = || -> Vec<Value> {
        function
            .logs()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l.get("_aws").is_some())
            .collect()
    };
    wait_until("the EMF lines are kept", DEADLINE, || emf().len() >= count).await;
    emf()
}

#[tokio::test]
async fn each_invocation_writes_emf_metrics_per_task_and_outcome() {
    let stack = stack().await;
    invoke(&stack, "sqs-start.json").await;
    invoke(&stack, "sqs-unknown-task.json").await;
    reported(&stack, "UnknownTk1").await;
    invoke(&stack, "sqs-unreadable-token.json").await;

    let lines = emf_lines(&stack, "callback-queue", 5).await;
    let cold: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("ColdStart").is_some())
        .collect();
    assert_eq!(
        cold.len(),
        1,
        "one ColdStart, on the first invocation: {lines:#?}"
    );
    assert_eq!(cold[0]["ColdStart"], 1);
    let callbacks = |task: &str, outcome: &str| {
        lines
            .iter()
            .find(|l| l["Task"] == task && l["Outcome"] == outcome)
            .unwrap_or_else(|| panic!("no Callbacks line for {task}/{outcome}: {lines:#?}"))
            .clone()
    };
    let pending = callbacks("event", "pending");
    assert_eq!(pending["Callbacks"], 1);
    assert_eq!(pending["Function"], "callback-queue");
    let meta = &pending["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(
        meta["Namespace"],
        sagemaker_custom_steps::metrics::NAMESPACE
    );
    assert_eq!(
        meta["Dimensions"],
        serde_json::json!([["Function", "Task", "Outcome"]])
    );
    assert_eq!(
        callbacks("-", "failed")["Callbacks"],
        1,
        "the unknown task was reported failed"
    );
    assert_eq!(
        callbacks("-", "dlq")["Callbacks"],
        1,
        "the unreadable token is left for the DLQ"
    );
    let latency = lines
        .iter()
        .find(|l| l.get("ReportLatency").is_some())
        .expect("a report latency line");
    assert!(latency["ReportLatency"][0].as_f64().unwrap() > 0.0);
    for line in &lines {
        let text = line.to_string();
        assert!(
            !text.contains("UnknownTk1") && !text.contains("arn:aws"),
            "a dimension carries a token or an ARN: {text}"
        );
    }
}
