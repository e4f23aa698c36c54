//! Publishing events on an EventBridge bus.

mod eventbridge;
mod memory;

pub use eventbridge::EventBridgePublisher;
pub use memory::InMemoryPublisher;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

/// One event for the bus.
#[derive(Clone, Debug, PartialEq)]
pub struct BusEvent {
    pub source: String,
    pub detail_type: String,
    pub detail: Value,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The bus or the event is refused for good (no such bus, event too large).
    #[error("event rejected: {0}")]
    Rejected(String),
    /// Throttling, 5xx, network: worth another try later.
    #[error("publishing failed, will retry: {0}")]
    Transient(String),
}

/// The port to EventBridge PutEvents.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, event: &BusEvent) -> Result<(), PublishError>;
}

#[async_trait]
impl<T: EventPublisher + ?Sized> EventPublisher for Arc<T> {
    async fn publish(&self, event: &BusEvent) -> Result<(), PublishError> {
        self.as_ref().publish(event).await
    }
}
