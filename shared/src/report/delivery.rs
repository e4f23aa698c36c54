use tracing::{error, info, warn};

use super::{ReportError, StepReporter};
use crate::callback::CallbackToken;
use crate::outcome::StepOutcome;

/// What became of a report, for the caller to act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// SageMaker took it, or the step had already ended: nothing more to do.
    Done,
    /// A passing failure: try again later (the message or event is redelivered).
    Retry(String),
    /// SageMaker refused even a failure report: only a person can help (DLQ).
    Refused(String),
}

/// Reports an outcome. Outputs SageMaker refuses turn into a failure report, so a step
/// is never left waiting for outputs that can never be sent.
pub async fn deliver(
    reporter: &dyn StepReporter,
    token: &CallbackToken,
    outcome: StepOutcome,
) -> Delivery {
    let first = reporter.report(token, &outcome).await;
    let (outcome, answer) = match (first, &outcome) {
        (Err(ReportError::Rejected(why)), StepOutcome::Succeeded(_)) => {
            warn!(error = %why, "SageMaker refused the outputs; failing the step");
            let failure =
                StepOutcome::failed(format!("SageMaker refused the step's outputs: {why}"));
            let answer = reporter.report(token, &failure).await;
            (failure, answer)
        }
        (answer, _) => (outcome, answer),
    };
    match answer {
        Ok(()) => {
            match &outcome {
                StepOutcome::Failed(reason) => {
                    info!(outcome = "failure", reason = %reason, "step reported")
                }
                StepOutcome::Succeeded(_) => info!(outcome = "success", "step reported"),
            }
            Delivery::Done
        }
        Err(ReportError::NoLongerWaiting(why)) => {
            info!(outcome = outcome.kind(), answer = %why, "step no longer waiting; nothing to report");
            Delivery::Done
        }
        Err(ReportError::Transient(why)) => {
            warn!(outcome = outcome.kind(), error = %why, "report failed; will be retried");
            Delivery::Retry(why)
        }
        Err(ReportError::Rejected(why)) => {
            error!(outcome = outcome.kind(), error = %why, "SageMaker refused the report");
            Delivery::Refused(why)
        }
    }
}
