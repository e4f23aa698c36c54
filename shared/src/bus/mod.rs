//! EventBridge: publishing events on a bus, and the state of the rules that feed us.

mod eventbridge;
mod memory;

pub use eventbridge::EventBridgeBus;
pub use memory::InMemoryBus;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

/// One event for the bus.
#[derive(Clone, Debug, PartialEq)]
pub struct BusEvent {
    /// The event's `source`.
    pub source: String,
    /// The event's `detail-type`.
    pub detail_type: String,
    /// The event's `detail`, a JSON object.
    pub detail: Value,
}

/// Why an event was not published.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The bus or the event is refused for good (no such bus, event too large).
    #[error("event rejected: {0}")]
    Rejected(String),
    /// Throttling, 5xx, network: worth another try later.
    #[error("publishing failed, will retry: {0}")]
    Transient(String),
}

/// The port to EventBridge.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Puts one event on the bus.
    async fn publish(&self, event: &BusEvent) -> Result<(), PublishError>;

    /// A rule's state (`ENABLED`, `DISABLED`, ...), or None when there is no such rule.
    async fn rule_state(&self, rule_name: &str) -> Result<Option<String>, PublishError>;
}

#[async_trait]
impl<T: EventBus + ?Sized> EventBus for Arc<T> {
    async fn publish(&self, event: &BusEvent) -> Result<(), PublishError> {
        self.as_ref().publish(event).await
    }

    async fn rule_state(&self, rule_name: &str) -> Result<Option<String>, PublishError> {
        self.as_ref().rule_state(rule_name).await
    }
}
