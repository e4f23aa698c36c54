use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tracing::info;

use super::emr_arguments::{EmrArguments, EmrTarget};
use super::{CallbackTask, RetryableError, TaskOutcome};
use crate::callback::{CallbackMessage, CallbackToken};
use crate::emr::{
    callback_cluster, callback_step, cluster_name, step_name, step_outcome, ClusterFilter,
    ClusterSummary, EmrError, EmrJobs, StepInfo, StepState, MAX_PENDING_STEPS,
};

/// How far back to look for a cluster created for a redelivered message: SQS keeps a
/// message at most 14 days.
const CREATED_CLUSTER_LOOKBACK: Duration = Duration::from_secs(14 * 24 * 3600);

/// Which clusters the task may use. IAM in the template is the real fence; this makes
/// the refusal readable on the step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmrPolicy {
    /// Empty: any cluster.
    pub allowed_cluster_ids: Vec<String>,
    /// Whether `cluster_config` may create clusters (`EMR_ALLOW_CREATE_CLUSTERS`).
    pub allow_create_clusters: bool,
}

/// Task `emr`: runs an EMR step for the callback. The step's name carries the token, so
/// emr-events can complete the callback when EMR reports the step ended.
pub struct EmrTask<E> {
    emr: E,
    policy: EmrPolicy,
}

/// Ends a task call: a passing EMR error retries the message, any other fails the step.
fn ended_by(context: &str, err: EmrError) -> Result<TaskOutcome, RetryableError> {
    match err {
        EmrError::Transient(why) => Err(RetryableError(format!("{context}: {why}"))),
        EmrError::NotFound(why) | EmrError::Invalid(why) => {
            Ok(TaskOutcome::failed(format!("task emr: {context}: {why}")))
        }
    }
}

macro_rules! attempt {
    ($context:expr, $call:expr) => {
        match $call.await {
            Ok(value) => value,
            Err(err) => return ended_by(&$context, err),
        }
    };
}

impl<E: EmrJobs> EmrTask<E> {
    /// The task, on `emr`, within `policy`.
    pub fn new(emr: E, policy: EmrPolicy) -> Self {
        Self { emr, policy }
    }

    async fn find_step(
        &self,
        cluster_id: &str,
        token: &CallbackToken,
    ) -> Result<Option<StepInfo>, EmrError> {
        let steps = self.emr.list_steps(cluster_id, &[]).await?;
        Ok(callback_step(&steps, token).cloned())
    }

    async fn find_created_cluster(
        &self,
        token: &CallbackToken,
    ) -> Result<Option<ClusterSummary>, EmrError> {
        let filter = ClusterFilter {
            states: Vec::new(),
            created_after: SystemTime::now().checked_sub(CREATED_CLUSTER_LOOKBACK),
        };
        let clusters = self.emr.list_clusters(&filter).await?;
        Ok(callback_cluster(&clusters, token).cloned())
    }

    /// Two deliveries of one message can pass the duplicate check at the same moment.
    /// The oldest submission is the callback's; a later one cancels itself before it
    /// runs (a cluster runs its steps one at a time), and emr-events ignores it.
    async fn settle_step_race(
        &self,
        cluster_id: &str,
        step_id: &str,
        token: &CallbackToken,
    ) -> Result<(), EmrError> {
        if let Some(owner) = self.find_step(cluster_id, token).await? {
            if owner.id != step_id {
                self.emr.cancel_step(cluster_id, step_id).await?;
                info!(cluster_id, step_id, owner = %owner.id, "a racing delivery submitted first; this duplicate step was cancelled");
            }
        }
        Ok(())
    }

    /// Likewise for a cluster created for the token: a later one terminates itself.
    async fn settle_cluster_race(
        &self,
        cluster_id: &str,
        token: &CallbackToken,
    ) -> Result<(), EmrError> {
        if let Some(owner) = self.find_created_cluster(token).await? {
            if owner.id != cluster_id {
                self.emr.terminate_cluster(cluster_id).await?;
                info!(cluster_id, owner = %owner.id, "a racing delivery created a cluster first; this duplicate was terminated");
            }
        }
        Ok(())
    }

