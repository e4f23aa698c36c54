use async_trait::async_trait;
use aws_sdk_eventbridge::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

use super::{BusEvent, EventPublisher, PublishError};

/// Publishes through aws-sdk-eventbridge on one bus.
#[derive(Clone, Debug)]
pub struct EventBridgePublisher {
    client: Client,
    bus_name: String,
}

impl EventBridgePublisher {
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, event: &BusEvent) -> Result<(), PublishError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(&event.source)
            .detail_type(&event.detail_type)
            .detail(event.detail.to_string())
            .build();
        let answer = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|err| match &err {
                SdkError::ServiceError(service) => {
                    let inner = service.err();
                    let text = format!(
                        "{}: {}",
                        inner.code().unwrap_or("error"),
                        inner.message().unwrap_or_default()
                    );
                    if service.raw().status().is_server_error()
                        || inner.code() == Some("ThrottlingException")
                    {
                        PublishError::Transient(text)
                    } else {
                        PublishError::Rejected(text)
                    }
                }
                _ => PublishError::Transient(err.to_string()),
            })?;
        // PutEvents answers 200 even when an entry fails; the entry says why.
        if answer.failed_entry_count() > 0 {
            let entry = answer.entries().first();
            let code = entry.and_then(|e| e.error_code()).unwrap_or("unknown");
            let message = entry.and_then(|e| e.error_message()).unwrap_or_default();
            let text = format!("{code}: {message}");
            return Err(if code.contains("Throttl") || code.contains("Internal") {
                PublishError::Transient(text)
            } else {
                PublishError::Rejected(text)
            });
        }
        Ok(())
    }
}
