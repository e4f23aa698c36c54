use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

use async_trait::async_trait;

use super::{
    ClusterConfig, ClusterFilter, ClusterInfo, ClusterState, ClusterSummary, EmrError, EmrJobs,
    FailureDetails, StepInfo, StepRequest, StepState,
};

/// EMR in memory for unit tests: clusters and steps whose states the test sets.
#[derive(Debug, Default)]
pub struct InMemoryEmr {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    clusters: Vec<(ClusterInfo, SystemTime)>,
    /// Oldest first; listed newest first.
    steps: Vec<StepInfo>,
    submitted: Vec<StepRequest>,
    created: Vec<(String, ClusterConfig)>,
    cancelled: Vec<String>,
    terminated: Vec<String>,
    scripted_errors: VecDeque<EmrError>,
    next_id: usize,
}

impl State {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-MEM{:06}", self.next_id)
    }

    fn scripted(&mut self) -> Result<(), EmrError> {
        self.scripted_errors.pop_front().map_or(Ok(()), Err)
    }

    fn cluster_mut(&mut self, id: &str) -> Result<&mut ClusterInfo, EmrError> {
        self.clusters
            .iter_mut()
            .map(|(c, _)| c)
            .find(|c| c.id == id)
            .ok_or_else(|| EmrError::NotFound(format!("Cluster id '{id}' is not valid.")))
    }
}

impl InMemoryEmr {
    /// No clusters yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a cluster in `state`.
    pub fn add_cluster(&self, id: &str, state: ClusterState, log_uri: Option<&str>) {
        self.state.lock().unwrap().clusters.push((
            ClusterInfo {
                id: id.to_owned(),
                name: format!("cluster {id}"),
                state,
                log_uri: log_uri.map(str::to_owned),
                state_change_reason: None,
            },
            SystemTime::now(),
        ));
    }

    /// Moves a cluster to `state`, with a state change reason.
    pub fn set_cluster_state(&self, id: &str, state: ClusterState, reason: Option<&str>) {
        let mut s = self.state.lock().unwrap();
        let cluster = s.cluster_mut(id).expect("known cluster");
        cluster.state = state;
        cluster.state_change_reason = reason.map(str::to_owned);
    }

    /// Adds a step as if someone else had submitted it.
    pub fn add_existing_step(&self, cluster_id: &str, name: &str, state: StepState) -> String {
        let id = self.state.lock().unwrap().id("s");
        self.add_step_with_id(cluster_id, &id, name, state);
        id
    }

    /// Adds a step with a given id (to match a recorded event).
    pub fn add_step_with_id(&self, cluster_id: &str, id: &str, name: &str, state: StepState) {
        let mut s = self.state.lock().unwrap();
        let ended_at = state.has_ended().then(SystemTime::now);
        s.steps.push(StepInfo {
            id: id.to_owned(),
            name: name.to_owned(),
            cluster_id: cluster_id.to_owned(),
            state,
            failure: None,
            created_at: Some(SystemTime::now()),
            ended_at,
        });
    }

    /// Moves a step to `state`, with EMR's failure details.
    pub fn set_step_state(&self, step_id: &str, state: StepState, failure: Option<FailureDetails>) {
        let mut s = self.state.lock().unwrap();
        let step = s
            .steps
            .iter_mut()
            .find(|st| st.id == step_id)
            .expect("known step");
        step.ended_at = state.has_ended().then(SystemTime::now);
        step.state = state;
        step.failure = failure;
    }

    /// The next calls fail with these errors, in order.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = EmrError>) {
        self.state.lock().unwrap().scripted_errors.extend(errors);
    }

    /// Every step, oldest first.
    pub fn steps(&self) -> Vec<StepInfo> {
        self.state.lock().unwrap().steps.clone()
    }

    /// The steps AddJobFlowSteps was asked for, in order.
    pub fn submitted(&self) -> Vec<StepRequest> {
        self.state.lock().unwrap().submitted.clone()
    }

    /// The clusters RunJobFlow created: name and configuration.
    pub fn created_clusters(&self) -> Vec<(String, ClusterConfig)> {
        self.state.lock().unwrap().created.clone()
    }

    /// The steps CancelSteps was asked for.
    pub fn cancelled(&self) -> Vec<String> {
        self.state.lock().unwrap().cancelled.clone()
    }

    /// The clusters TerminateJobFlows was asked for.
    pub fn terminated(&self) -> Vec<String> {
        self.state.lock().unwrap().terminated.clone()
    }
}

