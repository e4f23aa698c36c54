//! The domain shared by the handlers that run custom SageMaker Pipelines steps:
//! callback messages, step outcomes within the API's limits, the tasks behind
//! Callback steps, the Lambda-step harness, and one port per outside system.

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
pub mod metrics;
pub mod outcome;
pub mod processing;
pub mod report;
pub mod sdk_config;
pub mod sdk_error;
pub mod settings;
pub mod task;
pub mod text;
