//! The SageMaker API of the local stack.

mod callbacks;
mod pipeline_api;
mod server;

pub use callbacks::{CallbackState, Callbacks, ReportRefusal};
pub use server::SageMakerServer;
