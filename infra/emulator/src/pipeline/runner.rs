//! The outside systems a pipeline's steps use, as one port: the emulator provides
//! them (moto's queues and S3, the workspace's functions, the local EMR).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::watch;

use super::Callbacks;
use crate::code_jobs::{CodeJob, CodeJobEnd};

/// How an EMR step ended.
#[derive(Clone, Debug, PartialEq)]
pub enum EmrStepEnd {
    /// `step`: DescribeStep's `Step`, the step's properties.
    Completed {
        metadata: Value,
        step: Value,
    },
    /// `fault`: the retry policies' exception type, when the failure is transient.
    Failed {
        reason: String,
        fault: Option<&'static str>,
        metadata: Value,
    },
    Stopped {
        metadata: Value,
    },
}

/// The outside systems the steps use.
#[async_trait]
pub trait StepRunner: Send + Sync {
    fn callbacks(&self) -> Arc<Callbacks>;
    /// Puts a Callback step's message on the queue its SqsQueueUrl names.
    async fn send_callback_message(&self, queue_url: &str, body: &Value) -> Result<(), String>;
    /// Invokes the function a FunctionArn names; an error is the step's failure reason.
    async fn invoke_lambda(&self, function_arn: &str, inputs: &Value) -> Result<Value, String>;
    /// Runs an EMR step until it ends, or until `stop` turns true.
    async fn run_emr_step(
        &self,
        step_name: &str,
        arguments: &Value,
        stop: watch::Receiver<bool>,
    ) -> EmrStepEnd;
    /// The text of an S3 object (`s3://bucket/key`), for `Std:JsonGet` and
    /// `PipelineDefinitionS3Location`.
    async fn read_s3_object(&self, uri: &str) -> Result<String, String>;
    /// Deletes the object at `uri` (`s3://bucket/key`), or every object under it when
    /// `prefix`; how many were deleted.
    async fn delete_s3_objects(&self, uri: &str, prefix: bool) -> Result<usize, String>;
    /// The last lines the function a FunctionArn reaches has logged, for the view; none
    /// when no such function runs.
    fn function_log(&self, _function_arn: &str) -> Option<Vec<String>> {
        None
    }
    /// Runs a job's own code in `python` until it ends, or until `stop` turns true.
    async fn run_code(
        &self,
        job: &CodeJob,
        python: &std::path::Path,
        stop: watch::Receiver<bool>,
    ) -> CodeJobEnd;
}
