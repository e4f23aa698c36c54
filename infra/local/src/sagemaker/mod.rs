//! The SageMaker API of the local stack.

mod callbacks;
mod execution_api;
mod idempotency;
mod listing;
mod pipeline_api;
mod server;
mod tags;

pub use callbacks::{CallbackState, Callbacks, ReportRefusal};
pub use server::{Api, SageMakerServer};
