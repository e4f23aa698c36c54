//! An SQS batch of callback messages, run concurrently, answered with the records to retry.

use std::collections::HashSet;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures::stream::{self, StreamExt};
use tracing::{error, info_span, Instrument};

use crate::callback::CallbackMessage;
use crate::processing::{CallbackProcessor, Disposition};

/// Runs the records of an SQS batch through a [`CallbackProcessor`], at most `concurrency` at once.
pub struct BatchRunner {
    processor: Arc<CallbackProcessor>,
    concurrency: usize,
}

impl BatchRunner {
    /// A runner of `processor`; `concurrency` below 1 counts as 1.
    pub fn new(processor: CallbackProcessor, concurrency: usize) -> Self {
        Self {
            processor: Arc::new(processor),
            concurrency: concurrency.max(1),
        }
    }

    /// What the records ended in, per task and outcome (EMF metrics).
    pub fn metrics(&self) -> &std::sync::Arc<crate::metrics::Metrics> {
        self.processor.metrics()
    }

    /// Runs every record and returns exactly those to retry as `batchItemFailures`.
    pub async fn run(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut seen = HashSet::new();
        let mut jobs = Vec::with_capacity(event.records.len());
        for record in event.records {
            let message_id = record.message_id.unwrap_or_default();
            let parsed = CallbackMessage::parse(record.body.as_deref().unwrap_or_default());
            // SQS is at least once: the same message twice in one batch runs once.
            if let Ok(message) = &parsed {
                if !seen.insert((message.token.clone(), message.status)) {
                    tracing::info!(
                        message_id = %message_id,
                        token = %message.token,
                        "duplicate of a message earlier in this batch; skipped"
                    );
                    continue;
                }
            }
            jobs.push((message_id, parsed));
        }

        let failures: Vec<String> = stream::iter(jobs)
            .map(|(message_id, parsed)| {
                let processor = Arc::clone(&self.processor);
                let span = match &parsed {
                    Ok(m) => info_span!("message", message_id = %message_id, token = %m.token, execution_arn = %m.execution_arn),
                    Err(crate::callback::MessageError::Invalid { token, execution_arn, .. }) => {
                        info_span!("message", message_id = %message_id, token = %token, execution_arn = execution_arn.as_deref().unwrap_or(""))
                    }
                    Err(_) => info_span!("message", message_id = %message_id),
                };
                let work = async move {
                    match &parsed {
                        Ok(message) => processor.process(message).await,
                        Err(err) => processor.reject(err).await,
                    }
                }
                .instrument(span.clone());
                // A task of its own, so that a panic fails this record only.
                let handle = tokio::spawn(work);
                async move {
                    let disposition = handle.await.unwrap_or_else(|join_error| {
                        span.in_scope(|| error!(error = %join_error, "record panicked; it will be retried"));
                        Disposition::Retry
                    });
                    (message_id, disposition)
                }
            })
            .buffer_unordered(self.concurrency)
            .filter_map(|(message_id, disposition)| async move {
                (disposition == Disposition::Retry && !message_id.is_empty()).then_some(message_id)
            })
            .collect()
            .await;

        let mut response = SqsBatchResponse::default();
        response.set_failures(failures);
        response
    }
}
