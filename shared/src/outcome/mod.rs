//! What a step ends in, within the limits of the SageMaker API.

mod failure_reason;
mod output_parameters;

pub use failure_reason::{FailureReason, MAX_REASON_CHARS};
pub use output_parameters::{
    primitive_text, OutputError, OutputParameters, MAX_NAME_CHARS, MAX_OUTPUTS, MAX_VALUE_CHARS,
};

/// The outcome reported to SageMaker for a callback step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// SendPipelineExecutionStepSuccess with these outputs.
    Succeeded(OutputParameters),
    /// SendPipelineExecutionStepFailure with this reason.
    Failed(FailureReason),
}

impl StepOutcome {
    /// A failure with this reason, cut to the API's limit.
    pub fn failed(reason: impl Into<String>) -> Self {
        Self::Failed(FailureReason::new(reason))
    }

    /// `succeeded` or `failed`, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Succeeded(_) => "success",
            Self::Failed(_) => "failure",
        }
    }
}
