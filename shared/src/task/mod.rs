//! The work behind a Callback step, selected by the message's `task` argument.

mod emr;
mod emr_arguments;
mod event;
mod registry;

pub use emr::{EmrPolicy, EmrTask};
pub use emr_arguments::{EmrArguments, EmrTarget};
pub use event::{EventTask, EVENT_SOURCE, STOPPING_DETAIL_TYPE, WAITING_DETAIL_TYPE};
pub use registry::TaskRegistry;

use std::sync::Arc;

use async_trait::async_trait;

use crate::callback::CallbackMessage;
use crate::outcome::{FailureReason, OutputParameters, StepOutcome};

/// Where a task leaves its step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskOutcome {
    /// Report success with these outputs now.
    Succeeded(OutputParameters),
    /// Report failure with this reason now.
    Failed(FailureReason),
    /// Someone else completes the step later (an EMR status event, an external system).
    Pending,
}

impl TaskOutcome {
    /// A failure with this reason, cut to the API's limit.
    pub fn failed(reason: impl Into<String>) -> Self {
        Self::Failed(FailureReason::new(reason))
    }

    /// What to report now, if anything.
    pub fn into_report(self) -> Option<StepOutcome> {
        match self {
            Self::Succeeded(outputs) => Some(StepOutcome::Succeeded(outputs)),
            Self::Failed(reason) => Some(StepOutcome::Failed(reason)),
            Self::Pending => None,
        }
    }
}

/// A passing failure (throttling, an outage): the message goes back to the queue and
/// the task runs again on redelivery, so tasks must be safe to run twice.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RetryableError(pub String);

/// One kind of work a Callback step can ask for.
///
/// A task that starts work elsewhere leaves the step [`TaskOutcome::Pending`]; the
/// Stopping message SageMaker sends when the execution stops reaches `stop`, which must
/// end the step:
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use sagemaker_custom_steps::callback::CallbackMessage;
/// use sagemaker_custom_steps::outcome::StepOutcome;
/// use sagemaker_custom_steps::processing::CallbackProcessor;
/// use sagemaker_custom_steps::report::InMemoryReporter;
/// use sagemaker_custom_steps::task::{CallbackTask, RetryableError, TaskOutcome, TaskRegistry};
///
/// /// Submits a job to a batch service that completes the step itself, later.
/// struct Submit;
///
/// #[async_trait]
/// impl CallbackTask for Submit {
///     fn name(&self) -> &'static str { "submit" }
///     async fn start(&self, message: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
///         // The job the step's arguments name starts there; the service reports later.
///         let _job = message.arguments.get("job");
///         Ok(TaskOutcome::Pending)
///     }
///     async fn stop(&self, _: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
///         Ok(TaskOutcome::failed("submit: job cancelled, the pipeline execution stopped"))
///     }
/// }
///
/// # block_on(async {
/// let sagemaker = Arc::new(InMemoryReporter::new());
/// let processor = CallbackProcessor::new(TaskRegistry::new(None).with(Submit), sagemaker.clone());
/// let arn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/e1";
/// let start = format!(r#"{{"token": "26vcYbeWsZ", "pipelineExecutionArn": "{arn}",
///     "arguments": {{"task": "submit", "job": "features"}}}}"#);
/// processor.process(&CallbackMessage::parse(&start).unwrap()).await;
/// assert_eq!(sagemaker.calls(), 0, "pending: the batch service reports");
///
/// let stopping = format!(r#"{{"token": "26vcYbeWsZ", "pipelineExecutionArn": "{arn}",
///     "status": "Stopping", "arguments": {{"task": "submit", "job": "features"}}}}"#);
/// processor.process(&CallbackMessage::parse(&stopping).unwrap()).await;
/// assert!(matches!(sagemaker.report_for("26vcYbeWsZ"), Some(StepOutcome::Failed(_))));
/// # });
/// # fn block_on(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[async_trait]
pub trait CallbackTask: Send + Sync {
    /// The value of the `task` argument that selects this task.
    fn name(&self) -> &'static str;

    /// The step started: do the work, or start it and leave the step pending.
    async fn start(&self, message: &CallbackMessage) -> Result<TaskOutcome, RetryableError>;

    /// The execution is stopping: clean up, then say how the step ended. A pending
    /// answer here would leave the pipeline stopping forever.
    async fn stop(&self, message: &CallbackMessage) -> Result<TaskOutcome, RetryableError>;
}

#[async_trait]
impl<T: CallbackTask + ?Sized> CallbackTask for Arc<T> {
    fn name(&self) -> &'static str {
        self.as_ref().name()
    }

    async fn start(&self, message: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
        self.as_ref().start(message).await
    }

    async fn stop(&self, message: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
        self.as_ref().stop(message).await
    }
}
