//! SageMaker pipelines on the local stack: definitions, expressions, executions.

pub mod definition;
pub mod executor;
pub mod expressions;
pub mod store;

pub use executor::{start_execution, EmrStepEnd, StepRunner};
pub use store::{ExecutionRecord, Pipelines, StepRecord};
