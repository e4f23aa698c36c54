use std::sync::Arc;

use crate::bus::EventBus;
use crate::emr::{EmrError, EmrJobs, StepState, MAX_PENDING_STEPS};
use crate::lambda_step::{StepError, StepFunction, StepInputs, StepOutputs};

/// `emr-preflight`: may an EMR callback step start on this cluster now? Meant for a
/// Condition step in front of it, so a pipeline fails fast with a reason instead of
/// waiting on a cluster that cannot run the step or events that will never arrive.
///
/// Inputs: `cluster_id` (required), `max_pending_steps` (default 256), `check_rules`
/// (default true). Outputs: `Ready`, `ClusterState`, `PendingSteps`, `Reason` ("" when
/// ready). `rules` are the EventBridge rules that feed emr-events.
pub fn emr_preflight<E, B>(emr: Arc<E>, bus: Arc<B>, rules: Vec<String>) -> StepFunction
where
    E: EmrJobs + 'static,
    B: EventBus + 'static,
{
    let rules = Arc::new(rules);
    StepFunction::new("emr-preflight", move |inputs: StepInputs| {
        let (emr, bus, rules) = (emr.clone(), bus.clone(), rules.clone());
        async move {
            let fields = inputs.fields();
            let cluster_id = fields.required_str("cluster_id")?;
            let max_pending =
                fields.u32_or("max_pending_steps", MAX_PENDING_STEPS as u32)? as usize;
            let check_rules = fields.bool_or("check_rules", true)?;
            let mut reasons = Vec::new();

            let (state, pending) = match emr.describe_cluster(cluster_id).await {
                Ok(cluster) => {
                    if !cluster.state.accepts_steps() {
                        reasons.push(format!(
                            "cluster {cluster_id} is {}; steps run only on STARTING, BOOTSTRAPPING, RUNNING or WAITING clusters",
                            cluster.state
                        ));
                    }
                    let pending = emr
                        .list_steps(cluster_id, &[StepState::Pending])
                        .await
                        .map_err(|e| {
                            StepError::Failed(format!("listing pending steps of {cluster_id}: {e}"))
                        })?
                        .len();
                    if pending >= max_pending {
                        reasons.push(format!("cluster {cluster_id} has {pending} PENDING steps; the limit is {max_pending}"));
                    }
                    (cluster.state.to_string(), pending)
                }
                Err(EmrError::NotFound(why)) | Err(EmrError::Invalid(why)) => {
                    reasons.push(format!("cluster {cluster_id} cannot be used: {why}"));
                    ("UNKNOWN".to_owned(), 0)
                }
                Err(EmrError::Transient(why)) => {
                    return Err(StepError::Failed(format!(
                        "describing cluster {cluster_id}: {why}"
                    )))
                }
            };

            if check_rules {
                if rules.is_empty() {
                    reasons.push(
                        "no EMR_EVENT_RULES configured to check; pass check_rules=false to skip"
                            .to_owned(),
                    );
                }
                for rule in rules.iter() {
                    match bus.rule_state(rule).await {
                        Ok(Some(state)) if state == "ENABLED" => {}
                        Ok(Some(state)) => {
                            reasons.push(format!("EventBridge rule {rule} is {state}, not ENABLED"))
                        }
                        Ok(None) => reasons.push(format!("EventBridge rule {rule} does not exist")),
                        Err(e) => {
                            return Err(StepError::Failed(format!("describing rule {rule}: {e}")))
                        }
                    }
                }
            }

            Ok(StepOutputs::new()
                .with("Ready", reasons.is_empty())
                .with("ClusterState", state)
                .with("PendingSteps", pending as u64)
                .with("Reason", reasons.join("; ")))
        }
    })
}
