//! emr-events' domain on the in-memory EMR: status events, cluster terminations, and
//! reconcile of events that never arrived.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use sagemaker_custom_steps::callback::CallbackToken;
use sagemaker_custom_steps::emr::{
    step_name, ClusterState, FailureDetails, InMemoryEmr, StepState,
};
use sagemaker_custom_steps::emr_status::{EmrEvent, EmrStatusHandler, ReconcileWindow};
use sagemaker_custom_steps::outcome::StepOutcome;
use sagemaker_custom_steps::report::{InMemoryReporter, ReportError};
use serde_json::{json, Value};

const CLUSTER: &str = "j-RUNNING01";

fn token(t: &str) -> CallbackToken {
    CallbackToken::parse(t).unwrap()
}

struct Harness {
    emr: Arc<InMemoryEmr>,
    reporter: Arc<InMemoryReporter>,
    handler: EmrStatusHandler<Arc<InMemoryEmr>, Arc<InMemoryReporter>>,
}

fn harness() -> Harness {
    let emr = Arc::new(InMemoryEmr::new());
    emr.add_cluster(CLUSTER, ClusterState::Waiting, Some("s3://logs/emr/"));
    let reporter = Arc::new(InMemoryReporter::new());
    let window = ReconcileWindow {
        ended_within: Duration::from_secs(3600),
        clusters_created_within: Duration::from_secs(24 * 3600),
    };
    let handler = EmrStatusHandler::new(emr.clone(), reporter.clone(), window);
    Harness {
        emr,
        reporter,
        handler,
    }
}

fn eventbridge(detail_type: &str, source: &str, detail: Value) -> EmrEvent {
    let event: CloudWatchEvent<Value> = serde_json::from_value(json!({
        "version": "0", "id": "e", "detail-type": detail_type, "source": source,
        "account": "123456789012", "time": "2026-11-24T20:53:09Z", "region": "us-east-1",
        "resources": [], "detail": detail
    }))
    .unwrap();
    EmrEvent::from_eventbridge(event).unwrap()
}

fn step_event(step_id: &str, name: &str, state: &str) -> EmrEvent {
    eventbridge(
        "EMR Step Status Change",
        "aws.emr",
        json!({"severity": "INFO", "actionOnFailure": "CONTINUE", "stepId": step_id, "name": name,
               "clusterId": CLUSTER, "state": state, "message": "m"}),
    )
}

fn cluster_event(name: &str, state: &str, reason: &str) -> EmrEvent {
    eventbridge(
        "EMR Cluster State Change",
        "aws.emr",
        json!({"severity": "INFO", "stateChangeReason": reason, "name": name, "clusterId": CLUSTER,
               "state": state, "message": "m"}),
    )
}

#[tokio::test]
async fn a_completed_step_reports_success_with_its_outputs() {
    let h = harness();
    let name = step_name("features", &token("EmrTok0001"));
    let step = h
        .emr
        .add_existing_step(CLUSTER, &name, StepState::Completed);
    let handled = h
        .handler
        .handle(step_event(&step, &name, "COMPLETED"))
        .await
        .unwrap();
    assert_eq!(handled.reported, 1);
    let Some(StepOutcome::Succeeded(outputs)) = h.reporter.report_for("EmrTok0001") else {
        panic!("no success")
    };
    assert_eq!(outputs.get("ClusterId"), Some(CLUSTER));
    assert_eq!(outputs.get("StepId"), Some(step.as_str()));
    assert_eq!(outputs.get("State"), Some("COMPLETED"));
    assert_eq!(
        outputs.get("LogUri"),
        Some(format!("s3://logs/emr/{CLUSTER}/steps/{step}/").as_str())
    );
}

#[tokio::test]
async fn failed_cancelled_and_interrupted_steps_report_failure_with_emr_details() {
    for (i, state) in ["FAILED", "CANCELLED", "INTERRUPTED"]
        .into_iter()
        .enumerate()
    {
        let h = harness();
        let t = format!("EmrTok000{i}");
        let name = step_name("features", &token(&t));
        let step = h
            .emr
            .add_existing_step(CLUSTER, &name, StepState::parse(state));
        h.emr.set_step_state(
            &step,
            StepState::parse(state),
            Some(FailureDetails {
                reason: Some("Unknown Error.".into()),
                message: Some("x".repeat(400)),
                log_file: Some("s3://logs/stderr.gz".into()),
            }),
        );
        h.handler
            .handle(step_event(&step, &name, state))
            .await
            .unwrap();
        let Some(StepOutcome::Failed(reason)) = h.reporter.report_for(&t) else {
            panic!("no failure")
        };
        assert!(reason.as_str().starts_with(&format!(
            "EMR step {step} on cluster {CLUSTER} {state}: Unknown Error.: xxx"
        )));
        assert_eq!(
            reason.as_str().chars().count(),
            256,
            "cut to the API's limit"
        );
    }
}

