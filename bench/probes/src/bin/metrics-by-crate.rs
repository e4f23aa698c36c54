//! callback-queue's metrics, written by `metrics_cloudwatch_embedded` through the
//! `metrics` facade: the same counts and latencies as metrics-by-hand, flushed after
//! each invocation by the crate's Lambda integration, with its cold-start metric.

use cold_start_probes::{no_failures, records, task_of, REPORT_LATENCY};
use lambda_runtime::{Error, LambdaEvent};
use sagemaker_custom_steps::metrics::NAMESPACE;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .with_dimension("Function", "callback-queue")
        .lambda_cold_start_metric("ColdStart")
        .init()
        .map_err(|e| format!("metrics: {e}"))?;
    // The unit goes with the metric's description, as the facade gives it to the recorder.
    metrics::describe_histogram!(
        "ReportLatency",
        metrics::Unit::Milliseconds,
        "time of a report to SageMaker"
    );
    metrics_cloudwatch_embedded::lambda::handler::run(
        collector,
        |event: LambdaEvent<Value>| async move {
            for record in records(&event.payload) {
                let task = task_of(record);
                metrics::counter!("Callbacks", "Task" => task.clone(), "Outcome" => "succeeded")
                    .increment(1);
                metrics::histogram!("ReportLatency", "Task" => task)
                    .record(REPORT_LATENCY.as_secs_f64() * 1000.0);
            }
            Ok::<Value, Error>(no_failures())
        },
    )
    .await
}