#[async_trait]
impl EmrJobs for InMemoryEmr {
    async fn describe_cluster(&self, cluster_id: &str) -> Result<ClusterInfo, EmrError> {
        let mut s = self.state.lock().unwrap();
        s.scripted()?;
        s.cluster_mut(cluster_id).map(|c| c.clone())
    }

    async fn list_steps(
        &self,
        cluster_id: &str,
        states: &[StepState],
    ) -> Result<Vec<StepInfo>, EmrError> {
        let mut s = self.state.lock().unwrap();
        s.scripted()?;
        s.cluster_mut(cluster_id)?;
        Ok(s.steps
            .iter()
            .rev()
            .filter(|st| {
                st.cluster_id == cluster_id && (states.is_empty() || states.contains(&st.state))
            })
            .cloned()
            .collect())
    }

    async fn describe_step(&self, cluster_id: &str, step_id: &str) -> Result<StepInfo, EmrError> {
        let mut s = self.state.lock().unwrap();
        s.scripted()?;
        s.steps
            .iter()
            .find(|st| st.cluster_id == cluster_id && st.id == step_id)
            .cloned()
            .ok_or_else(|| EmrError::NotFound(format!("Step id '{step_id}' is not valid.")))
    }

    async fn add_step(&self, cluster_id: &str, step: &StepRequest) -> Result<String, EmrError> {
        let mut s = self.state.lock().unwrap();
        s.scripted()?;
        s.cluster_mut(cluster_id)?;
        let id = s.id("s");
        s.submitted.push(step.clone());
        s.steps.push(StepInfo {
            id: id.clone(),
            name: step.name.clone(),
            cluster_id: cluster_id.to_owned(),
            state: StepState::Pending,
            failure: None,
            created_at: Some(SystemTime::now()),
            ended_at: None,
        });
        Ok(id)
    }

    async fn run_job_flow(
        &self,
        name: &str,
        config: &ClusterConfig,
        step: &StepRequest,
    ) -> Result<String, EmrError> {
        let mut s = self.state.lock().unwrap();
        s.scripted()?;
        let cluster_id = s.id("j");
        let step_id = s.id("s");
        s.created.push((name.to_owned(), config.clone()));
        s.submitted.push(step.clone());
        s.clusters.push((
            ClusterInfo {
                id: cluster_id.clone(),
                name: name.to_owned(),
                state: ClusterState::Starting,
                log_uri: config.log_uri.clone(),
                state_change_reason: None,
            },
            SystemTime::now(),
        ));
        s.steps.push(StepInfo {
            id: step_id,
            name: step.name.clone(),
            cluster_id: cluster_id.clone(),
            state: StepState::Pending,
            failure: None,
            created_at: Some(SystemTime::now()),
            ended_at: None,
        });
        Ok(cluster_id)
    }

    async fn cancel_step(&self, cluster_id: &str, step_id: &str) -> Result<(), EmrError> {
        let mut s = self.state.lock().unwrap();
        s.scripted()?;
        s.cancelled.push(step_id.to_owned());
        if let Some(step) = s
            .steps
            .iter_mut()
            .find(|st| st.cluster_id == cluster_id && st.id == step_id)
        {
            if !step.state.has_ended() {
                step.state = StepState::Cancelled;
                step.ended_at = Some(SystemTime::now());
            }
        }
        Ok(())
    }

    async fn terminate_cluster(&self, cluster_id: &str) -> Result<(), EmrError> {
        let mut s = self.state.lock().unwrap();
        s.scripted()?;
        s.terminated.push(cluster_id.to_owned());
        s.cluster_mut(cluster_id)?.state = ClusterState::Terminating;
        Ok(())
    }

    async fn list_clusters(&self, filter: &ClusterFilter) -> Result<Vec<ClusterSummary>, EmrError> {
        let mut s = self.state.lock().unwrap();
        s.scripted()?;
        Ok(s.clusters
            .iter()
            .rev()
            .filter(|(c, created)| {
                (filter.states.is_empty() || filter.states.contains(&c.state))
                    && filter.created_after.is_none_or(|after| *created >= after)
            })
            .map(|(c, created)| ClusterSummary {
                id: c.id.clone(),
                name: c.name.clone(),
                state: c.state.clone(),
                created_at: Some(*created),
            })
            .collect())
    }
}
