//! Task `emr` on the in-memory EMR: submission, duplicates, refusals, and Stopping.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use sagemaker_custom_steps::batch::BatchRunner;
use sagemaker_custom_steps::emr::{
    token_in_name, ClusterConfig, ClusterFilter, ClusterInfo, ClusterState, ClusterSummary,
    EmrError, EmrJobs, FailureDetails, InMemoryEmr, StepInfo, StepRequest, StepState,
};
use sagemaker_custom_steps::outcome::StepOutcome;
use sagemaker_custom_steps::processing::CallbackProcessor;
use sagemaker_custom_steps::report::InMemoryReporter;
use sagemaker_custom_steps::task::{EmrPolicy, EmrTask, TaskRegistry};
use serde_json::{json, Value};

const ARN: &str = "arn:aws:sagemaker:us-east-1:012345678901:pipeline/train/execution/e1";
const TOKEN: &str = "EmrTok0001";
const CLUSTER: &str = "j-RUNNING01";

struct Harness {
    emr: Arc<InMemoryEmr>,
    reporter: Arc<InMemoryReporter>,
    runner: BatchRunner,
}

fn harness(policy: EmrPolicy) -> Harness {
    let emr = Arc::new(InMemoryEmr::new());
    emr.add_cluster(CLUSTER, ClusterState::Waiting, Some("s3://logs/emr/"));
    let reporter = Arc::new(InMemoryReporter::new());
    let tasks = TaskRegistry::new(None).with(EmrTask::new(emr.clone(), policy));
    let runner = BatchRunner::new(CallbackProcessor::new(tasks, reporter.clone()), 4);
    Harness {
        emr,
        reporter,
        runner,
    }
}

fn allow_create() -> EmrPolicy {
    EmrPolicy {
        allowed_cluster_ids: Vec::new(),
        allow_create_clusters: true,
    }
}

async fn send(h: &Harness, arguments: Value, stopping: bool) -> SqsBatchResponse {
    let mut body = json!({"token": TOKEN, "pipelineExecutionArn": ARN, "arguments": arguments});
    if stopping {
        body["status"] = json!("Stopping");
    }
    let mut record = SqsMessage::default();
    record.message_id = Some("m0".into());
    record.body = Some(body.to_string());
    let mut event = SqsEvent::default();
    event.records = vec![record];
    h.runner.run(event).await
}

fn on_cluster() -> Value {
    json!({"task": "emr", "cluster_id": CLUSTER, "args": "[\"spark-submit\",\"job.py\"]", "step_name": "features"})
}

fn created() -> Value {
    json!({"task": "emr", "args": "[\"spark-submit\",\"job.py\"]", "step_name": "features",
           "cluster_config": "{\"ReleaseLabel\":\"emr-7.5.0\",\"Instances\":{\"InstanceCount\":1}}"})
}

