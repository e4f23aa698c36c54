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

/// A cluster, as DescribeCluster answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    /// `j-...`
    pub id: String,
    /// Its name: a created cluster's carries the callback token.
    pub name: String,
    /// Its state.
    pub state: ClusterState,
    /// Where it writes its logs, if it does.
    pub log_uri: Option<String>,
    /// `CODE: message` of the last state change, when EMR gives one.
    pub state_change_reason: Option<String>,
}

/// Why a step failed, as EMR says it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureDetails {
    /// EMR's reason.
    pub reason: Option<String>,
    /// EMR's message.
    pub message: Option<String>,
    /// The log file that holds the error.
    pub log_file: Option<String>,
}

/// A step, as DescribeStep and ListSteps answer it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepInfo {
    /// `s-...`
    pub id: String,
    /// Its name: the `emr` task's carries the callback token.
    pub name: String,
    /// The cluster it runs on.
    pub cluster_id: String,
    /// Its state.
    pub state: StepState,
    /// Why it failed, when it did.
    pub failure: Option<FailureDetails>,
    /// When it was added.
    pub created_at: Option<SystemTime>,
    /// When it ended.
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
    /// The step's name.
    pub name: String,
    /// `HadoopJarStep.Jar`.
    pub jar: String,
    /// `HadoopJarStep.Args`.
    pub args: Vec<String>,
    /// `HadoopJarStep.MainClass`.
    pub main_class: Option<String>,
    /// `HadoopJarStep.Properties`.
    pub properties: Vec<(String, String)>,
    /// `ActionOnFailure`.
    pub action_on_failure: String,
}

/// A cluster, as ListClusters answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSummary {
    /// `j-...`
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: ClusterState,
    /// When it was created.
    pub created_at: Option<SystemTime>,
}

/// Which clusters to list: those in `states`, or created after `created_after`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterFilter {
    /// Only clusters in these states.
    pub states: Vec<ClusterState>,
    /// Only clusters created after this.
    pub created_after: Option<SystemTime>,
}

/// Why an EMR call failed.
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
    /// DescribeCluster.
    async fn describe_cluster(&self, cluster_id: &str) -> Result<ClusterInfo, EmrError>;
    /// Steps of a cluster, newest first; every state when `states` is empty.
    async fn list_steps(
        &self,
        cluster_id: &str,
        states: &[StepState],
    ) -> Result<Vec<StepInfo>, EmrError>;
    /// DescribeStep.
    async fn describe_step(&self, cluster_id: &str, step_id: &str) -> Result<StepInfo, EmrError>;
    /// AddJobFlowSteps with one step; answers its id.
    async fn add_step(&self, cluster_id: &str, step: &StepRequest) -> Result<String, EmrError>;
    /// Creates a cluster that runs `step` and terminates after it; answers its id.
    async fn run_job_flow(
        &self,
        name: &str,
        config: &ClusterConfig,
        step: &StepRequest,
    ) -> Result<String, EmrError>;
    /// CancelSteps of one step.
    async fn cancel_step(&self, cluster_id: &str, step_id: &str) -> Result<(), EmrError>;
    /// TerminateJobFlows of one cluster.
    async fn terminate_cluster(&self, cluster_id: &str) -> Result<(), EmrError>;
    /// ListClusters, every page.
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
