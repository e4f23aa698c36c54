//! An emulator that runs this workspace's Lambda handlers end to end on one machine,
//! with no AWS account and no Docker: a SageMaker API, moto server for SQS and
//! EventBridge, and a Lambda Runtime API for each function.

pub mod auth;
pub mod aws_json;
pub mod child;
pub mod code_jobs;
pub mod commands;
pub mod emr;
pub mod event_pattern;
pub mod faults;
pub mod lambda;
pub mod live_view;
pub mod moto;
pub mod paths;
pub mod pipeline;
pub mod rerun;
pub mod sagemaker;
pub mod service_model;
pub mod sqs_source;
pub mod stack;
pub mod step_runner;
pub mod template;

pub use stack::Emulator;
