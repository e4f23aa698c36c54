//! What the SageMaker operations share: the pipelines and their executions, the tags,
//! and the ClientRequestToken answers.

use std::sync::Arc;

use super::idempotency::Idempotency;
use super::tags::Tags;
use crate::pipeline::Pipelines;

/// The state the SageMaker operations answer from.
pub struct Api {
    pub pipelines: Arc<Pipelines>,
    pub tags: Tags,
    pub idempotency: Idempotency,
}
