//! The message a Callback step puts on the queue.

mod execution_arn;
mod message;
mod token;

pub use execution_arn::PipelineExecutionArn;
pub use message::{CallbackMessage, CallbackStatus, MessageError};
pub use token::{CallbackToken, TOKEN_LENGTH};