#[tokio::test]
async fn other_states_and_steps_without_a_token_are_ignored() {
    let h = harness();
    let name = step_name("features", &token("EmrTok0001"));
    let step = h.emr.add_existing_step(CLUSTER, &name, StepState::Running);
    assert!(h
        .handler
        .handle(step_event(&step, &name, "RUNNING"))
        .await
        .unwrap()
        .ignored
        .is_some());
    let theirs = h
        .emr
        .add_existing_step(CLUSTER, "SageMaker EMR step", StepState::Completed);
    let handled = h
        .handler
        .handle(step_event(&theirs, "SageMaker EMR step", "COMPLETED"))
        .await
        .unwrap();
    assert!(handled.ignored.unwrap().contains("no callback token"));
    assert_eq!(h.reporter.calls(), 0);
}

#[tokio::test]
async fn a_terminated_cluster_fails_its_unfinished_callback_steps_with_its_reason() {
    let h = harness();
    let pending = step_name("a", &token("EmrTokPend"));
    let done = step_name("b", &token("EmrTokDone"));
    let p = h
        .emr
        .add_existing_step(CLUSTER, &pending, StepState::Cancelled);
    h.emr
        .add_existing_step(CLUSTER, &done, StepState::Completed);
    h.emr
        .add_existing_step(CLUSTER, "someone else's", StepState::Cancelled);
    h.emr
        .set_cluster_state(CLUSTER, ClusterState::TerminatedWithErrors, None);
    let handled = h
        .handler
        .handle(cluster_event(
            "shared cluster",
            "TERMINATED_WITH_ERRORS",
            r#"{"code":"INSTANCE_FAILURE","message":"Master instance failed"}"#,
        ))
        .await
        .unwrap();
    assert_eq!(handled.reported, 2);
    let Some(StepOutcome::Failed(reason)) = h.reporter.report_for("EmrTokPend") else {
        panic!()
    };
    assert_eq!(
        reason.as_str(),
        format!("EMR cluster {CLUSTER} TERMINATED_WITH_ERRORS before step {p} completed: INSTANCE_FAILURE: Master instance failed")
    );
    assert!(matches!(
        h.reporter.report_for("EmrTokDone"),
        Some(StepOutcome::Succeeded(_))
    ));
    assert_eq!(h.reporter.reports().len(), 2);
}

#[tokio::test]
async fn a_running_cluster_state_change_is_ignored() {
    let h = harness();
    let handled = h
        .handler
        .handle(cluster_event("c", "RUNNING", "{}"))
        .await
        .unwrap();
    assert!(handled.ignored.is_some());
    assert_eq!(h.reporter.calls(), 0);
}

#[tokio::test]
async fn reconcile_reports_steps_whose_events_were_lost_and_twice_is_harmless() {
    let h = harness();
    let name = step_name("features", &token("EmrTok0001"));
    let step = h.emr.add_existing_step(CLUSTER, &name, StepState::Running);
    h.emr.set_step_state(&step, StepState::Completed, None);
    h.emr
        .add_existing_step(CLUSTER, "SageMaker EMR step", StepState::Completed);
    let scheduled = eventbridge("Scheduled Event", "aws.events", json!({}));

    assert_eq!(
        h.handler.handle(scheduled.clone()).await.unwrap().reported,
        1
    );
    assert!(matches!(
        h.reporter.report_for("EmrTok0001"),
        Some(StepOutcome::Succeeded(_))
    ));
    h.handler.handle(scheduled).await.unwrap();
    assert_eq!(
        h.reporter.reports().len(),
        1,
        "the second run changes nothing"
    );
}

#[tokio::test]
async fn a_passing_sagemaker_error_asks_for_the_event_again() {
    let h = harness();
    let name = step_name("features", &token("EmrTok0001"));
    let step = h
        .emr
        .add_existing_step(CLUSTER, &name, StepState::Completed);
    h.reporter
        .fail_next([ReportError::Transient("ThrottlingException".into())]);
    assert!(h
        .handler
        .handle(step_event(&step, &name, "COMPLETED"))
        .await
        .is_err());
    assert!(h
        .handler
        .handle(step_event(&step, &name, "COMPLETED"))
        .await
        .is_ok());
    assert!(h.reporter.report_for("EmrTok0001").is_some());
}

