//! The SageMaker API of the emulator.

mod api;
mod execution_api;
mod idempotency;
mod job_api;
mod listing;
mod pipeline_api;
pub mod requests;
mod server;
mod tags;
mod version_api;

pub use server::SageMakerServer;
