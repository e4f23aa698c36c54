//! The two callback consumers measured side by side under the same Runtime API: the
//! release callback-queue binary, and the Python boto3 consumer under awslambdaric.

use std::path::{Path, PathBuf};

use pipelines_emulator::workspace_root;
use pipelines_emulator::Emulator;
use pipelines_emulator::{FunctionSpec, LocalFunction};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consumer {
    Rust,
    Python,
    /// A hello-world lambda_runtime binary: the floor under callback-queue's cold start.
    Floor,
    /// The floor plus callback-queue's metrics by the library's hand-written EMF module.
    MetricsByHand,
    /// The floor plus the same metrics by metrics_cloudwatch_embedded.
    MetricsByCrate,
    /// The release emr-events binary, sent an EMR status event.
    EmrEvents,
    /// The release lambda-step binary, sent a flatten-json step's inputs.
    LambdaStep,
}

impl Consumer {
    pub fn label(self) -> &'static str {
        match self {
            Self::Rust => "Rust callback-queue",
            Self::Python => "Python boto3 consumer",
            Self::Floor => "hello-world lambda_runtime",
            Self::MetricsByHand => "metrics by hand (the library's EMF module)",
            Self::MetricsByCrate => "metrics by metrics_cloudwatch_embedded",
            Self::EmrEvents => "Rust emr-events",
            Self::LambdaStep => "Rust lambda-step",
        }
    }

    /// The release binary's name (`target/lambda/<name>/bootstrap.zip` is its zip).
    pub fn binary(self) -> &'static str {
        match self {
            Self::Rust => "callback-queue",
            Self::Python => "python-consumer",
            Self::Floor => "lambda-floor",
            Self::MetricsByHand => "metrics-by-hand",
            Self::MetricsByCrate => "metrics-by-crate",
            Self::EmrEvents => "emr-events",
            Self::LambdaStep => "lambda-step",
        }
    }

    pub fn spec(self, stack: &Emulator, bin_dir: &Path) -> FunctionSpec {
        match self {
            // Release artifacts, built by cargo lambda as the handlers are (scripts/bench).
            Self::Rust
            | Self::Floor
            | Self::MetricsByHand
            | Self::MetricsByCrate
            | Self::EmrEvents
            | Self::LambdaStep => stack.function_spec(
                self.binary(),
                bin_dir.join(self.binary()),
                Vec::new(),
                Vec::new(),
            ),
            Self::Python => {
                let root = workspace_root();
                let mut spec = stack.function_spec(
                    "python-consumer",
                    root.join(".venv/bin/python"),
                    vec!["-m".into(), "awslambdaric".into(), "handler.handler".into()],
                    vec![(
                        "PYTHONPATH".into(),
                        root.join("bench/python_consumer").display().to_string(),
                    )],
                );
                spec.memory_mb = 128;
                spec
            }
        }
    }

    /// The first event of a cold start: a batch of one callback message, or the
    /// handler's own kind of event (an events/ file).
    pub fn first_event(self, stack: &Emulator, tokens: &mut Tokens) -> Value {
        let sample = |name: &str| -> Value {
            let path = workspace_root().join("events").join(name);
            serde_json::from_str(&std::fs::read_to_string(&path).expect("events/ file"))
                .expect("events/ file is JSON")
        };
        match self {
            Self::EmrEvents => sample("emr-step-completed-no-token.json"),
            Self::LambdaStep => sample("lambda-step-flatten-json.json"),
            _ => tokens.batch(stack, 1),
        }
    }

    /// Whether `answer` is the right answer to [`Self::first_event`].
    pub fn answered_well(self, answer: &Value) -> bool {
        match self {
            Self::EmrEvents => answer.is_object(),
            Self::LambdaStep => answer.get("eval_model").is_some(),
            _ => answer["batchItemFailures"]
                .as_array()
                .is_some_and(Vec::is_empty),
        }
    }

    pub async fn start(self, stack: &Emulator, bin_dir: &Path) -> LocalFunction {
        LocalFunction::start(self.spec(stack, bin_dir))
            .await
            .expect("start the consumer")
    }
}

/// Fresh tokens, registered as waiting steps, so every report is a first report.
pub struct Tokens(u64);

impl Tokens {
    pub fn new(prefix: u64) -> Self {
        Self(prefix * 100_000_000)
    }

    pub fn batch(&mut self, stack: &Emulator, size: usize) -> Value {
        let records: Vec<Value> = (0..size)
            .map(|_| {
                self.0 += 1;
                let token = format!("B{:09}", self.0);
                stack.sagemaker.callbacks().register(&token);
                let body = json!({"token": token, "arguments": {"task": "benchmark"},
                    "pipelineExecutionArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/bench/execution/b1"});
                json!({"messageId": format!("m-{token}"), "receiptHandle": "r", "body": body.to_string(),
                       "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                       "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:CallbackQueue"})
            })
            .collect();
        json!({"Records": records})
    }
}

/// Peak resident memory (VmHWM) of a process, in MB.
pub fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The page faults a process has taken so far that needed no disk read (`minflt` in
/// `/proc/<pid>/stat`): each is a page of code, data, heap or stack touched for the
/// first time, the unit in which a cold start's memory work is paid.
pub fn minor_faults(pid: u32) -> Option<u64> {
    minor_faults_in(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// `minflt` of a `/proc/<pid>/stat` line.
fn minor_faults_in(stat: &str) -> Option<u64> {
    // The command name, in parentheses, may hold spaces and parentheses: the fields
    // count from after its last `)`.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(7)?.parse().ok()
}

pub fn release_bin_dir() -> PathBuf {
    std::env::var_os("BENCH_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/x86_64-unknown-linux-gnu/release"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_minor_faults() -> u64 {
        minor_faults_in(&std::fs::read_to_string("/proc/thread-self/stat").unwrap()).unwrap()
    }

    /// The kernel's page size, as the process's own mappings give it.
    fn page_size() -> usize {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let kb: usize = smaps
            .lines()
            .find_map(|line| line.strip_prefix("KernelPageSize:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap();
        kb * 1024
    }

    #[test]
    fn touching_fresh_pages_counts_a_fault_each() {
        const PAGES: usize = 256;
        let page = page_size();
        let before = own_minor_faults();
        // Fresh anonymous memory: each page's first write faults it in.
        let mut memory = vec![0u8; (PAGES + 1) * page];
        for chunk in memory.chunks_mut(page) {
            chunk[0] = 1;
        }
        std::hint::black_box(&memory);
        let after = own_minor_faults();
        assert!(after - before >= PAGES as u64, "{before} -> {after}");
    }

    #[test]
    fn a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 1234 0 5 0 7 8";
        assert_eq!(minor_faults_in(stat), Some(1234));
    }
}
