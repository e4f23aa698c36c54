//! The callback batch runner on in-memory adapters: which records are retried, what is
//! reported, and that one record's trouble stays with that record.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use sagemaker_custom_steps::batch::BatchRunner;
use sagemaker_custom_steps::bus::InMemoryBus;
use sagemaker_custom_steps::callback::CallbackMessage;
use sagemaker_custom_steps::fields::{FieldKind, Fields};
use sagemaker_custom_steps::outcome::StepOutcome;
use sagemaker_custom_steps::processing::CallbackProcessor;
use sagemaker_custom_steps::report::{InMemoryReporter, ReportError};
use sagemaker_custom_steps::task::{
    CallbackTask, EventTask, RetryableError, TaskOutcome, TaskRegistry,
};
use serde_json::json;

const ARN: &str = "arn:aws:sagemaker:us-east-2:012345678901:pipeline/p/execution/7pinimwddh3a";

fn body(token: &str, arguments: serde_json::Value) -> String {
    json!({"token": token, "pipelineExecutionArn": ARN, "arguments": arguments}).to_string()
}

fn event(bodies: &[String]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut record = SqsMessage::default();
            record.message_id = Some(format!("m{i}"));
            record.body = Some(body.clone());
            record
        })
        .collect();
    event
}

fn failed_ids(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

/// A task that needs an argument, counts its starts, and panics when told to.
#[derive(Default)]
struct ProbeTask {
    starts: AtomicUsize,
}

#[async_trait]
impl CallbackTask for ProbeTask {
    fn name(&self) -> &'static str {
        "probe"
    }

    async fn start(&self, message: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
        self.starts.fetch_add(1, Ordering::SeqCst);
        let fields = Fields::new(&message.arguments, FieldKind::Argument);
        if fields.bool_or("panic", false).unwrap_or(false) {
            panic!("probe told to panic");
        }
        match fields
            .u32_or("size", 0)
            .and_then(|_| fields.required_str("name"))
        {
            Ok(name) => {
                let mut outputs = sagemaker_custom_steps::outcome::OutputParameters::new();
                outputs.push("Name", name).unwrap();
                Ok(TaskOutcome::Succeeded(outputs))
            }
            Err(err) => Ok(TaskOutcome::failed(format!("task probe: {err}"))),
        }
    }

    async fn stop(&self, _: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
        Ok(TaskOutcome::failed("stopped"))
    }
}

struct Harness {
    runner: BatchRunner,
    reporter: Arc<InMemoryReporter>,
    bus: Arc<InMemoryBus>,
    probe: Arc<ProbeTask>,
}

fn harness() -> Harness {
    let reporter = Arc::new(InMemoryReporter::new());
    let bus = Arc::new(InMemoryBus::new());
    let probe = Arc::new(ProbeTask::default());
    let tasks = TaskRegistry::new(None)
        .with(EventTask::new(bus.clone()))
        .with(probe.clone());
    let runner = BatchRunner::new(CallbackProcessor::new(tasks, reporter.clone()), 4);
    Harness {
        runner,
        reporter,
        bus,
        probe,
    }
}

