//! Metrics in CloudWatch Embedded Metric Format: one JSON line per dimension set, which
//! CloudWatch Logs turns into metrics with no API call. Dimensions stay low-cardinality
//! (function, task, outcome; never a token or an ARN), and the lines are JSON whatever
//! the log format, written straight to stdout when an invocation ends.
//!
//! Written here rather than with a metrics crate and an EMF exporter, by measurement: beside
//! `metrics_cloudwatch_embedded` (bench/probes, docs/benchmarks.md) the cold start and RSS
//! are the same within noise, and the crate costs 43 KB more of every zip and brings
//! lambda_http.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "SageMakerPipelineSteps";

/// What became of a callback message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CallbackOutcome {
    /// Reported to SageMaker as succeeded.
    Succeeded,
    /// Reported to SageMaker as failed.
    Failed,
    /// Left pending: the task completes the step later.
    Pending,
    /// Left on the queue for a later try.
    Retried,
    /// Unreadable: left for the DLQ.
    LeftForDlq,
}

impl CallbackOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Pending => "pending",
            Self::Retried => "retried",
            Self::LeftForDlq => "dlq",
        }
    }
}

#[derive(Debug, Default)]
struct Recorded {
    /// (task, outcome) → messages.
    callbacks: BTreeMap<(String, &'static str), u64>,
    /// task → report latencies in milliseconds.
    latencies: BTreeMap<String, Vec<f64>>,
    /// metric name → count, with the function as the only dimension.
    counts: BTreeMap<&'static str, u64>,
}

/// The metrics of one handler, gathered during an invocation and written at its end.
/// The first invocation's lines carry `ColdStart` (Count 1, by Function), as Powertools
/// for AWS Lambda writes it: a sandbox started for it.
#[derive(Debug)]
pub struct Metrics {
    function: &'static str,
    recorded: Mutex<Recorded>,
    cold: AtomicBool,
}

impl Metrics {
    /// Metrics of `function` (`callback-queue`, `emr-events`).
    pub fn new(function: &'static str) -> Self {
        Self {
            function,
            recorded: Mutex::default(),
            cold: AtomicBool::new(true),
        }
    }

    /// A callback message of `task` ended in `outcome`.
    pub fn callback(&self, task: &str, outcome: CallbackOutcome) {
        *self
            .recorded
            .lock()
            .unwrap()
            .callbacks
            .entry((task.to_owned(), outcome.as_str()))
            .or_default() += 1;
    }

    /// A report to SageMaker for `task` took this long.
    pub fn report_latency(&self, task: &str, latency: std::time::Duration) {
        self.recorded
            .lock()
            .unwrap()
            .latencies
            .entry(task.to_owned())
            .or_default()
            .push(latency.as_secs_f64() * 1000.0);
    }

    /// Adds to a count whose only dimension is the function (`StepsCompleted`,
    /// `StepsFailed`, `ReconcileReports`).
    pub fn count(&self, name: &'static str, n: u64) {
        *self
            .recorded
            .lock()
            .unwrap()
            .counts
            .entry(name)
            .or_default() += n;
    }

    /// The EMF lines of what was recorded since the last call, which clears it.
    pub fn take_lines(&self, timestamp_ms: u64) -> Vec<String> {
        let mut recorded = std::mem::take(&mut *self.recorded.lock().unwrap());
        if self.cold.swap(false, Ordering::Relaxed) {
            *recorded.counts.entry("ColdStart").or_default() += 1;
        }
        let mut lines = Vec::new();
        let function = self.function;
        for ((task, outcome), count) in recorded.callbacks {
            lines.push(line(
                timestamp_ms,
                &[
                    ("Function", function),
                    ("Task", &task),
                    ("Outcome", outcome),
                ],
                &[("Callbacks", "Count", serde_json::json!(count))],
            ));
        }
        for (task, latencies) in recorded.latencies {
            // EMF takes at most 100 values of a metric in one line.
            for chunk in latencies.chunks(100) {
                lines.push(line(
                    timestamp_ms,
                    &[("Function", function), ("Task", &task)],
                    &[("ReportLatency", "Milliseconds", serde_json::json!(chunk))],
                ));
            }
        }
        if !recorded.counts.is_empty() {
            let metrics: Vec<(&str, &str, serde_json::Value)> = recorded
                .counts
                .iter()
                .map(|(name, count)| (*name, "Count", serde_json::json!(count)))
                .collect();
            lines.push(line(timestamp_ms, &[("Function", function)], &metrics));
        }
        lines
    }

