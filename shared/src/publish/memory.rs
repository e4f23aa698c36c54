use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{BusEvent, EventPublisher, PublishError};

/// Keeps published events in memory for unit tests; errors can be queued up.
#[derive(Debug, Default)]
pub struct InMemoryPublisher {
    events: Mutex<Vec<BusEvent>>,
    scripted_errors: Mutex<VecDeque<PublishError>>,
}

impl InMemoryPublisher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fail_next(&self, errors: impl IntoIterator<Item = PublishError>) {
        self.scripted_errors.lock().unwrap().extend(errors);
    }

    pub fn events(&self) -> Vec<BusEvent> {
        self.events.lock().unwrap().clone()
    }
}

#[async_trait]
impl EventPublisher for InMemoryPublisher {
    async fn publish(&self, event: &BusEvent) -> Result<(), PublishError> {
        if let Some(err) = self.scripted_errors.lock().unwrap().pop_front() {
            return Err(err);
        }
        self.events.lock().unwrap().push(event.clone());
        Ok(())
    }
}
