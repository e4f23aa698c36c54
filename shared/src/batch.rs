//! An SQS batch of callback messages, run concurrently, answered with the records to retry.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures::stream::{self, StreamExt};
use tracing::{error, info_span, Instrument};

use crate::callback::{CallbackMessage, CallbackStatus};
use crate::processing::{CallbackProcessor, Disposition};

/// Runs the records of an SQS batch through a [`CallbackProcessor`], at most `concurrency` at once.
///
/// A message is run once however many copies are under way: a second copy of one
/// (same token and status) in this batch, or in another batch this process is running
/// at the same time (Lambda Managed Instances), is skipped. If the copy that runs is
/// retried, its own record comes back, so skipping the other loses nothing.
pub struct BatchRunner {
    processor: Arc<CallbackProcessor>,
    concurrency: usize,
    under_way: Arc<UnderWay>,
}

/// The messages (token and status) this process is running, across its invocations.
#[derive(Debug, Default)]
struct UnderWay(Mutex<HashSet<(String, CallbackStatus)>>);

/// A message claimed for running; dropping it lets a later copy run.
struct Claim {
    under_way: Arc<UnderWay>,
    key: (String, CallbackStatus),
}

impl UnderWay {
    /// Claims the message, or None when a copy of it is already under way.
    fn claim(self: &Arc<Self>, message: &CallbackMessage) -> Option<Claim> {
        let key = (message.token.to_string(), message.status);
        let mut claimed = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        claimed.insert(key.clone()).then(|| Claim {
            under_way: self.clone(),
            key,
        })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut claimed = self
            .under_way
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        claimed.remove(&self.key);
    }
}

impl BatchRunner {
    /// A runner of `processor`; `concurrency` below 1 counts as 1.
    pub fn new(processor: CallbackProcessor, concurrency: usize) -> Self {
        Self {
            processor: Arc::new(processor),
            concurrency: concurrency.max(1),
            under_way: Arc::default(),
        }
    }

    /// What the records ended in, per task and outcome (EMF metrics).
    pub fn metrics(&self) -> &std::sync::Arc<crate::metrics::Metrics> {
        self.processor.metrics()
    }

    /// Runs every record and returns exactly those to retry as `batchItemFailures`.
    pub async fn run(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut jobs = Vec::with_capacity(event.records.len());
        for record in event.records {
            let message_id = record.message_id.unwrap_or_default();
            let parsed = CallbackMessage::parse(record.body.as_deref().unwrap_or_default());
            // SQS is at least once: a copy of a message under way is not run again.
            let claim = match &parsed {
                Ok(message) => match self.under_way.claim(message) {
                    Some(claim) => Some(claim),
                    None => {
                        tracing::info!(
                            message_id = %message_id,
                            token = %message.token,
                            "duplicate of a message under way in this process; skipped"
                        );
                        continue;
                    }
                },
                Err(_) => None,
            };
            jobs.push((message_id, parsed, claim));
        }

        let failures: Vec<String> = stream::iter(jobs)
            .map(|(message_id, parsed, claim)| {
                let processor = Arc::clone(&self.processor);
                let span = match &parsed {
                    Ok(m) => info_span!("message", message_id = %message_id, token = %m.token, execution_arn = %m.execution_arn),
                    Err(crate::callback::MessageError::Invalid { token, execution_arn, .. }) => {
                        info_span!("message", message_id = %message_id, token = %token, execution_arn = execution_arn.as_deref().unwrap_or(""))
                    }
                    Err(_) => info_span!("message", message_id = %message_id),
                };
                let work = async move {
                    let disposition = match &parsed {
                        Ok(message) => processor.process(message).await,
                        Err(err) => processor.reject(err).await,
                    };
                    drop(claim);
                    disposition
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
