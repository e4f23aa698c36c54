//! How a handler process lives: the Tokio runtime its concurrency calls for, the
//! invocations it has in flight, and what it does when Lambda shuts it down.
//!
//! On Lambda (default) a process serves one invocation at a time. On Lambda Managed
//! Instances Lambda sets `AWS_LAMBDA_MAX_CONCURRENCY` and sends up to that many
//! invocations to one process at once: lambda_runtime's concurrent mode polls `next`
//! from as many workers, and [`tokio_runtime`] gives them the threads of the
//! environment's vCPUs. Unset, the process runs as it always did, on one thread, which
//! keeps the cold start at its floor.

mod in_flight;
mod shutdown;

use std::future::Future;

use lambda_runtime::layers::TracingLayer;
use lambda_runtime::streaming::Body;
use lambda_runtime::{Error, IntoFunctionResponse, LambdaEvent, Runtime, Service};
use serde::{Deserialize, Serialize};

pub use in_flight::{InFlight, InFlightGuard, TrackInFlight, TrackInFlightLayer};
pub use shutdown::{on_sigterm, SHUTDOWN_GRACE};

/// `AWS_LAMBDA_MAX_CONCURRENCY`: how many invocations Lambda may send this process at
/// once (Lambda Managed Instances); 1 when unset or unreadable, as lambda_runtime reads it.
pub fn max_concurrency() -> usize {
    std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|value| value.trim().parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
}

/// The Tokio runtime for this process: one thread when it serves one invocation at a
/// time (no worker threads to start, nor wake-ups across them), a worker per available
/// CPU when Lambda sends it several at once.
///
/// ```no_run
/// use sagemaker_custom_steps::handler::run_lambda_step_handler;
/// use sagemaker_custom_steps::lambda_step::{StepError, StepFunction, StepInputs, StepOutputs};
///
/// async fn echo(inputs: StepInputs) -> Result<StepOutputs, StepError> {
///     Ok(StepOutputs::new().with("Echo", inputs.fields().required_str("text")?))
/// }
///
/// fn main() -> Result<(), lambda_runtime::Error> {
///     sagemaker_custom_steps::lifecycle::tokio_runtime()?.block_on(run_lambda_step_handler(
///         |_config, _settings, functions| functions.with(StepFunction::new("echo", echo)),
///     ))
/// }
/// ```
pub fn tokio_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if max_concurrency() > 1 {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build()
}

/// Serves `handler` under the Lambda Runtime API until the process ends: concurrently
/// when `AWS_LAMBDA_MAX_CONCURRENCY` is above 1, with every invocation counted in flight
/// until its answer is posted, and `flush` run at shutdown (see [`on_sigterm`]).
pub async fn serve<F, A, R, B>(
    handler: F,
    flush: impl FnOnce() + Send + 'static,
) -> Result<(), Error>
where
    F: Service<LambdaEvent<A>, Response = R> + Clone + Send + 'static,
    F::Future: Future<Output = Result<R, F::Error>> + Send + 'static,
    F::Error: Into<lambda_runtime::Diagnostic> + std::fmt::Debug,
    A: for<'de> Deserialize<'de> + Send + 'static,
    R: IntoFunctionResponse<B, Body> + Send + 'static,
    B: Serialize + Send + 'static,
{
    let in_flight = InFlight::new();
    on_sigterm(in_flight.clone(), max_concurrency() > 1, flush).await;
    Runtime::new(handler)
        .layer(TracingLayer::new())
        .layer(in_flight.layer())
        .run_concurrent()
        .await
}
