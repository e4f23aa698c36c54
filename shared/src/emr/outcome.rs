//! What a finished EMR step means for its callback step.

use super::{ClusterInfo, StepInfo, StepState};
use crate::outcome::{OutputParameters, StepOutcome};

/// The report for a step that ended, or None while it runs. Success outputs are
/// `ClusterId`, `StepId`, `State`, and `LogUri` (the step's log folder) when the
/// cluster logs; a failure says which step, where, and EMR's reason.
pub fn step_outcome(step: &StepInfo, cluster: Option<&ClusterInfo>) -> Option<StepOutcome> {
    if step.state == StepState::Completed {
        let mut outputs = OutputParameters::new();
        let pairs = [
            ("ClusterId", step.cluster_id.clone()),
            ("StepId", step.id.clone()),
            ("State", step.state.to_string()),
        ];
        for (name, value) in pairs {
            outputs.push(name, value).ok()?;
        }
        if let Some(log_uri) = cluster.and_then(|c| c.log_uri.as_deref()) {
            let folder = format!(
                "{}/{}/steps/{}/",
                log_uri.trim_end_matches('/'),
                step.cluster_id,
                step.id
            );
            // A LogUri too long for an output is dropped rather than failing the step.
            let _ = outputs.push("LogUri", folder);
        }
        return Some(StepOutcome::Succeeded(outputs));
    }
    if !step.state.is_failure() {
        return None;
    }
    let mut reason = format!(
        "EMR step {} on cluster {} {}",
        step.id, step.cluster_id, step.state
    );
    let details = step.failure.clone().unwrap_or_default();
    match (details.reason, details.message) {
        (Some(r), Some(m)) => reason.push_str(&format!(": {r}: {m}")),
        (Some(text), None) | (None, Some(text)) => reason.push_str(&format!(": {text}")),
        (None, None) => {
            if let Some(why) = cluster.and_then(|c| c.state_change_reason.as_deref()) {
                if cluster.is_some_and(|c| c.state.is_terminated()) {
                    reason.push_str(&format!(
                        ": cluster {}: {why}",
                        cluster.map(|c| c.state.as_str()).unwrap_or_default()
                    ));
                }
            }
        }
    }
    if let Some(log) = details.log_file.filter(|log| !log.is_empty()) {
        reason.push_str(&format!(" (log: {log})"));
    }
    Some(StepOutcome::failed(reason))
}

/// The reason to fail a step whose cluster terminated under it.
pub fn cluster_reason(cluster_id: &str, state: &str, why: &str, step_id: Option<&str>) -> String {
    let step = step_id
        .map(|s| format!(" before step {s} completed"))
        .unwrap_or_default();
    format!("EMR cluster {cluster_id} {state}{step}: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emr::{ClusterState, FailureDetails};

    fn step(state: StepState, failure: Option<FailureDetails>) -> StepInfo {
        StepInfo {
            id: "s-1".into(),
            name: "x".into(),
            cluster_id: "j-1".into(),
            state,
            failure,
            created_at: None,
            ended_at: None,
        }
    }

    fn cluster(log_uri: Option<&str>) -> ClusterInfo {
        ClusterInfo {
            id: "j-1".into(),
            name: "c".into(),
            state: ClusterState::Waiting,
            log_uri: log_uri.map(str::to_owned),
            state_change_reason: None,
        }
    }

    #[test]
    fn a_completed_step_succeeds_with_its_ids_and_log_folder() {
        let Some(StepOutcome::Succeeded(outputs)) = step_outcome(
            &step(StepState::Completed, None),
            Some(&cluster(Some("s3://logs/emr/"))),
        ) else {
            panic!("not a success")
        };
        assert_eq!(outputs.get("ClusterId"), Some("j-1"));
        assert_eq!(outputs.get("StepId"), Some("s-1"));
        assert_eq!(outputs.get("State"), Some("COMPLETED"));
        assert_eq!(outputs.get("LogUri"), Some("s3://logs/emr/j-1/steps/s-1/"));

        let Some(StepOutcome::Succeeded(no_logs)) =
            step_outcome(&step(StepState::Completed, None), Some(&cluster(None)))
        else {
            panic!("not a success")
        };
        assert_eq!(no_logs.get("LogUri"), None);
    }

    #[test]
    fn a_failed_step_says_what_where_and_why() {
        let details = FailureDetails {
            reason: Some("Unknown Error.".into()),
            message: Some("Exception in thread main".into()),
            log_file: Some("s3://logs/j-1/steps/s-1/stderr.gz".into()),
        };
        let Some(StepOutcome::Failed(reason)) =
            step_outcome(&step(StepState::Failed, Some(details)), None)
        else {
            panic!("not a failure")
        };
        assert_eq!(
            reason.as_str(),
            "EMR step s-1 on cluster j-1 FAILED: Unknown Error.: Exception in thread main (log: s3://logs/j-1/steps/s-1/stderr.gz)"
        );
    }

    #[test]
    fn a_failure_without_a_log_names_none() {
        let details = FailureDetails {
            reason: Some("Unknown Error.".into()),
            message: Some("cannot run spark-submit".into()),
            log_file: Some(String::new()),
        };
        let Some(StepOutcome::Failed(reason)) =
            step_outcome(&step(StepState::Failed, Some(details)), None)
        else {
            panic!("not a failure")
        };
        assert_eq!(
            reason.as_str(),
            "EMR step s-1 on cluster j-1 FAILED: Unknown Error.: cannot run spark-submit"
        );
    }

    #[test]
    fn running_steps_have_no_outcome_yet() {
        assert_eq!(step_outcome(&step(StepState::Running, None), None), None);
        assert_eq!(step_outcome(&step(StepState::Pending, None), None), None);
    }
}
