//! Fault tests: duplicate and concurrent delivery, a SageMaker that throttles and fails
//! for a while, and hostile message bodies. Deterministic: no timing decides a result.

use std::time::Duration;

use integration_tests::{batch_item_failures, callback_event, deployed_stack};
use pipelines_emulator::CallbackState;
use pipelines_emulator::STANDING_CLUSTER_ID;
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(60);
const EXECUTION_ARN: &str =
    "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/fault0001";

#[tokio::test]
async fn one_message_delivered_five_times_some_concurrently_runs_one_step_and_reports_once() {
    let mut stack = deployed_stack(&[], None).await;
    // A second sandbox of the same function, as Lambda scales out under a full queue.
    let template_env = [("EVENT_BUS_NAME", "default"), ("RECORD_CONCURRENCY", "10")];
    let second = stack
        .add_function("callback-queue-2", "callback-queue", &template_env)
        .await
        .unwrap();
    let first = stack.function("CallbackQueueFunction").unwrap();
    stack.sagemaker.callbacks().register("FiveTimes1");
    let arguments = json!({"task": "emr", "cluster_id": STANDING_CLUSTER_ID, "args": "[\"sleep\",\"1\"]", "step_name": "once"});
    let event = callback_event("FiveTimes1", arguments, false);

    for _ in 0..2 {
        let (a, b) = tokio::join!(first.invoke(&event), second.invoke(&event));
        assert!(batch_item_failures(&a.unwrap()).is_empty());
        assert!(batch_item_failures(&b.unwrap()).is_empty());
    }
    assert!(batch_item_failures(&first.invoke(&event).await.unwrap()).is_empty());

    let state = stack
        .sagemaker
        .callbacks()
        .wait_for_report("FiveTimes1", DEADLINE)
        .await
        .expect("reported");
    assert!(
        matches!(state, CallbackState::Succeeded { .. }),
        "{state:?}"
    );
    let steps = stack.emr.engine().steps(STANDING_CLUSTER_ID).unwrap();
    let ran: Vec<_> = steps.iter().filter(|s| s.started.is_some()).collect();
    assert_eq!(ran.len(), 1, "exactly one EMR step ran: {steps:#?}");
    eprintln!(
        "EMR steps submitted for one message delivered five times: {}",
        steps.len()
    );
    assert!(steps
        .iter()
        .filter(|s| s.id != ran[0].id)
        .all(|s| s.state == "CANCELLED"));
    assert_eq!(stack.sagemaker.requests_received(), 1, "one report");
}

#[tokio::test]
async fn a_sagemaker_throttling_and_failing_for_a_while_loses_no_message() {
    let stack = deployed_stack(&[], Some(Duration::from_secs(1))).await;
    let tokens: Vec<String> = (0..10).map(|i| format!("Recover{i:03}")).collect();
    for token in &tokens {
        stack.sagemaker.callbacks().register(token);
    }
    // Each report is tried 3 times by the SDK: 30 errors fail the first delivery of
    // every message, so all ten go back to the queue and through again.
    stack.sagemaker.faults().throttle_next(15);
    stack.sagemaker.faults().fail_next(15);
    let sqs = stack.sqs_client();
    for token in &tokens {
        let body = json!({"token": token, "pipelineExecutionArn": EXECUTION_ARN, "arguments": {"task": "no-such-task"}});
        sqs.send_message()
            .queue_url(stack.queue_url("CallbackQueue").unwrap())
            .message_body(body.to_string())
            .send()
            .await
            .unwrap();
    }
    for token in &tokens {
        let state = stack
            .sagemaker
            .callbacks()
            .wait_for_report(token, DEADLINE)
            .await
            .unwrap_or_else(|| panic!("{token} lost"));
        let CallbackState::Failed { reason, .. } = state else {
            panic!("{token}: {state:?}")
        };
        assert!(
            reason.starts_with("unknown task 'no-such-task'"),
            "{reason}"
        );
    }
    assert!(
        stack.sagemaker.requests_received() >= 40,
        "the errors were met: {}",
        stack.sagemaker.requests_received()
    );
    let dlq = sqs
        .receive_message()
        .queue_url(stack.queue_url("CallbackDeadLetterQueue").unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        dlq.messages.unwrap_or_default().is_empty(),
        "nothing went to the DLQ"
    );
}

/// A small deterministic generator (xorshift), so the same 1,000 bodies every run.
struct Bodies(u64);

