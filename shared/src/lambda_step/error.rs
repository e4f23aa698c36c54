use lambda_runtime::Diagnostic;

/// Why a Lambda step failed. SageMaker shows the message on the failed step.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The step's inputs are wrong: the message says which and why.
    #[error("{0}")]
    InvalidInput(String),
    /// The function could not do its work.
    #[error("{0}")]
    Failed(String),
}

impl From<crate::fields::FieldError> for StepError {
    fn from(err: crate::fields::FieldError) -> Self {
        Self::InvalidInput(err.to_string())
    }
}

impl From<StepError> for Diagnostic {
    fn from(err: StepError) -> Self {
        let error_type = match err {
            StepError::InvalidInput(_) => "InvalidInput",
            StepError::Failed(_) => "StepFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}
