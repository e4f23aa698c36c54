//! Custom steps for Amazon SageMaker Pipelines, in Rust: the library behind this
//! project's handlers, and the one to write your own steps with.
//!
//! - A **Callback step** puts a message on an SQS queue and waits for
//!   SendPipelineExecutionStepSuccess/Failure with its token. Write a
//!   [`task::CallbackTask`] (`start`, and `stop` for the Stopping message), add it to a
//!   [`task::TaskRegistry`], and [`handler::run_callback_handler`] runs the whole
//!   handler: SQS batches with partial failures, duplicates, reports with idempotent
//!   tokens, logs and EMF [`metrics`].
//! - A **Lambda step** invokes a function with flat inputs. Write a
//!   [`lambda_step::StepFunction`], a typed fn, and [`handler::run_lambda_step_handler`]
//!   runs it.
//! - Outcomes stay within the API's limits ([`outcome`]); arguments and inputs are read
//!   with errors that name them ([`fields`]); each outside system is a small trait with
//!   an SDK adapter and an in-memory one ([`report`], [`bus`], [`emr`]) for tests.
//!
//! A task, tested on the in-memory reporter:
//!
//! ```
//! use std::sync::Arc;
//! use async_trait::async_trait;
//! use sagemaker_custom_steps::callback::CallbackMessage;
//! use sagemaker_custom_steps::outcome::OutputParameters;
//! use sagemaker_custom_steps::processing::CallbackProcessor;
//! use sagemaker_custom_steps::report::InMemoryReporter;
//! use sagemaker_custom_steps::task::{CallbackTask, RetryableError, TaskOutcome, TaskRegistry};
//!
//! /// Approves at once: the smallest task there is.
//! struct Approve;
//!
//! #[async_trait]
//! impl CallbackTask for Approve {
//!     fn name(&self) -> &'static str { "approve" }
//!     async fn start(&self, _: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
//!         let mut outputs = OutputParameters::new();
//!         outputs.push("Approved", "true").expect("within the API's limits");
//!         Ok(TaskOutcome::Succeeded(outputs))
//!     }
//!     async fn stop(&self, _: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
//!         Ok(TaskOutcome::failed("approval: pipeline execution stopped"))
//!     }
//! }
//!
//! # tokio_test_block(async {
//! let reporter = Arc::new(InMemoryReporter::new());
//! let processor = CallbackProcessor::new(TaskRegistry::new(None).with(Approve), reporter.clone());
//! let message = CallbackMessage::parse(r#"{"token": "26vcYbeWsZ",
//!     "pipelineExecutionArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/e1",
//!     "arguments": {"task": "approve"}}"#).unwrap();
//! processor.process(&message).await;
//! assert!(reporter.report_for("26vcYbeWsZ").is_some());
//! # });
//! # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```

#![warn(missing_docs)]

pub mod batch;
pub mod bus;
pub mod callback;
pub mod emr;
pub mod emr_status;
pub mod fields;
pub mod functions;
pub mod handler;
pub mod invocation_log;
pub mod lambda_step;
pub mod lifecycle;
pub mod metrics;
pub mod outcome;
pub mod processing;
pub mod report;
pub mod sdk_client;
pub mod sdk_config;
pub mod sdk_error;
pub mod settings;
pub mod task;
pub mod text;