impl Bodies {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    /// A hostile body, and the token it can be reported on (None: it cannot be).
    fn body(&mut self, index: usize) -> (String, Option<String>) {
        let token = format!("Fz{index:08}");
        let good = |extra: Value| {
            let mut body = json!({"token": token, "pipelineExecutionArn": EXECUTION_ARN, "arguments": {"task": "emr"}});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            body.to_string()
        };
        match self.next() % 16 {
            // Unreportable: no readable token.
            0 => (
                "{\"token\": \"".to_owned() + &"x".repeat((self.next() % 5000) as usize),
                None,
            ),
            1 => (
                self.pick(&["[]", "42", "null", "\"token\"", "true", "{}"])
                    .to_owned(),
                None,
            ),
            2 => (json!({"token": self.next()}).to_string(), None),
            3 => (
                json!({"token": [token], "pipelineExecutionArn": EXECUTION_ARN}).to_string(),
                None,
            ),
            4 => (json!({"token": "short"}).to_string(), None),
            5 => (json!({"token": "T".repeat(200_000)}).to_string(), None),
            6 => (
                format!(
                    "{{\"token\": \"{}\", \"arguments\": {}1{}}}",
                    token,
                    "[".repeat(300),
                    "]".repeat(300)
                ),
                None,
            ),
            7 => (format!("{{\"token\": \"Fz\\ud800{:05}\"}}", index), None),
            8 => (json!({"token": "Fz0000000é"}).to_string(), None),
            // Reportable: a good token, a bad message.
            9 => (
                good(
                    json!({"pipelineExecutionArn": self.pick(&["", "arn:aws:s3:::bucket", "arn:aws:sagemaker:us-east-1:1:pipeline/p"])}),
                ),
                Some(token),
            ),
            10 => (good(json!({"pipelineExecutionArn": 7})), Some(token)),
            11 => (
                good(json!({"status": self.pick(&["Paused", "stopping", ""])})),
                Some(token),
            ),
            12 => (
                good(json!({"arguments": {"task": self.pick(&["", "EMR", "teleport"])}})),
                Some(token),
            ),
            13 => (good(json!({"arguments": {"task": ["emr"]}})), Some(token)),
            14 => (
                good(
                    json!({"arguments": {"task": "emr", "cluster_id": "j-X", "args": "x".repeat(100_000)}}),
                ),
                Some(token),
            ),
            _ => (
                good(
                    json!({"arguments": {"task": "emr", "cluster_config": "{\"Steps\":[]}", "args": "[\"\\ud800\"]"}}),
                ),
                Some(token),
            ),
        }
    }
}

#[tokio::test]
async fn a_thousand_hostile_bodies_never_panic_and_each_is_reported_or_kept_for_the_dlq() {
    let stack = deployed_stack(&[], None).await;
    let function = stack.function("CallbackQueueFunction").unwrap();
    let mut bodies = Bodies(0x9e37_79b9_7f4a_7c15);
    let (mut reportable, mut unreportable) = (0, 0);
    for batch in 0..100 {
        let mut records = Vec::new();
        let mut expected = Vec::new();
        for i in 0..10 {
            let index = batch * 10 + i;
            let (body, token) = bodies.body(index);
            if let Some(token) = &token {
                stack.sagemaker.callbacks().register(token);
            }
            let message_id = format!("hostile-{index}");
            records.push(json!({"messageId": message_id, "receiptHandle": "r", "body": body, "attributes": {},
                "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:CallbackQueue"}));
            expected.push((message_id, token));
        }
        let response = function
            .invoke(&json!({"Records": records}))
            .await
            .expect("the handler answers");
        let failures = batch_item_failures(&response);
        for (message_id, token) in expected {
            match token {
                Some(token) => {
                    reportable += 1;
                    assert!(
                        !failures.contains(&message_id),
                        "{message_id} has a token and must not be retried"
                    );
                    let state = stack.sagemaker.callbacks().state(&token);
                    assert!(
                        matches!(state, Some(CallbackState::Failed { .. })),
                        "{message_id}: {state:?}"
                    );
                }
                None => {
                    unreportable += 1;
                    assert!(
                        failures.contains(&message_id),
                        "{message_id} must stay for the DLQ"
                    );
                }
            }
        }
    }
    assert!(
        reportable > 300 && unreportable > 300,
        "both kinds were generated: {reportable} / {unreportable}"
    );
    let logs = function.logs();
    assert!(
        !logs.iter().any(|l| l.contains("panicked")),
        "a record panicked"
    );
    assert!(
        logs.iter().all(|l| l.len() < 20_000),
        "no log line carries a huge payload"
    );
}
