//! The harness for Lambda-step functions: flat inputs in, flat outputs out.

mod error;
mod harness;
mod inputs;
mod outputs;

pub use error::StepError;
pub use harness::{StepFunction, StepFunctions};
pub use inputs::StepInputs;
pub use outputs::StepOutputs;
