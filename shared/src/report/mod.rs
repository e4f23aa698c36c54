//! Reporting a callback step's outcome to SageMaker.

mod delivery;
mod memory;
mod request_token;
mod sagemaker;

pub use delivery::{deliver, Delivery};
pub use memory::{InMemoryReporter, RecordedReport};
pub use request_token::client_request_token;
pub use sagemaker::{means_no_longer_waiting, SageMakerReporter};

use std::sync::Arc;

use async_trait::async_trait;

use crate::callback::CallbackToken;
use crate::outcome::StepOutcome;

/// How a report can go wrong; each kind asks for a different reaction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The step already ended or its execution stopped: final, nothing to retry.
    #[error("step is no longer waiting: {0}")]
    NoLongerWaiting(String),
    /// The service refused the request itself (validation): retrying the same
    /// request cannot help.
    #[error("report rejected: {0}")]
    Rejected(String),
    /// Throttling, 5xx, network: the message goes back to the queue for a later try.
    #[error("report failed, will retry: {0}")]
    Transient(String),
}

/// The port to SageMaker's SendPipelineExecutionStepSuccess/Failure.
#[async_trait]
pub trait StepReporter: Send + Sync {
    /// Reports a step's outcome; the error says whether to retry.
    async fn report(&self, token: &CallbackToken, outcome: &StepOutcome)
        -> Result<(), ReportError>;
}

#[async_trait]
impl<T: StepReporter + ?Sized> StepReporter for Arc<T> {
    async fn report(
        &self,
        token: &CallbackToken,
        outcome: &StepOutcome,
    ) -> Result<(), ReportError> {
        self.as_ref().report(token, outcome).await
    }
}
