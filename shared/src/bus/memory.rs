use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{BusEvent, EventBus, PublishError};

/// Keeps published events in memory for unit tests; errors can be queued up.
#[derive(Debug, Default)]
pub struct InMemoryBus {
    events: Mutex<Vec<BusEvent>>,
    scripted_errors: Mutex<VecDeque<PublishError>>,
    rules: Mutex<HashMap<String, String>>,
}

impl InMemoryBus {
    /// An empty bus that accepts every event.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next publishes fail with these errors, in order.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = PublishError>) {
        self.scripted_errors.lock().unwrap().extend(errors);
    }

    /// Declares a rule and its state (`ENABLED`, `DISABLED`), as DescribeRule answers it.
    pub fn set_rule(&self, name: &str, state: &str) {
        self.rules
            .lock()
            .unwrap()
            .insert(name.to_owned(), state.to_owned());
    }

    /// Every event published so far, oldest first.
    pub fn events(&self) -> Vec<BusEvent> {
        self.events.lock().unwrap().clone()
    }
}

#[async_trait]
impl EventBus for InMemoryBus {
    async fn publish(&self, event: &BusEvent) -> Result<(), PublishError> {
        if let Some(err) = self.scripted_errors.lock().unwrap().pop_front() {
            return Err(err);
        }
        self.events.lock().unwrap().push(event.clone());
        Ok(())
    }

    async fn rule_state(&self, rule_name: &str) -> Result<Option<String>, PublishError> {
        Ok(self.rules.lock().unwrap().get(rule_name).cloned())
    }
}
