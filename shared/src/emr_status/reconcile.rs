use std::collections::BTreeMap;
use std::time::SystemTime;

use tracing::{info, warn};

use super::{EmrStatusHandler, Handled};
use crate::emr::{token_in_name, ClusterFilter, ClusterState, EmrJobs, StepState};
use crate::report::StepReporter;

impl<E: EmrJobs, R: StepReporter> EmrStatusHandler<E, R> {
    /// Reports again every token-carrying step that ended within the window, so that a
    /// status event EventBridge never delivered does not leave a pipeline waiting.
    pub(super) async fn reconcile(&self) -> Result<Handled, String> {
        let now = SystemTime::now();
        let ended_after = now.checked_sub(self.window.ended_within);
        let mut states = ClusterState::ACCEPTING_STEPS.to_vec();
        states.push(ClusterState::Terminating);
        let filters = [
            ClusterFilter {
                states,
                created_after: None,
            },
            ClusterFilter {
                states: Vec::new(),
                created_after: now.checked_sub(self.window.clusters_created_within),
            },
        ];
        let mut clusters = BTreeMap::new();
        for filter in &filters {
            let found = self
                .emr
                .list_clusters(filter)
                .await
                .map_err(|e| format!("listing clusters: {e}"))?;
            clusters.extend(found.into_iter().map(|c| (c.id.clone(), c)));
        }

        let mut handled = Handled::default();
        let mut errors = Vec::new();
        for cluster_id in clusters.keys() {
            let steps = match self.emr.list_steps(cluster_id, &StepState::ENDED).await {
                Ok(steps) => steps,
                Err(e) => {
                    errors.push(format!("listing steps of {cluster_id}: {e}"));
                    continue;
                }
            };
            let candidates: Vec<_> = steps
                .into_iter()
                .filter_map(|step| Some((token_in_name(&step.name)?, step)))
                .filter(|(_, step)| match (step.ended_at, ended_after) {
                    (Some(ended), Some(after)) => ended >= after,
                    _ => true,
                })
                .collect();
            if candidates.is_empty() {
                continue;
            }
            // One description of the cluster serves all of its steps.
            let cluster = match self.cluster(cluster_id).await {
                Ok(cluster) => cluster,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            for (token, step) in candidates {
                match self.duplicate_owner(&token, &step, cluster.as_ref()).await {
                    Ok(Some(_)) => continue,
                    Ok(None) => {}
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                }
                match self.report_step(&token, &step, cluster.as_ref()).await {
                    Ok(done) => handled.reported += done.reported,
                    Err(e) => errors.push(e),
                }
            }
        }
        info!(
            clusters = clusters.len(),
            reported = handled.reported,
            "reconciled"
        );
        self.metrics
            .count("ReconcileReports", handled.reported as u64);
        if errors.is_empty() {
            Ok(handled)
        } else {
            // The next scheduled run tries again; say what went wrong now.
            warn!(errors = errors.len(), first = %errors[0], "reconcile incomplete");
            Err(format!(
                "reconcile incomplete ({} errors): {}",
                errors.len(),
                errors[0]
            ))
        }
    }
}
