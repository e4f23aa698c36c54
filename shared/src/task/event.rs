use async_trait::async_trait;
use serde_json::json;

use super::{CallbackTask, RetryableError, TaskOutcome};
use crate::bus::{BusEvent, EventBus, PublishError};
use crate::callback::{CallbackMessage, CallbackStatus};

/// The `source` of every event this task publishes. Rules match on it.
pub const EVENT_SOURCE: &str = "sagemaker-pipeline-steps.callback";
/// The detail-type of the event a started step publishes.
pub const WAITING_DETAIL_TYPE: &str = "SageMaker Pipeline Callback Waiting";
/// The detail-type of the event a stopping step publishes.
pub const STOPPING_DETAIL_TYPE: &str = "SageMaker Pipeline Callback Stopping";

/// Task `event`: hands the callback to whoever listens on the bus. The listener
/// completes the step with the token; on Stopping the listener is told, and the step
/// is failed here so the pipeline can stop.
pub struct EventTask<P> {
    publisher: P,
}

impl<P: EventBus> EventTask<P> {
    /// The task, publishing with `publisher`.
    pub fn new(publisher: P) -> Self {
        Self { publisher }
    }

    async fn publish(&self, message: &CallbackMessage) -> Result<(), PublishError> {
        let detail_type = match message.status {
            CallbackStatus::Start => WAITING_DETAIL_TYPE,
            CallbackStatus::Stopping => STOPPING_DETAIL_TYPE,
        };
        let event = BusEvent {
            source: EVENT_SOURCE.to_owned(),
            detail_type: detail_type.to_owned(),
            detail: json!({
                "token": message.token.as_str(),
                "pipelineExecutionArn": message.execution_arn.as_str(),
                "arguments": message.arguments,
            }),
        };
        self.publisher.publish(&event).await
    }
}

#[async_trait]
impl<P: EventBus> CallbackTask for EventTask<P> {
    fn name(&self) -> &'static str {
        "event"
    }

    async fn start(&self, message: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
        match self.publish(message).await {
            Ok(()) => Ok(TaskOutcome::Pending),
            Err(PublishError::Rejected(why)) => Ok(TaskOutcome::failed(format!(
                "task event: EventBridge refused the Waiting event: {why}"
            ))),
            Err(PublishError::Transient(why)) => Err(RetryableError(why)),
        }
    }

    async fn stop(&self, message: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
        let told = match self.publish(message).await {
            Ok(()) => "listeners were sent the Stopping event".to_owned(),
            // The pipeline must stop even when nobody can be told.
            Err(PublishError::Rejected(why)) => format!("the Stopping event was refused: {why}"),
            Err(PublishError::Transient(why)) => return Err(RetryableError(why)),
        };
        Ok(TaskOutcome::failed(format!(
            "task event: pipeline execution is stopping; {told}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::bus::InMemoryBus;

    fn message(status: &str) -> CallbackMessage {
        CallbackMessage::parse(&format!(
            r#"{{"token":"26vcYbeWsZ","pipelineExecutionArn":"arn:aws:sagemaker:us-east-2:012345678901:pipeline/p/execution/e1","arguments":{{"task":"event","approver":"ml-team","nested":{{"a":[1,2]}}}}{status}}}"#
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn start_publishes_waiting_with_the_token_and_leaves_the_step_pending() {
        let bus = Arc::new(InMemoryBus::new());
        let task = EventTask::new(bus.clone());
        assert_eq!(
            task.start(&message("")).await.unwrap(),
            TaskOutcome::Pending
        );
        let events = bus.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].source, EVENT_SOURCE);
        assert_eq!(events[0].detail_type, WAITING_DETAIL_TYPE);
        assert_eq!(events[0].detail["token"], "26vcYbeWsZ");
        assert_eq!(events[0].detail["arguments"]["nested"]["a"][1], 2);
    }

    #[tokio::test]
    async fn stop_publishes_stopping_then_fails_the_step() {
        let bus = Arc::new(InMemoryBus::new());
        let task = EventTask::new(bus.clone());
        let outcome = task
            .stop(&message(r#","status":"Stopping""#))
            .await
            .unwrap();
        assert!(matches!(outcome, TaskOutcome::Failed(ref r) if r.as_str().contains("stopping")));
        assert_eq!(bus.events()[0].detail_type, STOPPING_DETAIL_TYPE);
    }

    #[tokio::test]
    async fn a_refused_event_fails_the_step_and_a_passing_error_retries() {
        let bus = Arc::new(InMemoryBus::new());
        let task = EventTask::new(bus.clone());
        bus.fail_next([
            PublishError::Rejected("ResourceNotFoundException: no bus".into()),
            PublishError::Transient("ThrottlingException".into()),
        ]);
        let refused = task.start(&message("")).await.unwrap();
        assert!(matches!(refused, TaskOutcome::Failed(ref r) if r.as_str().contains("no bus")));
        assert!(task.start(&message("")).await.is_err());
        assert!(bus.events().is_empty());
    }
}