    /// Writes what was recorded to stdout, one EMF line per dimension set.
    pub fn flush(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let lines = self.take_lines(now);
        if lines.is_empty() {
            return;
        }
        let mut text = lines.join("\n");
        text.push('\n');
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
}

fn line(
    timestamp_ms: u64,
    dimensions: &[(&str, &str)],
    metrics: &[(&str, &str, serde_json::Value)],
) -> String {
    let mut root = serde_json::Map::new();
    let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
    let definitions: Vec<serde_json::Value> = metrics
        .iter()
        .map(|(name, unit, _)| serde_json::json!({"Name": name, "Unit": unit}))
        .collect();
    root.insert(
        "_aws".to_owned(),
        serde_json::json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": [
            {"Namespace": NAMESPACE, "Dimensions": [names], "Metrics": definitions}]}),
    );
    for (name, value) in dimensions {
        root.insert((*name).to_owned(), serde_json::json!(value));
    }
    for (name, _, value) in metrics {
        root.insert((*name).to_owned(), value.clone());
    }
    serde_json::Value::Object(root).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// Metrics past their first invocation, whose ColdStart is already written.
    fn warm(function: &'static str) -> Metrics {
        let metrics = Metrics::new(function);
        metrics.take_lines(0);
        metrics
    }

    #[test]
    fn the_first_invocation_writes_cold_start_once() {
        let metrics = Metrics::new("lambda-step");
        let first: Vec<Value> = metrics
            .take_lines(0)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0]["ColdStart"], 1);
        assert_eq!(first[0]["Function"], "lambda-step");
        assert_eq!(
            first[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "ColdStart", "Unit": "Count"}])
        );
        metrics.count("StepsCompleted", 1);
        let second = metrics.take_lines(0);
        assert!(!second[0].contains("ColdStart"), "{second:?}");
    }

    #[test]
    fn the_readme_example_is_a_line_the_handler_writes() {
        let readme = include_str!("../../docs/handlers.md");
        let shown: Value = readme
            .lines()
            .find(|l| l.starts_with("{\"_aws\""))
            .map(|l| serde_json::from_str(l).unwrap())
            .expect("docs/handlers.md shows an EMF line");
        assert_eq!(shown["Outcome"], "succeeded");
        let metrics = warm("callback-queue");
        assert_eq!(shown["Function"], "callback-queue");
        for _ in 0..shown["Callbacks"].as_u64().unwrap() {
            metrics.callback(shown["Task"].as_str().unwrap(), CallbackOutcome::Succeeded);
        }
        let lines = metrics.take_lines(shown["_aws"]["Timestamp"].as_u64().unwrap());
        assert_eq!(lines.len(), 1);
        assert_eq!(serde_json::from_str::<Value>(&lines[0]).unwrap(), shown);
    }

    #[test]
    fn one_line_per_dimension_set_in_emf() {
        let metrics = warm("callback-queue");
        metrics.callback("emr", CallbackOutcome::Succeeded);
        metrics.callback("emr", CallbackOutcome::Succeeded);
        metrics.callback("-", CallbackOutcome::LeftForDlq);
        metrics.report_latency("emr", std::time::Duration::from_millis(12));
        let lines: Vec<Value> = metrics
            .take_lines(1_700_000_000_000)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[1],
            json!({"_aws": {"Timestamp": 1_700_000_000_000u64, "CloudWatchMetrics": [{"Namespace": NAMESPACE,
                "Dimensions": [["Function", "Task", "Outcome"]], "Metrics": [{"Name": "Callbacks", "Unit": "Count"}]}]},
                "Function": "callback-queue", "Task": "emr", "Outcome": "succeeded", "Callbacks": 2})
        );
        assert_eq!(lines[0]["Outcome"], "dlq");
        assert_eq!(lines[2]["ReportLatency"], json!([12.0]));
        assert!(metrics.take_lines(0).is_empty(), "taking clears");
    }

    #[test]
    fn function_counts_share_one_line() {
        let metrics = warm("emr-events");
        metrics.count("StepsCompleted", 2);
        metrics.count("ReconcileReports", 1);
        let lines = metrics.take_lines(0);
        assert_eq!(lines.len(), 1);
        let line: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["StepsCompleted"], 2);
        assert_eq!(line["ReconcileReports"], 1);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"]])
        );
    }
}
