//! Shutdown on SIGTERM: wait for what is in flight, flush, exit.
//!
//! Lambda sends SIGTERM before it ends a process only when an extension is registered;
//! otherwise it kills it. A process serving one invocation at a time is only ever shut
//! down between invocations, with its metrics and logs written as each invocation
//! ended, so it registers nothing: a registration is a round trip to the Extensions API
//! in every cold start. A process serving several at once (Lambda Managed Instances)
//! can be shut down with invocations under way, so it registers a no-op internal
//! extension, as lambda_runtime's `spawn_graceful_shutdown_handler` does, and on
//! SIGTERM gives its invocations [`SHUTDOWN_GRACE`] to finish. What does not finish is
//! handed back: its answer is never posted, so the event source delivers its records
//! again (SQS after the visibility timeout), and the handlers' duplicate checks keep
//! the work from starting twice.

use std::time::Duration;

use tracing::{info, warn};

use super::InFlight;

/// How long a shutdown waits for invocations in flight. Lambda leaves a runtime whose
/// extensions are internal 500 ms between SIGTERM and SIGKILL; the rest is the flush's.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(400);

/// The name of the no-op extension registered to receive SIGTERM.
const EXTENSION_NAME: &str = "sagemaker-custom-steps-graceful-shutdown";

/// Handles SIGTERM and SIGINT from now on: waits up to [`SHUTDOWN_GRACE`] for the
/// invocations in `in_flight`, runs `flush` (metrics, pending log lines) and exits.
/// With `register_extension`, first registers the no-op extension that makes Lambda
/// send SIGTERM; call it before the runtime first polls for an invocation (in init).
/// Neither a failed registration nor a signal that cannot be watched stops the handler:
/// each is logged, and the process then ends as it would without this.
pub async fn on_sigterm(
    in_flight: InFlight,
    register_extension: bool,
    flush: impl FnOnce() + Send + 'static,
) {
    use tokio::signal::unix::{signal, SignalKind};

    let (terminate, interrupt) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(terminate), Ok(interrupt)) => (terminate, interrupt),
        (Err(e), _) | (_, Err(e)) => {
            warn!(error = %e, "SIGTERM cannot be watched; a shutdown will not wait for invocations in flight");
            return;
        }
    };
    if register_extension {
        register_no_op_extension().await;
    }
    tokio::spawn(async move {
        let (mut terminate, mut interrupt) = (terminate, interrupt);
        let signal = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        let under_way = in_flight.count();
        info!(signal, in_flight = under_way, "shutting down");
        if !in_flight.drained(SHUTDOWN_GRACE).await {
            warn!(
                handed_back = in_flight.count(),
                grace_ms = SHUTDOWN_GRACE.as_millis() as u64,
                "invocations still in flight at shutdown are handed back: their events are delivered again"
            );
        }
        flush();
        std::process::exit(0);
    });
}

/// Registers an internal extension subscribed to no event and keeps its long poll
/// open: Lambda then sends the runtime SIGTERM before a shutdown.
async fn register_no_op_extension() {
    let extension = lambda_extension::Extension::new()
        .with_events(&[])
        .with_extension_name(EXTENSION_NAME)
        .register()
        .await;
    match extension {
        Ok(extension) => {
            tokio::spawn(async move {
                // It receives no event; the poll only ends with the process or the API.
                let _ = extension.run().await;
            });
        }
        Err(e) => {
            warn!(error = %e, "the shutdown extension could not register; a shutdown will not wait for invocations in flight")
        }
    }
}
