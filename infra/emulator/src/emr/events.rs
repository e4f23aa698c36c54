//! The EventBridge events EMR emits on step and cluster changes, in AWS's shape.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::model::{ClusterRecord, StepRecord};

/// Receives every event the emulator emits (and did not drop).
pub type EmrEventStream = mpsc::UnboundedReceiver<Value>;

/// Drops events, as EventBridge's best-effort delivery sometimes does: the next N
/// events whose detail is in a given state (`COMPLETED`, `TERMINATED`, ...).
#[derive(Debug, Default)]
pub struct EventFaults {
    drop_in_state: Mutex<Vec<(String, usize)>>,
    dropped: AtomicUsize,
}

impl EventFaults {
    pub fn drop_next(&self, state: &str, count: usize) {
        self.drop_in_state
            .lock()
            .unwrap()
            .push((state.to_owned(), count));
    }

    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    fn take_drop(&self, state: &str) -> bool {
        let mut rules = self.drop_in_state.lock().unwrap();
        let Some(rule) = rules.iter_mut().find(|(s, n)| s == state && *n > 0) else {
            return false;
        };
        rule.1 -= 1;
        self.dropped.fetch_add(1, Ordering::SeqCst);
        true
    }
}

#[derive(Clone)]
pub(super) struct Emitter {
    sender: mpsc::UnboundedSender<Value>,
    pub faults: Arc<EventFaults>,
}

impl Emitter {
    pub fn new() -> (Self, EmrEventStream) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (
            Self {
                sender,
                faults: Arc::new(EventFaults::default()),
            },
            receiver,
        )
    }

    fn emit(&self, detail_type: &str, detail: Value) {
        if self
            .faults
            .take_drop(detail["state"].as_str().unwrap_or_default())
        {
            return;
        }
        let event = json!({
            "version": "0",
            "id": format!("local-{}", uuid_like()),
            "detail-type": detail_type,
            "source": "aws.emr",
            "account": "123456789012",
            "time": now_rfc3339(),
            "region": "us-east-1",
            "resources": [],
            "detail": detail,
        });
        // Nobody listening is fine: the events are simply not routed.
        let _ = self.sender.send(event);
    }

    pub fn step(&self, step: &StepRecord, cluster_name: &str) {
        let severity = if step.state == "FAILED" {
            "ERROR"
        } else {
            "INFO"
        };
        let message = format!(
            "Step {} ({}) in Amazon EMR cluster {} ({}) {}.",
            step.id,
            step.name,
            step.cluster_id,
            cluster_name,
            step.state.to_lowercase()
        );
        self.emit(
            "EMR Step Status Change",
            json!({"severity": severity, "actionOnFailure": step.action_on_failure, "stepId": step.id,
                   "name": step.name, "clusterId": step.cluster_id, "state": step.state, "message": message}),
        );
    }

    pub fn cluster(&self, cluster: &ClusterRecord) {
        let reason = cluster
            .reason
            .as_ref()
            .map(|(code, message)| json!({"code": code, "message": message}).to_string())
            .unwrap_or_else(|| "{}".to_owned());
        let severity = if cluster.state == "TERMINATED_WITH_ERRORS" {
            "CRITICAL"
        } else {
            "INFO"
        };
        self.emit(
            "EMR Cluster State Change",
            json!({"severity": severity, "stateChangeReason": reason, "name": cluster.name,
                   "clusterId": cluster.id, "state": cluster.state,
                   "message": format!("Amazon EMR Cluster {} ({}) is {}.", cluster.id, cluster.name, cluster.state)}),
        );
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn uuid_like() -> String {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{:012x}", NEXT.fetch_add(1, Ordering::SeqCst))
}
