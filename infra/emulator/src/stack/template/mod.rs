//! infra/template.yaml, read as the emulator's one source of truth: the functions
//! (binary, timeout, memory, environment), their event sources (SQS, EventBridge rules,
//! schedules) and the queues (visibility timeout, redrive).

mod intrinsics;
mod model;

pub use model::{EventSource, Template};
