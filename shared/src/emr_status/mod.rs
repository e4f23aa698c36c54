//! Completing callback steps from EMR's status events, and reconciling on a schedule
//! what EventBridge failed to deliver.

mod event;
mod handler;
mod reconcile;

pub use event::EmrEvent;
pub use handler::{EmrStatusHandler, Handled, ReconcileWindow};
