//! SageMaker pipelines on the emulator: definitions, expressions, executions.

pub mod attempts;
pub mod cache;
pub mod callbacks;
pub mod cleanup;
pub mod conditions;
pub mod definition;
pub mod executor;
pub mod expressions;
pub mod for_each;
pub mod iso_duration;
pub mod jobs;
pub mod readiness;
pub mod references;
pub mod runner;
pub mod selective;
pub mod step_run;
pub mod step_task;
pub mod store;
pub mod validate;

pub use callbacks::{CallbackState, Callbacks, ReportRefusal};
pub use executor::{retry_execution, start_execution, StartRequest};
pub use jobs::mocks::Mocks;
pub use jobs::settings::CodeSettings;
pub use runner::{EmrStepEnd, StepRunner};
pub use selective::SelectiveConfig;
pub use store::{ExecutionRecord, PipelineSpec, Pipelines, StepRecord};
