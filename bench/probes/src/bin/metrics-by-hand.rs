//! callback-queue's metrics, written by the library's hand-written EMF module: per
//! record a `Callbacks` count by task and outcome and a `ReportLatency` value, flushed as
//! the invocation ends; `ColdStart` on the first.

use cold_start_probes::{no_failures, records, task_of, REPORT_LATENCY};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use sagemaker_custom_steps::metrics::{CallbackOutcome, Metrics};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let metrics = &Metrics::new("callback-queue");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        for record in records(&event.payload) {
            let task = task_of(record);
            metrics.callback(&task, CallbackOutcome::Succeeded);
            metrics.report_latency(&task, REPORT_LATENCY);
        }
        metrics.flush();
        Ok::<Value, Error>(no_failures())
    }))
    .await
}
