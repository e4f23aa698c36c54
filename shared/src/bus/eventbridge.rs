use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_eventbridge::config::http::HttpResponse;
use aws_sdk_eventbridge::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

use crate::sdk_client::ClientOnFirstUse;
use crate::sdk_error::describe_chain;

use super::{BusEvent, EventBus, PublishError};

/// Publishes through aws-sdk-eventbridge on one bus.
#[derive(Clone, Debug)]
pub struct EventBridgeBus {
    client: ClientOnFirstUse<Client>,
    bus_name: String,
}

impl EventBridgeBus {
    /// Publishes with `client` on the bus named `bus_name`.
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self {
            client: ClientOnFirstUse::made(client),
            bus_name: bus_name.into(),
        }
    }

    /// Publishes on the bus named `bus_name` with a client made from `config` at the
    /// first event: a handler that may never publish does not pay for it at its start.
    pub fn on_first_use(config: &SdkConfig, bus_name: impl Into<String>) -> Self {
        Self {
            client: ClientOnFirstUse::new(config, Client::new),
            bus_name: bus_name.into(),
        }
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, event: &BusEvent) -> Result<(), PublishError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(&event.source)
            .detail_type(&event.detail_type)
            .detail(event.detail.to_string())
            .build();
        let answer = self
            .client
            .get()
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(classify)?;
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

    async fn rule_state(&self, rule_name: &str) -> Result<Option<String>, PublishError> {
        match self
            .client
            .get()
            .describe_rule()
            .name(rule_name)
            .event_bus_name(&self.bus_name)
            .send()
            .await
        {
            Ok(rule) => Ok(Some(
                rule.state()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            )),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(err) => Err(classify(err)),
        }
    }
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: SdkError<E, HttpResponse>,
) -> PublishError {
    match &err {
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
        _ => PublishError::Transient(describe_chain(&err)),
    }
}
