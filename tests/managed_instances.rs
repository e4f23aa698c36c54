//! The handlers on Lambda Managed Instances: infra/template.yaml deployed with a
//! capacity provider, so the emulator runs each function as Lambda does there (one
//! process, `AWS_LAMBDA_MAX_CONCURRENCY` invocations at once, a no-op extension asking
//! for SIGTERM before a shutdown), and callback-queue's guarantees hold under it.

use std::collections::BTreeMap;
use std::time::Duration;

use integration_tests::{batch_item_failures, deployed_stack, wait_until, BusCapture};
use pipelines_emulator::{CallbackState, Emulator};
use sagemaker_custom_steps::task::{EVENT_SOURCE, STOPPING_DETAIL_TYPE, WAITING_DETAIL_TYPE};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(20);
const FUNCTION: &str = "CallbackQueueFunction";

/// The template deployed on a capacity provider, four invocations per process.
async fn on_managed_instances() -> Emulator {
    on_managed_instances_logging("INFO").await
}

async fn on_managed_instances_logging(level: &str) -> Emulator {
    deployed_stack(
        &[
            ("LogLevel", level),
            (
                "CapacityProviderArn",
                "arn:aws:lambda:us-east-1:123456789012:capacity-provider:steps",
            ),
            ("PerExecutionEnvironmentMaxConcurrency", "4"),
        ],
        None,
    )
    .await
}

/// One SQS record: a Callback step's message (`Some(token)`) or an unreadable body.
fn record(id: &str, token: Option<&str>, stopping: bool) -> Value {
    let body = match token {
        Some(token) => {
            let mut body = json!({"token": token, "arguments": {"task": "event"},
                "pipelineExecutionArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/demo/execution/lmi00001"});
            if stopping {
                body["status"] = json!("Stopping");
            }
            body.to_string()
        }
        None => "not a callback message".to_owned(),
    };
    json!({"messageId": id, "receiptHandle": "local", "body": body,
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:CallbackQueue",
        "awsRegion": "us-east-1"})
}

