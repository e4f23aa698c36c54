//! What the metric probes share: the callbacks of an SQS batch as callback-queue counts
//! them, so both probes record the same metrics for the same event.

use serde_json::Value;

/// The task every probe's callback is counted under (the bench sends `benchmark`).
pub fn task_of(record: &Value) -> String {
    record["body"]
        .as_str()
        .and_then(|body| serde_json::from_str::<Value>(body).ok())
        .and_then(|body| body["arguments"]["task"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "-".to_owned())
}

/// The records of an SQS event.
pub fn records(event: &Value) -> &[Value] {
    event["Records"].as_array().map_or(&[], Vec::as_slice)
}

/// The answer callback-queue gives a batch with no failures.
pub fn no_failures() -> Value {
    serde_json::json!({"batchItemFailures": []})
}

/// A stand-in for the time a report to SageMaker took, so the latency metric has values.
pub const REPORT_LATENCY: std::time::Duration = std::time::Duration::from_millis(3);