    /// A step already submitted for this token: pending while it runs, its real
    /// outcome once it ended.
    async fn already_submitted(&self, step: &StepInfo) -> Result<TaskOutcome, RetryableError> {
        info!(step_id = %step.id, cluster_id = %step.cluster_id, state = %step.state, "EMR step already submitted for this token");
        if !step.state.has_ended() {
            return Ok(TaskOutcome::Pending);
        }
        let cluster = attempt!(
            format!("describing cluster {}", step.cluster_id),
            self.emr.describe_cluster(&step.cluster_id)
        );
        Ok(into_task_outcome(step_outcome(step, Some(&cluster))))
    }

    async fn start_on_cluster(
        &self,
        message: &CallbackMessage,
        cluster_id: &str,
        arguments: EmrArguments,
    ) -> Result<TaskOutcome, RetryableError> {
        if !self.policy.allowed_cluster_ids.is_empty()
            && !self
                .policy
                .allowed_cluster_ids
                .iter()
                .any(|id| id == cluster_id)
        {
            return Ok(TaskOutcome::failed(format!(
                "task emr: cluster {cluster_id} is not in this handler's EMR_ALLOWED_CLUSTER_IDS"
            )));
        }
        // One listing serves both the duplicate check and the PENDING limit.
        let steps = attempt!(
            format!("listing steps of {cluster_id}"),
            self.emr.list_steps(cluster_id, &[])
        );
        if let Some(step) = callback_step(&steps, &message.token) {
            return self.already_submitted(step).await;
        }
        let cluster = attempt!(
            format!("describing cluster {cluster_id}"),
            self.emr.describe_cluster(cluster_id)
        );
        if !cluster.state.accepts_steps() {
            return Ok(TaskOutcome::failed(format!(
                "task emr: cluster {cluster_id} is {}; steps run only on STARTING, BOOTSTRAPPING, RUNNING or WAITING clusters",
                cluster.state
            )));
        }
        let pending = steps
            .iter()
            .filter(|step| step.state == StepState::Pending)
            .count();
        if pending >= MAX_PENDING_STEPS {
            return Ok(TaskOutcome::failed(format!(
                "task emr: cluster {cluster_id} already has {pending} PENDING steps, EMR's limit is {MAX_PENDING_STEPS}"
            )));
        }
        let mut step = arguments.step;
        step.name = step_name(&step.name, &message.token);
        let step_id = attempt!(
            format!("adding a step to {cluster_id}"),
            self.emr.add_step(cluster_id, &step)
        );
        info!(cluster_id, step_id = %step_id, "EMR step submitted; the step completes on EMR's status event");
        attempt!(
            format!("checking {cluster_id} for a racing duplicate"),
            self.settle_step_race(cluster_id, &step_id, &message.token)
        );
        Ok(TaskOutcome::Pending)
    }

    async fn start_on_new_cluster(
        &self,
        message: &CallbackMessage,
        arguments: EmrArguments,
    ) -> Result<TaskOutcome, RetryableError> {
        let EmrTarget::NewCluster(config) = &arguments.target else {
            unreachable!("called for a new cluster")
        };
        if !self.policy.allow_create_clusters {
            return Ok(TaskOutcome::failed(
                "task emr: this handler may not create clusters (EMR_ALLOW_CREATE_CLUSTERS is off); pass cluster_id instead",
            ));
        }
        let existing = attempt!(
            "looking for a cluster created for this token",
            self.find_created_cluster(&message.token)
        );
        if let Some(cluster) = existing {
            let step = attempt!(
                format!("listing steps of {}", cluster.id),
                self.find_step(&cluster.id, &message.token)
            );
            return match step {
                Some(step) => self.already_submitted(&step).await,
                None => Ok(TaskOutcome::Pending),
            };
        }
        let mut step = arguments.step.clone();
        let name = cluster_name(&step.name, &message.token);
        step.name = step_name(&step.name, &message.token);
        let cluster_id = attempt!(
            "creating a cluster",
            self.emr.run_job_flow(&name, config, &step)
        );
        info!(cluster_id = %cluster_id, "EMR cluster created for the step; it terminates after it");
        attempt!(
            "checking for a racing duplicate cluster",
            self.settle_cluster_race(&cluster_id, &message.token)
        );
        Ok(TaskOutcome::Pending)
    }

