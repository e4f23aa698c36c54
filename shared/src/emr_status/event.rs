use aws_lambda_events::event::cloudwatch_events::emr::{ClusterStateChange, StepStatusChange};
use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use serde_json::Value;

/// The events emr-events is sent, by source and detail-type.
#[derive(Clone, Debug, PartialEq)]
pub enum EmrEvent {
    /// `EMR Step Status Change`.
    StepStatusChange(StepStatusChange),
    /// `EMR Cluster State Change`.
    ClusterStateChange(ClusterStateChange),
    /// The reconcile schedule.
    Scheduled,
    /// Anything else: not ours to act on.
    Other {
        /// The event's `source`.
        source: String,
        /// The event's `detail-type`.
        detail_type: String,
    },
}

impl EmrEvent {
    /// Reads an EventBridge event; anything but EMR's status changes and the schedule is `Other`.
    pub fn from_eventbridge(event: CloudWatchEvent<Value>) -> Result<Self, String> {
        let source = event.source.unwrap_or_default();
        let detail_type = event.detail_type.unwrap_or_default();
        let detail = event.detail.unwrap_or(Value::Null);
        match (source.as_str(), detail_type.as_str()) {
            ("aws.emr", "EMR Step Status Change") => serde_json::from_value(detail)
                .map(Self::StepStatusChange)
                .map_err(|e| format!("EMR Step Status Change detail is malformed: {e}")),
            ("aws.emr", "EMR Cluster State Change") => serde_json::from_value(detail)
                .map(Self::ClusterStateChange)
                .map_err(|e| format!("EMR Cluster State Change detail is malformed: {e}")),
            ("aws.events", "Scheduled Event") => Ok(Self::Scheduled),
            _ => Ok(Self::Other {
                source,
                detail_type,
            }),
        }
    }
}
