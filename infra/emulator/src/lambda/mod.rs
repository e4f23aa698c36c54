//! Functions of this workspace run as Lambda runs them: a process polling a Runtime API.

mod function;
mod peer;
mod runtime_api;

pub use function::{FunctionSpec, LocalFunction};

/// Why an invocation gave no response.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The function answered with an error (its `errorType` and `errorMessage`).
    #[error("{error_type}: {message}")]
    Function {
        /// `errorType`.
        error_type: String,
        /// `errorMessage`.
        message: String,
    },
    /// The process reported an init error.
    #[error("init error: {0}")]
    Init(String),
    /// The process ended during the invocation.
    #[error("function process ended: {0}")]
    Crashed(String),
    /// The function did not answer within its timeout.
    #[error("function timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// Its process could not be started.
    #[error("function process could not start: {0}")]
    Spawn(String),
}
