//! An emulator that runs this workspace's Lambda handlers end to end on one machine,
//! with no AWS account and no Docker: a SageMaker API, moto server for SQS and
//! EventBridge, and a Lambda Runtime API for each function.

#![warn(missing_docs)]

mod auth;
mod aws_json;
mod child;
mod code_jobs;
pub mod commands;
mod emr;
mod faults;
mod lambda;
mod live_view;
mod paths;
mod pipeline;
mod rerun;
mod sagemaker;
mod service_model;
mod stack;
mod view;

// What the binary, the integration tests and the benchmarks reach: the stack and its
// options, the records they read back, and the parts a test drives on its own.
pub use auth::Credentials;
pub use child::family;
pub use code_jobs::{offline_s3, staging, CodeJob, CodeJobEnd, CodeJobs};
pub use emr::{EmrServer, NewStep};
pub use lambda::{FunctionSpec, InvokeError, LocalFunction};
pub use paths::{binary_dir, workspace_root};
pub use pipeline::executor::STEP_FAILURE;
pub use pipeline::jobs::plan::{transform, xgboost};
pub use pipeline::jobs::settings::{CodeSettings, JobSettings};
pub use pipeline::{
    start_execution, CallbackState, ExecutionRecord, Mocks, PipelineSpec, Pipelines, StartRequest,
    StepRecord,
};
pub use stack::{sdk_config, DeployOptions, Emulator, LOCAL_PIPELINE_ROLE, STANDING_CLUSTER_ID};

/// The one region the stack answers as: every ARN and endpoint it makes names it.
pub const REGION: &str = "us-east-1";

/// The one account the stack answers as.
pub const ACCOUNT: &str = "123456789012";