fn batch(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

/// The JSON log lines of the function, once `what` can be seen in them.
async fn logs_once(stack: &Emulator, what: &str) -> Vec<Value> {
    let function = stack.function(FUNCTION).unwrap();
    wait_until(&format!("the log shows {what}"), DEADLINE, || {
        function.logs().iter().any(|line| line.contains(what))
    })
    .await;
    function
        .logs()
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The request id of the invocation a line was logged in (the runtime's span).
fn request_id_of(line: &Value) -> Option<String> {
    line["spans"]
        .as_array()?
        .iter()
        .find_map(|span| span["requestId"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn two_batches_in_flight_in_one_process_keep_partial_failures_and_run_a_duplicate_once() {
    let stack = on_managed_instances().await;
    let function = stack.function(FUNCTION).unwrap();
    let pid = function.pid().await;
    let bus = BusCapture::new(&stack, EVENT_SOURCE).await;
    for token in ["LmiStop001", "LmiStart01", "LmiStart02"] {
        stack.sagemaker.callbacks().register(token);
    }
    // Reports take long enough that both batches are under way at once.
    stack
        .sagemaker
        .faults()
        .set_latency(Duration::from_millis(300));

    let first = batch(vec![
        record("first-stop", Some("LmiStop001"), true),
        record("first-unreadable", None, false),
        record("first-start", Some("LmiStart01"), false),
    ]);
    let second = batch(vec![
        record("second-stop", Some("LmiStop001"), true),
        record("second-unreadable", None, false),
        record("second-start", Some("LmiStart02"), false),
    ]);
    let (first, second) = tokio::join!(function.invoke(&first), function.invoke(&second));
    let (first, second) = (first.unwrap(), second.unwrap());

    assert_eq!(function.peak_in_flight(), 2, "the batches ran at once");
    assert_eq!(function.pid().await, pid, "in the one process");
    // Each answer names its own unreadable record, and only it.
    assert_eq!(batch_item_failures(&first), ["first-unreadable"]);
    assert_eq!(batch_item_failures(&second), ["second-unreadable"]);
    // The Stopping message ran once: one event, one report.
    let events = bus.expect(3, DEADLINE).await;
    let detail_types: BTreeMap<&str, &str> = events
        .iter()
        .map(|e| {
            (
                e["detail"]["token"].as_str().unwrap(),
                e["detail-type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        detail_types,
        BTreeMap::from([
            ("LmiStart01", WAITING_DETAIL_TYPE),
            ("LmiStart02", WAITING_DETAIL_TYPE),
            ("LmiStop001", STOPPING_DETAIL_TYPE),
        ])
    );
    assert!(bus.take(1, Duration::from_secs(1)).await.is_empty());
    assert_eq!(stack.sagemaker.requests_received(), 1);
    assert!(matches!(
        stack.sagemaker.callbacks().state("LmiStop001"),
        Some(CallbackState::Failed { .. })
    ));

    // Every line names its invocation, and the two invocations' lines stay apart.
    let lines = logs_once(&stack, "duplicate of a message under way").await;
    let request_of_token = |token: &str| -> String {
        let ids: Vec<String> = lines
            .iter()
            .filter(|l| l["span"]["token"] == token)
            .filter_map(request_id_of)
            .collect();
        assert!(!ids.is_empty(), "no line about {token}: {lines:#?}");
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "{token}: {ids:?}");
        ids[0].clone()
    };
    assert_ne!(
        request_of_token("LmiStart01"),
        request_of_token("LmiStart02")
    );
    // Metrics: each message counted once, across the two invocations' EMF lines.
    let counted = |outcome: &str| -> u64 {
        lines
            .iter()
            .filter(|l| l.get("_aws").is_some() && l["Outcome"] == outcome)
            .map(|l| l["Callbacks"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(counted("pending"), 2);
    assert_eq!(counted("failed"), 1);
    assert_eq!(counted("dlq"), 2);
}

/// Invokes callback-queue with the Stopping message of `token` in the background and
/// returns once its report to SageMaker (which takes `latency`) is under way: its event
/// is on the bus.
async fn report_under_way(
    stack: &Emulator,
    token: &str,
    latency: Duration,
) -> tokio::task::JoinHandle<Result<Value, pipelines_emulator::InvokeError>> {
    let function = stack.function(FUNCTION).unwrap();
    let bus = BusCapture::new(stack, EVENT_SOURCE).await;
    stack.sagemaker.callbacks().register(token);
    stack.sagemaker.faults().set_latency(latency);
    let event = batch(vec![record(token, Some(token), true)]);
    let invocation = tokio::spawn(async move { function.invoke(&event).await });
    bus.expect(1, DEADLINE).await;
    invocation
}

#[tokio::test]
async fn a_shutdown_lets_an_invocation_in_flight_finish_then_flushes_and_exits() {
    let stack = on_managed_instances().await;
    let function = stack.function(FUNCTION).unwrap();
    let invocation = report_under_way(&stack, "LmiDrain01", Duration::from_millis(200)).await;
    let ended = function.shutdown().await;

    assert_eq!(ended.as_deref(), Some("exit status: 0"));
    let answer = invocation.await.unwrap().expect("answered before the exit");
    assert!(batch_item_failures(&answer).is_empty(), "{answer}");
    assert!(matches!(
        stack.sagemaker.callbacks().state("LmiDrain01"),
        Some(CallbackState::Failed { .. })
    ));
    let lines = logs_once(&stack, "shutting down").await;
    let shutdown = lines
        .iter()
        .find(|l| l["fields"]["message"] == "shutting down")
        .unwrap();
    assert_eq!(shutdown["fields"]["signal"], "SIGTERM");
    assert_eq!(shutdown["fields"]["in_flight"], 1);
    assert!(lines.iter().any(|l| l["Outcome"] == "failed"));
    assert!(!function.logs().iter().any(|l| l.contains("handed back")));
}

#[tokio::test]
async fn a_shutdown_hands_back_what_outlasts_the_grace_and_still_writes_its_lines() {
    // DEBUG: the message's work logs a line before its report, which never ends here.
    let stack = on_managed_instances_logging("DEBUG").await;
    let function = stack.function(FUNCTION).unwrap();
    let invocation = report_under_way(&stack, "LmiSlow001", Duration::from_secs(3)).await;
    let ended = function.shutdown().await;

    assert_eq!(ended.as_deref(), Some("exit status: 0"));
    // No answer: the event source delivers the record again.
    assert!(invocation.await.unwrap().is_err());
    let lines = logs_once(&stack, "handed back").await;
    let handed_back = lines
        .iter()
        .find(|l| l["level"] == "WARN" && l["fields"]["handed_back"] == 1)
        .unwrap_or_else(|| panic!("no warning naming what was handed back: {lines:#?}"));
    assert_eq!(handed_back["fields"]["grace_ms"], 400);
    // The lines the unfinished invocation logged were flushed, not lost.
    assert!(
        lines.iter().any(|l| l["span"]["token"] == "LmiSlow001"),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn on_lambda_default_compute_a_function_registers_no_extension_and_is_killed() {
    let stack = deployed_stack(&[], None).await;
    let function = stack.function(FUNCTION).unwrap();
    // Its first poll for an invocation ends its init: by then it would have registered.
    let end = std::time::Instant::now() + DEADLINE;
    while function.init_duration().await.is_none() {
        assert!(
            std::time::Instant::now() < end,
            "callback-queue never polled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ended = function.shutdown().await;
    assert_eq!(ended.as_deref(), Some("killed"));
    assert!(!function.logs().iter().any(|l| l.contains("shutting down")));
}

/// A function in Python that registers two extensions before its first poll: one
/// subscribed to no event, as the handlers' is, and one asking for INVOKE events,
/// which the emulator does not send. It answers its invocation with what it was told,
/// then waits for the next.
const EXTENSION_PROBE: &str = r#"
import json, os, urllib.request, urllib.error
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
def register(name, events):
    request = urllib.request.Request(api + "/2020-01-01/extension/register",
        data=json.dumps({"events": events}).encode(), method="POST",
        headers={"Lambda-Extension-Name": name})
    try:
        with urllib.request.urlopen(request) as answer:
            return {"status": answer.status, "id": answer.headers["Lambda-Extension-Identifier"],
                    "body": json.load(answer)}
    except urllib.error.HTTPError as refused:
        return {"status": refused.code, "body": json.load(refused)}
told = {"none": register("no-op", []), "invoke": register("invokes", ["INVOKE"])}
with urllib.request.urlopen(api + "/2018-06-01/runtime/invocation/next") as invocation:
    request_id = invocation.headers["Lambda-Runtime-Aws-Request-Id"]
urllib.request.urlopen(urllib.request.Request(
    api + "/2018-06-01/runtime/invocation/" + request_id + "/response",
    data=json.dumps(told).encode(), method="POST"))
urllib.request.urlopen(api + "/2018-06-01/runtime/invocation/next")
"#;

#[tokio::test]
async fn the_extensions_api_registers_a_no_op_extension_and_refuses_events_it_never_sends() {
    let stack = Emulator::start().await.expect("emulator");
    let spec = stack.function_spec(
        "extension-probe",
        "python3".into(),
        vec!["-c".into(), EXTENSION_PROBE.into()],
        Vec::new(),
    );
    let function = pipelines_emulator::LocalFunction::start(spec)
        .await
        .expect("start the probe");
    let told = function.invoke(&json!({})).await.expect("answered");

    assert_eq!(told["none"]["status"], 200, "{told}");
    assert_eq!(told["none"]["body"]["functionName"], "extension-probe");
    assert_eq!(told["none"]["id"].as_str().map(str::len), Some(36));
    assert_eq!(told["invoke"]["status"], 400, "{told}");
    assert_eq!(told["invoke"]["body"]["errorType"], "Extension.Unsupported");
    let message = told["invoke"]["body"]["errorMessage"].as_str().unwrap();
    assert!(message.contains("INVOKE"), "{message}");
    // The one registered extension asks for SIGTERM; Python's default action ends it.
    assert_eq!(
        function.shutdown().await.as_deref(),
        Some("signal: 15 (SIGTERM)")
    );
}

/// A function in Python serving two invocations at once (a thread per slot, as
/// AWS_LAMBDA_MAX_CONCURRENCY says), each answering after `sleep` seconds with its pid.
const CONCURRENT_PROBE: &str = r#"
import json, os, threading, time, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
def worker():
    while True:
        with urllib.request.urlopen(api + "next") as invocation:
            request_id = invocation.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.load(invocation)
        time.sleep(event["sleep"])
        answer = json.dumps({"pid": os.getpid(), "slept": event["sleep"]}).encode()
        urllib.request.urlopen(urllib.request.Request(api + request_id + "/response",
            data=answer, method="POST"))
workers = [threading.Thread(target=worker) for _ in range(int(os.environ["AWS_LAMBDA_MAX_CONCURRENCY"]))]
for w in workers: w.start()
for w in workers: w.join()
"#;

#[tokio::test]
async fn a_timeout_fails_its_invocation_only_and_the_process_serves_on() {
    let stack = Emulator::start().await.expect("emulator");
    let mut spec = stack.function_spec(
        "concurrent-probe",
        "python3".into(),
        vec!["-c".into(), CONCURRENT_PROBE.into()],
        Vec::new(),
    );
    spec.max_concurrency = 2;
    spec.timeout = Duration::from_secs(1);
    let function = pipelines_emulator::LocalFunction::start(spec)
        .await
        .expect("start the probe");
    let pid = function.pid().await.unwrap();

    let (slow, quick) = (json!({"sleep": 3}), json!({"sleep": 0.2}));
    let (slow, quick) = tokio::join!(function.invoke(&slow), function.invoke(&quick));
    assert_eq!(
        slow,
        Err(pipelines_emulator::InvokeError::Timeout(
            Duration::from_secs(1)
        ))
    );
    assert_eq!(
        quick.unwrap()["pid"],
        pid,
        "answered beside the timed-out one"
    );
    // The process was not ended: it answers the next call, the slow one still under way.
    let next = function.invoke(&json!({"sleep": 0})).await.unwrap();
    assert_eq!(next["pid"], pid);
    assert_eq!(function.pid().await, Some(pid));
}