    /// Finds the step (and the created cluster, if any) this token submitted.
    async fn locate(
        &self,
        message: &CallbackMessage,
        target: &EmrTarget,
    ) -> Result<(Option<StepInfo>, Option<String>), EmrError> {
        match target {
            EmrTarget::Cluster(cluster_id) => {
                Ok((self.find_step(cluster_id, &message.token).await?, None))
            }
            EmrTarget::NewCluster(_) => match self.find_created_cluster(&message.token).await? {
                Some(cluster) => Ok((
                    self.find_step(&cluster.id, &message.token).await?,
                    Some(cluster.id),
                )),
                None => Ok((None, None)),
            },
        }
    }
}

fn into_task_outcome(outcome: Option<crate::outcome::StepOutcome>) -> TaskOutcome {
    match outcome {
        Some(crate::outcome::StepOutcome::Succeeded(outputs)) => TaskOutcome::Succeeded(outputs),
        Some(crate::outcome::StepOutcome::Failed(reason)) => TaskOutcome::Failed(reason),
        None => TaskOutcome::Pending,
    }
}

#[async_trait]
impl<E: EmrJobs> CallbackTask for EmrTask<E> {
    fn name(&self) -> &'static str {
        "emr"
    }

    async fn start(&self, message: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
        let arguments = match EmrArguments::parse(message) {
            Ok(arguments) => arguments,
            Err(reason) => return Ok(TaskOutcome::failed(format!("task emr: {reason}"))),
        };
        match &arguments.target {
            EmrTarget::Cluster(cluster_id) => {
                let cluster_id = cluster_id.clone();
                self.start_on_cluster(message, &cluster_id, arguments).await
            }
            EmrTarget::NewCluster(_) => self.start_on_new_cluster(message, arguments).await,
        }
    }

    async fn stop(&self, message: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
        let Ok(arguments) = EmrArguments::parse(message) else {
            return Ok(TaskOutcome::failed("task emr: pipeline stopped; no EMR step was submitted (its arguments were invalid)"));
        };
        let (step, created_cluster) = attempt!(
            "finding the step to stop",
            self.locate(message, &arguments.target)
        );
        let Some(step) = step else {
            if let Some(cluster_id) = &created_cluster {
                attempt!(
                    format!("terminating cluster {cluster_id}"),
                    self.emr.terminate_cluster(cluster_id)
                );
            }
            return Ok(TaskOutcome::failed(
                "task emr: pipeline stopped before the EMR step was submitted",
            ));
        };
        if step.state.has_ended() {
            // The work finished before the stop arrived: its real outcome stands.
            return self.already_submitted(&step).await;
        }
        let what = match &created_cluster {
            Some(cluster_id) => {
                attempt!(
                    format!("terminating cluster {cluster_id}"),
                    self.emr.terminate_cluster(cluster_id)
                );
                format!("cluster {cluster_id} terminated")
            }
            None if step.state == StepState::CancelPending => {
                "cancellation already pending".to_owned()
            }
            None => {
                attempt!(
                    format!("cancelling step {}", step.id),
                    self.emr.cancel_step(&step.cluster_id, &step.id)
                );
                "step cancelled".to_owned()
            }
        };
        info!(step_id = %step.id, cluster_id = %step.cluster_id, "EMR work stopped");
        Ok(TaskOutcome::failed(format!(
            "task emr: pipeline stopped; EMR step {} on {} was {}, {what}",
            step.id, step.cluster_id, step.state
        )))
    }
}
