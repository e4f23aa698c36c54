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
    Succeeded(OutputParameters),
    Failed(FailureReason),
}

impl StepOutcome {
    pub fn failed(reason: impl Into<String>) -> Self {
        Self::Failed(FailureReason::new(reason))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Succeeded(_) => "success",
            Self::Failed(_) => "failure",
        }
    }
}
