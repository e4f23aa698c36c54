use std::time::{Duration, SystemTime};

use aws_lambda_events::event::cloudwatch_events::emr::{ClusterStateChange, StepStatusChange};
use serde::Serialize;
use serde_json::Value;
use tracing::{info, info_span, Instrument};

use super::EmrEvent;
use crate::callback::CallbackToken;
use crate::emr::{
    callback_cluster, callback_step, cluster_reason, step_outcome, token_in_name, ClusterFilter,
    ClusterInfo, ClusterState, EmrError, EmrJobs, StepInfo, StepState,
};
use crate::outcome::StepOutcome;
use crate::report::{deliver, Delivery, StepReporter};

/// How far back reconcile looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconcileWindow {
    /// Steps that ended this recently are reported again.
    pub ended_within: Duration,
    /// Terminated clusters created this recently are searched (running ones always are).
    pub clusters_created_within: Duration,
}

/// What one event did, returned by the handler (and logged).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Handled {
    /// Reports made.
    pub reported: usize,
    /// Why nothing was done, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

impl Handled {
    /// Nothing reported, and why.
    pub fn ignored(why: impl Into<String>) -> Self {
        Self {
            reported: 0,
            ignored: Some(why.into()),
        }
    }
}

/// emr-events' domain: completes the callback steps whose EMR work ended.
pub struct EmrStatusHandler<E, R> {
    pub(super) emr: E,
    pub(super) reporter: R,
    pub(super) window: ReconcileWindow,
    pub(super) metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl<E: EmrJobs, R: StepReporter> EmrStatusHandler<E, R> {
    /// The handler, on `emr`, reporting with `reporter`, reconciling within `window`.
    pub fn new(emr: E, reporter: R, window: ReconcileWindow) -> Self {
        Self {
            emr,
            reporter,
            window,
            metrics: std::sync::Arc::new(crate::metrics::Metrics::new("emr-events")),
        }
    }

    /// Steps completed and failed, and the reports reconcile made (each one an EMR
    /// event EventBridge never delivered): the handler writes them when an invocation
    /// ends.
    pub fn metrics(&self) -> &std::sync::Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    /// Handles one event. An error means "retry the event": EMR or SageMaker was not
    /// reachable for now. Reports are idempotent, so a retry is harmless.
    pub async fn handle(&self, event: EmrEvent) -> Result<Handled, String> {
        match event {
            EmrEvent::StepStatusChange(detail) => self.step_changed(&detail).await,
            EmrEvent::ClusterStateChange(detail) => self.cluster_changed(&detail).await,
            EmrEvent::Scheduled => self.reconcile().await,
            EmrEvent::Other {
                source,
                detail_type,
            } => Ok(Handled::ignored(format!(
                "not an EMR status event: {source} / {detail_type}"
            ))),
        }
    }

    async fn step_changed(&self, detail: &StepStatusChange) -> Result<Handled, String> {
        let Some(token) = token_in_name(&detail.name) else {
            return Ok(Handled::ignored(format!(
                "step {} carries no callback token",
                detail.step_id
            )));
        };
        let span = info_span!("emr_step", token = %token, step_id = %detail.step_id, cluster_id = %detail.cluster_id);
        async {
            if !StepState::parse(&detail.state).has_ended() {
                return Ok(Handled::ignored(format!(
                    "step {} is {}",
                    detail.step_id, detail.state
                )));
            }
            // DescribeStep is authoritative and carries FailureDetails; the event does not.
            let step = self
                .emr
                .describe_step(&detail.cluster_id, &detail.step_id)
                .await
                .map_err(|e| format!("describing step {}: {e}", detail.step_id))?;
            if !step.state.has_ended() {
                // EMR's API can lag its events: fail the invocation, so that Lambda
                // delivers the event again, rather than leave the step to reconcile.
                return Err(format!(
                    "step {} is {} by its event, but DescribeStep still says {}; asking for the event again",
                    step.id, detail.state, step.state
                ));
            }
            let cluster = self.cluster(&step.cluster_id).await?;
            if let Some(owner) = self
                .duplicate_owner(&token, &step, cluster.as_ref())
                .await?
            {
                return Ok(Handled::ignored(format!(
                    "step {} duplicates {owner} of the same callback",
                    step.id
                )));
            }
            self.report_step(&token, &step, cluster.as_ref()).await
        }
        .instrument(span)
        .await
    }

    /// A step's cluster, described once per event and passed to what needs it. None
    /// when EMR no longer knows it; an error only when EMR is unreachable for now.
    pub(super) async fn cluster(&self, cluster_id: &str) -> Result<Option<ClusterInfo>, String> {
        match self.emr.describe_cluster(cluster_id).await {
            Ok(cluster) => Ok(Some(cluster)),
            Err(EmrError::Transient(why)) => Err(format!("describing cluster {cluster_id}: {why}")),
            Err(_) => Ok(None),
        }
    }

    /// Which submission owns the callback when `step` is a racing duplicate: an older
    /// step carrying the token on its cluster, or an older cluster created for it.
    pub(super) async fn duplicate_owner(
        &self,
        token: &CallbackToken,
        step: &StepInfo,
        cluster: Option<&ClusterInfo>,
    ) -> Result<Option<String>, String> {
        let steps = match self.emr.list_steps(&step.cluster_id, &[]).await {
            Ok(steps) => steps,
            Err(EmrError::Transient(why)) => {
                return Err(format!("listing steps of {}: {why}", step.cluster_id))
            }
            Err(_) => return Ok(None),
        };
        if let Some(owner) = callback_step(&steps, token).filter(|owner| owner.id != step.id) {
            return Ok(Some(format!("step {}", owner.id)));
        }
        match cluster {
            Some(cluster) => {
                self.older_cluster_for(token, &cluster.id, &cluster.name)
                    .await
            }
            None => Ok(None),
        }
    }

    /// An older cluster created for the token, when `cluster_name` carries it.
    pub(super) async fn older_cluster_for(
        &self,
        token: &CallbackToken,
        cluster_id: &str,
        cluster_name: &str,
    ) -> Result<Option<String>, String> {
        if token_in_name(cluster_name).as_ref() != Some(token) {
            return Ok(None);
        }
        let filter = ClusterFilter {
            states: Vec::new(),
            created_after: SystemTime::now().checked_sub(self.window.clusters_created_within),
        };
        let clusters = match self.emr.list_clusters(&filter).await {
            Ok(clusters) => clusters,
            Err(EmrError::Transient(why)) => return Err(format!("listing clusters: {why}")),
            Err(_) => return Ok(None),
        };
        Ok(callback_cluster(&clusters, token)
            .filter(|owner| owner.id != cluster_id)
            .map(|owner| format!("cluster {}", owner.id)))
    }

    /// Reports an ended step's outcome; its cluster gives the LogUri and, for a step
    /// that ended with its cluster, the cluster's reason.
    pub(super) async fn report_step(
        &self,
        token: &CallbackToken,
        step: &StepInfo,
        cluster: Option<&ClusterInfo>,
    ) -> Result<Handled, String> {
        match step_outcome(step, cluster) {
            Some(outcome) => self.report(token, outcome).await,
            None => Ok(Handled::ignored(format!(
                "step {} is {}",
                step.id, step.state
            ))),
        }
    }

    pub(super) async fn report(
        &self,
        token: &CallbackToken,
        outcome: StepOutcome,
    ) -> Result<Handled, String> {
        let completed = matches!(outcome, StepOutcome::Succeeded(_));
        match deliver(&self.reporter, token, outcome).await {
            Delivery::Done => {
                let metric = if completed {
                    "StepsCompleted"
                } else {
                    "StepsFailed"
                };
                self.metrics.count(metric, 1);
                Ok(Handled {
                    reported: 1,
                    ignored: None,
                })
            }
            Delivery::Retry(why) | Delivery::Refused(why) => {
                Err(format!("reporting to SageMaker: {why}"))
            }
        }
    }

    async fn cluster_changed(&self, detail: &ClusterStateChange) -> Result<Handled, String> {
        let state = ClusterState::parse(&detail.state);
        if !state.is_terminated() {
            return Ok(Handled::ignored(format!(
                "cluster {} is {}",
                detail.cluster_id, detail.state
            )));
        }
        let why = readable_reason(&detail.state_change_reason, &detail.message);
        if let Some(token) = token_in_name(&detail.name) {
            if let Some(owner) = self
                .older_cluster_for(&token, &detail.cluster_id, &detail.name)
                .await?
            {
                return Ok(Handled::ignored(format!(
                    "cluster {} duplicates {owner} of the same callback",
                    detail.cluster_id
                )));
            }
        }
        let steps = match self.emr.list_steps(&detail.cluster_id, &[]).await {
            Ok(steps) => steps,
            Err(EmrError::Transient(e)) => {
                return Err(format!("listing steps of {}: {e}", detail.cluster_id))
            }
            Err(_) => Vec::new(),
        };
        let reports_a_success = steps
            .iter()
            .any(|s| s.state == StepState::Completed && token_in_name(&s.name).is_some());
        let cluster = match reports_a_success {
            true => self.cluster(&detail.cluster_id).await?,
            false => None,
        };
        let mut handled = Handled::default();
        let mut any_token = false;
        for step in &steps {
            let Some(token) = token_in_name(&step.name) else {
                continue;
            };
            any_token = true;
            if callback_step(&steps, &token).is_some_and(|owner| owner.id != step.id) {
                continue;
            }
            let span = info_span!("emr_step", token = %token, step_id = %step.id, cluster_id = %detail.cluster_id);
            let result = async {
                if step.state == StepState::Completed {
                    self.report_step(&token, step, cluster.as_ref()).await
                } else {
                    let reason =
                        cluster_reason(&detail.cluster_id, &detail.state, &why, Some(&step.id));
                    self.report(&token, StepOutcome::failed(reason)).await
                }
            }
            .instrument(span)
            .await?;
            handled.reported += result.reported;
        }
        // A created cluster that ended before its step was listed still names its token.
        if let (false, Some(token)) = (any_token, token_in_name(&detail.name)) {
            let reason = cluster_reason(&detail.cluster_id, &detail.state, &why, None);
            handled.reported += self
                .report(&token, StepOutcome::failed(reason))
                .await?
                .reported;
        }
        if handled.reported == 0 {
            handled.ignored = Some(format!(
                "cluster {} ran no callback step",
                detail.cluster_id
            ));
        }
        info!(cluster_id = %detail.cluster_id, reported = handled.reported, "cluster termination handled");
        Ok(handled)
    }
}

/// `stateChangeReason` is a JSON string such as `{"code":"USER_REQUEST","message":"..."}`.
fn readable_reason(state_change_reason: &str, message: &str) -> String {
    let parsed: Value = serde_json::from_str(state_change_reason).unwrap_or(Value::Null);
    match (parsed["code"].as_str(), parsed["message"].as_str()) {
        (Some(code), Some(text)) => format!("{code}: {text}"),
        (Some(code), None) => code.to_owned(),
        (None, Some(text)) => text.to_owned(),
        (None, None) if !state_change_reason.trim().is_empty() && parsed.is_null() => {
            state_change_reason.to_owned()
        }
        (None, None) => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::readable_reason;

    #[test]
    fn the_state_change_reason_json_string_is_read() {
        assert_eq!(
            readable_reason(r#"{"code":"BOOTSTRAP_FAILURE","message":"On the master instance, bootstrap action 1 returned a non-zero return code"}"#, "m"),
            "BOOTSTRAP_FAILURE: On the master instance, bootstrap action 1 returned a non-zero return code"
        );
        assert_eq!(readable_reason("{}", "fallback"), "fallback");
        assert_eq!(readable_reason("plain words", "m"), "plain words");
    }
}