fn failure(h: &Harness) -> String {
    match h.reporter.report_for(TOKEN) {
        Some(StepOutcome::Failed(reason)) => reason.to_string(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn submits_one_step_whose_name_carries_the_token_and_leaves_the_step_pending() {
    let h = harness(EmrPolicy::default());
    let response = send(&h, on_cluster(), false).await;
    assert!(response.batch_item_failures.is_empty());
    let submitted = h.emr.submitted();
    assert_eq!(submitted.len(), 1);
    assert_eq!(submitted[0].name, "features [sm-callback:EmrTok0001]");
    assert_eq!(token_in_name(&submitted[0].name).unwrap().as_str(), TOKEN);
    assert_eq!(submitted[0].args, ["spark-submit", "job.py"]);
    assert_eq!(h.reporter.calls(), 0);
}

#[tokio::test]
async fn a_redelivered_message_submits_nothing_more() {
    let h = harness(EmrPolicy::default());
    send(&h, on_cluster(), false).await;
    send(&h, on_cluster(), false).await;
    assert_eq!(h.emr.submitted().len(), 1);
    assert_eq!(h.reporter.calls(), 0);
}

#[tokio::test]
async fn a_redelivery_after_the_step_ended_reports_its_real_outcome() {
    let h = harness(EmrPolicy::default());
    send(&h, on_cluster(), false).await;
    let step_id = h.emr.steps()[0].id.clone();
    h.emr.set_step_state(&step_id, StepState::Completed, None);
    send(&h, on_cluster(), false).await;
    assert_eq!(h.emr.submitted().len(), 1);
    let Some(StepOutcome::Succeeded(outputs)) = h.reporter.report_for(TOKEN) else {
        panic!("no success")
    };
    assert_eq!(outputs.get("StepId"), Some(step_id.as_str()));
}

#[tokio::test]
async fn a_cluster_that_cannot_take_steps_fails_the_step_at_once() {
    let h = harness(EmrPolicy::default());
    h.emr
        .set_cluster_state(CLUSTER, ClusterState::Terminated, None);
    send(&h, on_cluster(), false).await;
    assert_eq!(
        failure(&h),
        "task emr: cluster j-RUNNING01 is TERMINATED; steps run only on STARTING, BOOTSTRAPPING, RUNNING or WAITING clusters"
    );
    assert!(h.emr.submitted().is_empty());
}

#[tokio::test]
async fn a_cluster_with_256_pending_steps_fails_the_step() {
    let h = harness(EmrPolicy::default());
    for i in 0..256 {
        h.emr
            .add_existing_step(CLUSTER, &format!("other {i}"), StepState::Pending);
    }
    send(&h, on_cluster(), false).await;
    assert!(failure(&h).contains("256 PENDING steps"), "{}", failure(&h));
    assert_eq!(h.emr.submitted().len(), 0);
}

#[tokio::test]
async fn an_unknown_cluster_fails_and_a_passing_error_retries() {
    let h = harness(EmrPolicy::default());
    h.emr.fail_next([EmrError::Transient(
        "ThrottlingException: Rate exceeded".into(),
    )]);
    let response = send(&h, on_cluster(), false).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(h.reporter.calls(), 0);

    let mut unknown = on_cluster();
    unknown["cluster_id"] = json!("j-NOSUCH");
    send(&h, unknown, false).await;
    assert!(
        failure(&h).contains("Cluster id 'j-NOSUCH' is not valid"),
        "{}",
        failure(&h)
    );
}

#[tokio::test]
async fn clusters_outside_the_allowed_list_are_refused() {
    let h = harness(EmrPolicy {
        allowed_cluster_ids: vec!["j-OTHER".into()],
        allow_create_clusters: false,
    });
    send(&h, on_cluster(), false).await;
    assert!(failure(&h).contains("not in this handler's EMR_ALLOWED_CLUSTER_IDS"));
    assert!(h.emr.submitted().is_empty());
}

#[tokio::test]
async fn creating_clusters_is_off_by_default() {
    let h = harness(EmrPolicy::default());
    send(&h, created(), false).await;
    assert!(failure(&h).contains("EMR_ALLOW_CREATE_CLUSTERS is off"));
    assert!(h.emr.created_clusters().is_empty());
}

#[tokio::test]
async fn a_created_cluster_carries_the_token_and_is_created_once() {
    let h = harness(allow_create());
    send(&h, created(), false).await;
    send(&h, created(), false).await;
    let clusters = h.emr.created_clusters();
    assert_eq!(clusters.len(), 1);
    assert_eq!(token_in_name(&clusters[0].0).unwrap().as_str(), TOKEN);
    assert_eq!(clusters[0].1.release_label, "emr-7.5.0");
    assert_eq!(h.emr.submitted().len(), 1);
    assert_eq!(h.reporter.calls(), 0);
}

#[tokio::test]
async fn stopping_cancels_a_running_step_then_reports_failure() {
    let h = harness(EmrPolicy::default());
    send(&h, on_cluster(), false).await;
    let step_id = h.emr.steps()[0].id.clone();
    h.emr.set_step_state(&step_id, StepState::Running, None);
    send(&h, on_cluster(), true).await;
    assert_eq!(h.emr.cancelled(), std::slice::from_ref(&step_id));
    let reason = failure(&h);
    assert!(
        reason.contains("pipeline stopped")
            && reason.contains(&step_id)
            && reason.contains("step cancelled"),
        "{reason}"
    );
}

#[tokio::test]
async fn stopping_a_created_cluster_terminates_it() {
    let h = harness(allow_create());
    send(&h, created(), false).await;
    send(&h, created(), true).await;
    let cluster_id = h.emr.steps()[0].cluster_id.clone();
    assert_eq!(h.emr.terminated(), std::slice::from_ref(&cluster_id));
    assert!(failure(&h).contains(&format!("cluster {cluster_id} terminated")));
}

#[tokio::test]
async fn stopping_after_the_step_ended_reports_its_real_outcome() {
    let h = harness(EmrPolicy::default());
    send(&h, on_cluster(), false).await;
    let step_id = h.emr.steps()[0].id.clone();
    let details = FailureDetails {
        reason: Some("Unknown Error.".into()),
        message: Some("exit code 1".into()),
        log_file: None,
    };
    h.emr
        .set_step_state(&step_id, StepState::Failed, Some(details));
    send(&h, on_cluster(), true).await;
    assert!(h.emr.cancelled().is_empty());
    assert_eq!(
        failure(&h),
        format!("EMR step {step_id} on cluster {CLUSTER} FAILED: Unknown Error.: exit code 1")
    );
}

#[tokio::test]
async fn stopping_before_anything_was_submitted_says_so() {
    let h = harness(EmrPolicy::default());
    send(&h, on_cluster(), true).await;
    assert_eq!(
        failure(&h),
        "task emr: pipeline stopped before the EMR step was submitted"
    );
}

#[tokio::test]
async fn bad_arguments_fail_the_step_naming_the_argument() {
    let h = harness(EmrPolicy::default());
    send(&h, json!({"task": "emr", "cluster_id": CLUSTER}), false).await;
    assert!(
        failure(&h).starts_with("task emr: argument 'args' is required"),
        "{}",
        failure(&h)
    );
}

/// EMR where another delivery of the same message submits its step just before this
/// one does: the race the duplicate check alone cannot see.
struct RacingEmr(Arc<InMemoryEmr>);

#[async_trait::async_trait]
impl EmrJobs for RacingEmr {
    async fn describe_cluster(&self, id: &str) -> Result<ClusterInfo, EmrError> {
        self.0.describe_cluster(id).await
    }
    async fn list_steps(&self, id: &str, states: &[StepState]) -> Result<Vec<StepInfo>, EmrError> {
        self.0.list_steps(id, states).await
    }
    async fn describe_step(&self, cluster: &str, step: &str) -> Result<StepInfo, EmrError> {
        self.0.describe_step(cluster, step).await
    }
    async fn add_step(&self, cluster: &str, step: &StepRequest) -> Result<String, EmrError> {
        self.0
            .add_existing_step(cluster, &step.name, StepState::Pending);
        self.0.add_step(cluster, step).await
    }
    async fn run_job_flow(
        &self,
        name: &str,
        config: &ClusterConfig,
        step: &StepRequest,
    ) -> Result<String, EmrError> {
        self.0.run_job_flow(name, config, step).await
    }
    async fn cancel_step(&self, cluster: &str, step: &str) -> Result<(), EmrError> {
        self.0.cancel_step(cluster, step).await
    }
    async fn terminate_cluster(&self, id: &str) -> Result<(), EmrError> {
        self.0.terminate_cluster(id).await
    }
    async fn list_clusters(&self, filter: &ClusterFilter) -> Result<Vec<ClusterSummary>, EmrError> {
        self.0.list_clusters(filter).await
    }
}

#[tokio::test]
async fn a_delivery_that_loses_a_race_cancels_its_own_step() {
    let emr = Arc::new(InMemoryEmr::new());
    emr.add_cluster(CLUSTER, ClusterState::Waiting, None);
    let reporter = Arc::new(InMemoryReporter::new());
    let tasks =
        TaskRegistry::new(None).with(EmrTask::new(RacingEmr(emr.clone()), EmrPolicy::default()));
    let h = Harness {
        emr: emr.clone(),
        reporter,
        runner: BatchRunner::new(
            CallbackProcessor::new(tasks, Arc::new(InMemoryReporter::new())),
            1,
        ),
    };
    let response = send(&h, on_cluster(), false).await;
    assert!(response.batch_item_failures.is_empty());
    let steps = emr.steps();
    assert_eq!(steps.len(), 2);
    let (winner, loser) = (&steps[0], &steps[1]);
    assert_eq!(
        winner.state,
        StepState::Pending,
        "the first submission runs"
    );
    assert_eq!(
        emr.cancelled(),
        std::slice::from_ref(&loser.id),
        "the later one cancels itself"
    );
    assert_eq!(loser.state, StepState::Cancelled);
}