fn failure_reason(outcome: Option<StepOutcome>) -> String {
    match outcome {
        Some(StepOutcome::Failed(reason)) => reason.to_string(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn unknown_task_and_bad_arguments_fail_the_step_with_a_named_reason() {
    let h = harness();
    let response = h
        .runner
        .run(event(&[
            body("tokenAAAA1", json!({"task": "teleport"})),
            body("tokenAAAA2", json!({"task": "probe"})),
            body(
                "tokenAAAA3",
                json!({"task": "probe", "name": "x", "size": "huge"}),
            ),
            body("tokenAAAA4", json!({"task": 7})),
            body("tokenAAAA5", json!({})),
        ]))
        .await;
    assert!(failed_ids(&response).is_empty());
    assert_eq!(
        failure_reason(h.reporter.report_for("tokenAAAA1")),
        "unknown task 'teleport'; tasks: event, probe"
    );
    assert_eq!(
        failure_reason(h.reporter.report_for("tokenAAAA2")),
        "task probe: argument 'name' is required"
    );
    assert!(failure_reason(h.reporter.report_for("tokenAAAA3"))
        .starts_with("task probe: argument 'size' must be a whole number"));
    assert!(failure_reason(h.reporter.report_for("tokenAAAA4"))
        .starts_with("argument 'task' must be a string"));
    assert!(failure_reason(h.reporter.report_for("tokenAAAA5")).starts_with("no task"));
}

#[tokio::test]
async fn unreadable_token_and_non_json_body_are_retried_and_nothing_is_reported() {
    let h = harness();
    let response = h
        .runner
        .run(event(&[
            body("bad token!", json!({"task": "event"})),
            "this is not json".to_owned(),
            body("tokenAAAA1", json!({"task": "event"})),
        ]))
        .await;
    assert_eq!(failed_ids(&response), ["m0", "m1"]);
    assert_eq!(h.reporter.calls(), 0);
    assert_eq!(h.bus.events().len(), 1);
}

#[tokio::test]
async fn a_retryable_report_error_fails_that_record_only() {
    let h = harness();
    h.reporter.fail_next([ReportError::Transient(
        "ThrottlingException: Rate exceeded".into(),
    )]);
    // Run one record at a time so that the scripted error meets the first report.
    let runner = BatchRunner::new(
        CallbackProcessor::new(
            TaskRegistry::new(None).with(h.probe.clone()),
            h.reporter.clone(),
        ),
        1,
    );
    let response = runner
        .run(event(&[
            body("tokenAAAA1", json!({"task": "probe", "name": "a"})),
            body("tokenAAAA2", json!({"task": "probe", "name": "b"})),
        ]))
        .await;
    assert_eq!(failed_ids(&response), ["m0"]);
    assert!(h.reporter.report_for("tokenAAAA1").is_none());
    assert!(matches!(
        h.reporter.report_for("tokenAAAA2"),
        Some(StepOutcome::Succeeded(_))
    ));
}

#[tokio::test]
async fn an_answer_that_the_step_is_no_longer_waiting_is_final() {
    let h = harness();
    h.reporter.fail_next([ReportError::NoLongerWaiting(
        "ConflictException: already reported".into(),
    )]);
    let response = h
        .runner
        .run(event(&[body(
            "tokenAAAA1",
            json!({"task": "probe", "name": "a"}),
        )]))
        .await;
    assert!(failed_ids(&response).is_empty());
    assert_eq!(h.reporter.calls(), 1);
}

#[tokio::test]
async fn the_same_token_twice_in_a_batch_starts_its_task_once() {
    let h = harness();
    let message = body("tokenAAAA1", json!({"task": "probe", "name": "a"}));
    let response = h.runner.run(event(&[message.clone(), message])).await;
    assert!(failed_ids(&response).is_empty());
    assert_eq!(h.probe.starts.load(Ordering::SeqCst), 1);
    assert_eq!(h.reporter.calls(), 1);
}

#[tokio::test]
async fn a_panicking_task_fails_its_record_only() {
    let h = harness();
    let response = h
        .runner
        .run(event(&[
            body("tokenAAAA1", json!({"task": "probe", "panic": true})),
            body("tokenAAAA2", json!({"task": "probe", "name": "b"})),
        ]))
        .await;
    assert_eq!(failed_ids(&response), ["m0"]);
    assert!(h.reporter.report_for("tokenAAAA1").is_none());
    assert!(h.reporter.report_for("tokenAAAA2").is_some());
}

#[tokio::test]
async fn refused_outputs_fail_the_step_instead_of_leaving_it_waiting() {
    let h = harness();
    h.reporter.fail_next([ReportError::Rejected(
        "ValidationException: Value at 'outputParameters.1.member.value' failed".into(),
    )]);
    let response = h
        .runner
        .run(event(&[body(
            "tokenAAAA1",
            json!({"task": "probe", "name": "a"}),
        )]))
        .await;
    assert!(failed_ids(&response).is_empty());
    assert!(failure_reason(h.reporter.report_for("tokenAAAA1"))
        .starts_with("SageMaker refused the step's outputs"));
}

#[tokio::test]
async fn a_stopping_message_of_the_event_task_publishes_then_fails_the_step() {
    let h = harness();
    let stopping = json!({"token": "tokenAAAA1", "pipelineExecutionArn": ARN,
        "arguments": {"task": "event"}, "status": "Stopping"})
    .to_string();
    let response = h.runner.run(event(&[stopping])).await;
    assert!(failed_ids(&response).is_empty());
    assert_eq!(h.bus.events().len(), 1);
    assert!(failure_reason(h.reporter.report_for("tokenAAAA1")).contains("stopping"));
}

/// A task that holds its start until released, so a test can run a second batch while
/// the first is under way (two invocations in flight in one process).
#[derive(Default)]
struct GateTask {
    starts: AtomicUsize,
    started: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[async_trait]
impl CallbackTask for GateTask {
    fn name(&self) -> &'static str {
        "gate"
    }

    async fn start(&self, _: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
        self.starts.fetch_add(1, Ordering::SeqCst);
        self.started.notify_one();
        self.release.notified().await;
        Ok(TaskOutcome::Succeeded(Default::default()))
    }

    async fn stop(&self, _: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
        Ok(TaskOutcome::failed("stopped"))
    }
}

#[tokio::test]
async fn a_copy_under_way_in_another_invocation_is_skipped_and_a_later_copy_runs() {
    let reporter = Arc::new(InMemoryReporter::new());
    let gate = Arc::new(GateTask::default());
    let tasks = TaskRegistry::new(None).with(gate.clone());
    let runner = Arc::new(BatchRunner::new(
        CallbackProcessor::new(tasks, reporter.clone()),
        4,
    ));
    let message = body("tokenGATE1", json!({"task": "gate"}));

    let first = tokio::spawn({
        let (runner, message) = (runner.clone(), message.clone());
        async move { runner.run(event(&[message])).await }
    });
    gate.started.notified().await;
    let second = runner.run(event(std::slice::from_ref(&message))).await;
    assert!(failed_ids(&second).is_empty(), "the copy is not retried");
    assert_eq!(gate.starts.load(Ordering::SeqCst), 1);

    gate.release.notify_one();
    assert!(failed_ids(&first.await.unwrap()).is_empty());
    assert_eq!(gate.starts.load(Ordering::SeqCst), 1);
    assert_eq!(reporter.calls(), 1);

    // Once the first has ended, a redelivery is run (and reported again, idempotently).
    gate.release.notify_one();
    runner.run(event(&[message])).await;
    assert_eq!(gate.starts.load(Ordering::SeqCst), 2);
}
