//! An emulator that runs this workspace's Lambda handlers end to end on one machine,
//! with no AWS account and no Docker: a SageMaker API, moto server for SQS and
//! EventBridge, and a Lambda Runtime API for each function.

pub mod auth;
mod aws_json;
pub mod child;
pub mod code_jobs;
pub mod commands;
pub mod emr;
pub mod faults;
pub mod lambda;
mod live_view;
pub mod paths;
pub mod pipeline;
mod rerun;
pub mod sagemaker;
mod service_model;
pub mod stack;

pub use stack::Emulator;

/// The one region the stack answers as: every ARN and endpoint it makes names it.
pub const REGION: &str = "us-east-1";

/// The one account the stack answers as.
pub const ACCOUNT: &str = "123456789012";
