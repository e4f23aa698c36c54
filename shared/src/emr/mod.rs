//! Amazon EMR: the port the `emr` task, emr-events and emr-preflight use, and what
//! they share (states, token-carrying names, outcomes).

mod callback_name;
mod cluster_config;
mod memory;
mod outcome;
mod sdk;
mod states;

pub use callback_name::{cluster_name, step_name, token_in_name};
pub use cluster_config::ClusterConfig;
pub use memory::InMemoryEmr;
pub use outcome::{cluster_reason, step_outcome};
pub use sdk::SdkEmr;
pub use states::{ClusterState, StepState};

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;

/// EMR refuses more steps than this in PENDING on one cluster.
pub const MAX_PENDING_STEPS: usize = 256;

/// The tag put on the clusters the `emr` task creates, so IAM can fence them.
pub const CLUSTER_TAG: (&str, &str) = ("sagemaker-pipeline-steps", "callback");

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    pub id: String,
    pub name: String,
    pub state: ClusterState,
    pub log_uri: Option<String>,
    /// `CODE: message` of the last state change, when EMR gives one.
    pub state_change_reason: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureDetails {
    pub reason: Option<String>,
    pub message: Option<String>,
    pub log_file: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepInfo {
    pub id: String,
    pub name: String,
    pub cluster_id: String,
    pub state: StepState,
    pub failure: Option<FailureDetails>,
    pub created_at: Option<SystemTime>,
    pub ended_at: Option<SystemTime>,
}

impl StepInfo {
    /// Which of two submissions came first: creation time, then id.
    pub fn age_key(&self) -> (Option<SystemTime>, &str) {
        (self.created_at, &self.id)
    }
}

/// The step a token's callback owns: the oldest carrying it. Later ones are duplicates
/// of a racing delivery, cancelled by their submitter and ignored by emr-events.
pub fn callback_step<'a>(
    steps: &'a [StepInfo],
    token: &crate::callback::CallbackToken,
) -> Option<&'a StepInfo> {
    steps
        .iter()
        .filter(|s| token_in_name(&s.name).as_ref() == Some(token))
        .min_by(|a, b| a.age_key().cmp(&b.age_key()))
}

/// Likewise for clusters created for a token.
pub fn callback_cluster<'a>(
    clusters: &'a [ClusterSummary],
    token: &crate::callback::CallbackToken,
) -> Option<&'a ClusterSummary> {
    clusters
        .iter()
        .filter(|c| token_in_name(&c.name).as_ref() == Some(token))
        .min_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)))
}

/// A HadoopJarStep to submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRequest {
    pub name: String,
    pub jar: String,
    pub args: Vec<String>,
    pub main_class: Option<String>,
    pub properties: Vec<(String, String)>,
    pub action_on_failure: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSummary {
    pub id: String,
    pub name: String,
    pub state: ClusterState,
    pub created_at: Option<SystemTime>,
}

/// Which clusters to list: those in `states`, or created after `created_after`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterFilter {
    pub states: Vec<ClusterState>,
    pub created_after: Option<SystemTime>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmrError {
    /// No such cluster or step.
    #[error("{0}")]
    NotFound(String),
    /// EMR refused the request itself; the same request will be refused again.
    #[error("{0}")]
    Invalid(String),
    /// Throttling, 5xx, network.
    #[error("{0}")]
    Transient(String),
}

/// The port to the EMR API.
#[async_trait]
pub trait EmrJobs: Send + Sync {
    async fn describe_cluster(&self, cluster_id: &str) -> Result<ClusterInfo, EmrError>;
    /// Steps of a cluster, newest first; every state when `states` is empty.
    async fn list_steps(
        &self,
        cluster_id: &str,
        states: &[StepState],
    ) -> Result<Vec<StepInfo>, EmrError>;
    async fn describe_step(&self, cluster_id: &str, step_id: &str) -> Result<StepInfo, EmrError>;
    async fn add_step(&self, cluster_id: &str, step: &StepRequest) -> Result<String, EmrError>;
    /// Creates a cluster that runs `step` and terminates after it; answers its id.
    async fn run_job_flow(
        &self,
        name: &str,
        config: &ClusterConfig,
        step: &StepRequest,
    ) -> Result<String, EmrError>;
    async fn cancel_step(&self, cluster_id: &str, step_id: &str) -> Result<(), EmrError>;
    async fn terminate_cluster(&self, cluster_id: &str) -> Result<(), EmrError>;
    async fn list_clusters(&self, filter: &ClusterFilter) -> Result<Vec<ClusterSummary>, EmrError>;
}

#[async_trait]
impl<T: EmrJobs + ?Sized> EmrJobs for Arc<T> {
    async fn describe_cluster(&self, cluster_id: &str) -> Result<ClusterInfo, EmrError> {
        self.as_ref().describe_cluster(cluster_id).await
    }
    async fn list_steps(
        &self,
        cluster_id: &str,
        states: &[StepState],
    ) -> Result<Vec<StepInfo>, EmrError> {
        self.as_ref().list_steps(cluster_id, states).await
    }
    async fn describe_step(&self, cluster_id: &str, step_id: &str) -> Result<StepInfo, EmrError> {
        self.as_ref().describe_step(cluster_id, step_id).await
    }
    async fn add_step(&self, cluster_id: &str, step: &StepRequest) -> Result<String, EmrError> {
        self.as_ref().add_step(cluster_id, step).await
    }
    async fn run_job_flow(
        &self,
        name: &str,
        config: &ClusterConfig,
        step: &StepRequest,
    ) -> Result<String, EmrError> {
        self.as_ref().run_job_flow(name, config, step).await
    }
    async fn cancel_step(&self, cluster_id: &str, step_id: &str) -> Result<(), EmrError> {
        self.as_ref().cancel_step(cluster_id, step_id).await
    }
    async fn terminate_cluster(&self, cluster_id: &str) -> Result<(), EmrError> {
        self.as_ref().terminate_cluster(cluster_id).await
    }
    async fn list_clusters(&self, filter: &ClusterFilter) -> Result<Vec<ClusterSummary>, EmrError> {
        self.as_ref().list_clusters(filter).await
    }
}
