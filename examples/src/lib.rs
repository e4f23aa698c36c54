//! Your own SageMaker Pipelines steps, written with the shared crate. Copy this crate:
//!
//! - [`batch_job`]: a callback task that starts work elsewhere (an internal batch
//!   service), leaves the step pending for that service to complete with the token, and
//!   cancels the work when the pipeline stops;
//! - [`score`]: a Lambda-step function, a typed fn from flat inputs to flat outputs.
//!
//! `src/bin/` holds their handlers (one call each), `template.yaml` the SAM lines that
//! deploy them beside the stack, `tests/` a test that runs both in a pipeline on the
//! emulator.

pub mod batch_job;
pub mod score;