#[tokio::test]
async fn events_that_are_not_emr_status_changes_are_ignored() {
    let h = harness();
    let other = eventbridge("Object Created", "aws.s3", json!({}));
    assert!(h.handler.handle(other).await.unwrap().ignored.is_some());
}

/// Every EMR event of events/, against a cluster and step with the fixtures' ids.
#[tokio::test]
async fn the_recorded_emr_events_are_handled_by_state() {
    let fixture = |name: &str| -> EmrEvent {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../events")
            .join(name);
        let event: CloudWatchEvent<Value> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        EmrEvent::from_eventbridge(event).unwrap()
    };
    let setup = |state: StepState| {
        let h = harness();
        h.emr
            .add_cluster("j-1234567890ABC", ClusterState::Terminated, None);
        h.emr.add_step_with_id(
            "j-1234567890ABC",
            "s-1234567890ABC",
            "features [sm-callback:EmrFixture]",
            state,
        );
        h
    };
    for (file, state, expected) in [
        ("emr-step-pending.json", StepState::Pending, None),
        (
            "emr-step-cancel-pending.json",
            StepState::CancelPending,
            None,
        ),
        ("emr-step-running.json", StepState::Running, None),
        (
            "emr-step-completed.json",
            StepState::Completed,
            Some("success"),
        ),
        ("emr-step-failed.json", StepState::Failed, Some("FAILED")),
        (
            "emr-step-cancelled.json",
            StepState::Cancelled,
            Some("CANCELLED"),
        ),
        (
            "emr-step-interrupted.json",
            StepState::Interrupted,
            Some("INTERRUPTED"),
        ),
        (
            "emr-step-completed-no-token.json",
            StepState::Completed,
            None,
        ),
        (
            "emr-cluster-terminated.json",
            StepState::Cancelled,
            Some("USER_REQUEST: Terminated by user request"),
        ),
        (
            "emr-cluster-terminated-with-errors.json",
            StepState::Cancelled,
            Some("BOOTSTRAP_FAILURE: On the master instance"),
        ),
    ] {
        let h = setup(state);
        h.handler.handle(fixture(file)).await.unwrap();
        match (expected, h.reporter.report_for("EmrFixture")) {
            (None, None) => {}
            (Some("success"), Some(StepOutcome::Succeeded(outputs))) => {
                assert_eq!(outputs.get("StepId"), Some("s-1234567890ABC"), "{file}")
            }
            (Some(text), Some(StepOutcome::Failed(reason))) => {
                assert!(reason.as_str().contains(text), "{file}: {reason}")
            }
            (expected, got) => panic!("{file}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[tokio::test]
async fn a_racing_duplicate_step_is_ignored_and_the_owner_is_reported() {
    let h = harness();
    let name = step_name("features", &token("EmrTok0001"));
    let owner = h
        .emr
        .add_existing_step(CLUSTER, &name, StepState::Completed);
    let duplicate = h
        .emr
        .add_existing_step(CLUSTER, &name, StepState::Cancelled);
    let ignored = h
        .handler
        .handle(step_event(&duplicate, &name, "CANCELLED"))
        .await
        .unwrap();
    assert!(ignored
        .ignored
        .unwrap()
        .contains(&format!("duplicates step {owner}")));
    assert_eq!(h.reporter.calls(), 0);
    h.handler
        .handle(step_event(&owner, &name, "COMPLETED"))
        .await
        .unwrap();
    assert!(matches!(
        h.reporter.report_for("EmrTok0001"),
        Some(StepOutcome::Succeeded(_))
    ));
}

#[tokio::test]
async fn an_event_ahead_of_describe_step_is_asked_for_again() {
    let h = harness();
    let name = step_name("features", &token("LagTok0001"));
    let step = h.emr.add_existing_step(CLUSTER, &name, StepState::Running);
    let err = h
        .handler
        .handle(step_event(&step, &name, "COMPLETED"))
        .await
        .unwrap_err();
    assert!(
        err.contains("is COMPLETED by its event, but DescribeStep still says RUNNING"),
        "{err}"
    );
    assert!(h.reporter.report_for("LagTok0001").is_none());

    // Lambda's retry, once EMR's API caught up, reports.
    h.emr.set_step_state(&step, StepState::Completed, None);
    let handled = h
        .handler
        .handle(step_event(&step, &name, "COMPLETED"))
        .await
        .unwrap();
    assert_eq!(handled.reported, 1);
}
