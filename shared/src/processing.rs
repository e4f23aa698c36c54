//! One callback message, from body to report.

use std::sync::Arc;

use tracing::{debug, error, info, warn};

use crate::callback::{CallbackMessage, CallbackStatus, CallbackToken, MessageError};
use crate::metrics::{CallbackOutcome, Metrics};
use crate::outcome::StepOutcome;
use crate::report::{deliver, Delivery, StepReporter};
use crate::task::{TaskOutcome, TaskRegistry};

/// What becomes of an SQS record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Done with: delete it from the queue.
    Done,
    /// Leave it on the queue: redelivered later, and moved to the DLQ after
    /// maxReceiveCount tries.
    Retry,
}

/// Runs the selected task for a message and reports what it ended in.
pub struct CallbackProcessor {
    tasks: TaskRegistry,
    reporter: Arc<dyn StepReporter>,
    metrics: Arc<Metrics>,
}

/// The task dimension of messages no task was selected for.
const NO_TASK: &str = "-";

impl CallbackProcessor {
    /// A processor of the tasks in `tasks`, reporting with `reporter`.
    pub fn new(tasks: TaskRegistry, reporter: Arc<dyn StepReporter>) -> Self {
        Self {
            tasks,
            reporter,
            metrics: Arc::new(Metrics::new("callback-queue")),
        }
    }

    /// What every message ended in, per task: the handler writes it when an
    /// invocation ends.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Handles a message whose body failed to parse.
    pub async fn reject(&self, error: &MessageError) -> Disposition {
        match error {
            MessageError::Unreportable(why) => {
                error!(reason = %why, "message has no readable token; left for the DLQ");
                self.metrics.callback(NO_TASK, CallbackOutcome::LeftForDlq);
                Disposition::Retry
            }
            MessageError::Invalid { token, reason, .. } => {
                self.report(
                    NO_TASK,
                    token,
                    StepOutcome::failed(format!("invalid callback message: {reason}")),
                )
                .await
            }
        }
    }

    /// Runs the message's task and reports what it ended in.
    pub async fn process(&self, message: &CallbackMessage) -> Disposition {
        let task = match self.tasks.select(message) {
            Ok(task) => task,
            Err(reason) => {
                return self
                    .report(NO_TASK, &message.token, StepOutcome::failed(reason))
                    .await;
            }
        };
        // One line per message at INFO, the outcome's: this one is for debugging.
        debug!(
            task = task.name(),
            status = message.status.as_str(),
            "running task"
        );
        let result = match message.status {
            CallbackStatus::Start => task.start(message).await,
            CallbackStatus::Stopping => task.stop(message).await,
        };
        match result {
            Ok(TaskOutcome::Pending) if message.status == CallbackStatus::Stopping => {
                // A task must end its step on Stopping, or the execution never stops.
                error!(
                    task = task.name(),
                    "task left a stopping step pending; failing it"
                );
                self.report(
                    task.name(),
                    &message.token,
                    StepOutcome::failed(format!(
                        "task {}: pipeline execution stopped",
                        task.name()
                    )),
                )
                .await
            }
            Ok(outcome) => match outcome.into_report() {
                Some(report) => self.report(task.name(), &message.token, report).await,
                None => {
                    info!(task = task.name(), "step left pending");
                    self.metrics.callback(task.name(), CallbackOutcome::Pending);
                    Disposition::Done
                }
            },
            Err(err) => {
                warn!(task = task.name(), error = %err, "task failed for now; message will be retried");
                self.metrics.callback(task.name(), CallbackOutcome::Retried);
                Disposition::Retry
            }
        }
    }

    async fn report(&self, task: &str, token: &CallbackToken, outcome: StepOutcome) -> Disposition {
        let reported_as = match outcome {
            StepOutcome::Succeeded(_) => CallbackOutcome::Succeeded,
            StepOutcome::Failed(_) => CallbackOutcome::Failed,
        };
        let started = std::time::Instant::now();
        let delivery = deliver(self.reporter.as_ref(), token, outcome).await;
        self.metrics.report_latency(task, started.elapsed());
        match delivery {
            Delivery::Done => {
                self.metrics.callback(task, reported_as);
                Disposition::Done
            }
            Delivery::Retry(_) | Delivery::Refused(_) => {
                self.metrics.callback(task, CallbackOutcome::Retried);
                Disposition::Retry
            }
        }
    }
}
