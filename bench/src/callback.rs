//! The handlers' cold starts beside the floor and the Python consumer, and a batch
//! under latency.

use std::path::Path;
use std::time::{Duration, Instant};

use pipelines_emulator::Emulator;

use crate::consumers::{minor_faults, peak_rss_mb, Consumer, Tokens};
use crate::stats::{median, median_of_any, ms, row};

/// Cold starts per consumer: enough that the median is steady, taken in rounds of one
/// start of each consumer, so a change in the machine's state touches every one alike.
const COLD_STARTS: usize = 40;

/// A cold start's medians over 40 starts.
pub struct ColdStart {
    /// Process start to first answered event.
    pub answered: Duration,
    /// Process start to its first poll for an invocation (Lambda's Init Duration).
    pub init: Duration,
    /// Peak RSS after the first event, in MB.
    pub rss_mb: f64,
    /// Minor page faults to the first answer.
    pub faults: Option<u64>,
    /// The first event's SageMaker call, as the handler's own `ReportLatency` metric
    /// gives it (callback-queue only): what of the first event is a round trip.
    pub report: Option<Duration>,
    /// The same call in the event after it, the process warm: what of the first call is
    /// work done once (callback-queue only).
    pub warm_report: Option<Duration>,
}

/// One consumer's cold start: process start to first answered event (its clients
/// built), median of 40 starts.
pub async fn cold_start(
    stack: &Emulator,
    bin_dir: &Path,
    consumer: Consumer,
    tokens: &mut Tokens,
) -> ColdStart {
    cold_starts(stack, bin_dir, &[consumer], tokens)
        .await
        .remove(0)
}

/// What the starts of one consumer measured, start by start.
#[derive(Clone, Default)]
struct Samples {
    answered: Vec<Duration>,
    inits: Vec<Duration>,
    rss_mb: Vec<f64>,
    faults: Vec<u64>,
    reports: Vec<Duration>,
    warm_reports: Vec<Duration>,
}

impl Samples {
    fn medians(mut self) -> ColdStart {
        self.rss_mb.sort_by(f64::total_cmp);
        ColdStart {
            rss_mb: self
                .rss_mb
                .get(self.rss_mb.len() / 2)
                .copied()
                .unwrap_or(f64::NAN),
            faults: median_of_any(self.faults),
            answered: median(self.answered),
            init: median(self.inits),
            report: median_of_any(self.reports),
            warm_report: median_of_any(self.warm_reports),
        }
    }
}

/// The cold starts of `consumers`, in their order, taken in rounds.
pub async fn cold_starts(
    stack: &Emulator,
    bin_dir: &Path,
    consumers: &[Consumer],
    tokens: &mut Tokens,
) -> Vec<ColdStart> {
    let mut samples = vec![Samples::default(); consumers.len()];
    for round in 0..COLD_STARTS {
        // Each round starts with another consumer: none always follows the same one.
        for at in 0..consumers.len() {
            let index = (round + at) % consumers.len();
            let consumer = &consumers[index];
            let samples = &mut samples[index];
            let event = consumer.first_event(stack, tokens);
            let started = Instant::now();
            let function = consumer.start(stack, bin_dir).await;
            let answer = function.invoke(&event).await.expect("first event answered");
            samples.answered.push(started.elapsed());
            assert!(
                consumer.answered_well(&answer),
                "{}: {answer}",
                consumer.label()
            );
            samples.inits.push(
                function
                    .init_duration()
                    .await
                    .expect("it polled for the event"),
            );
            let pid = function.pid().await;
            if let Some(mb) = pid.and_then(peak_rss_mb) {
                samples.rss_mb.push(mb);
            }
            samples.faults.extend(pid.and_then(minor_faults));
            if *consumer == Consumer::Rust {
                samples.reports.extend(report_latency(&function, 0).await);
                let second = consumer.first_event(stack, tokens);
                function
                    .invoke(&second)
                    .await
                    .expect("second event answered");
                samples
                    .warm_reports
                    .extend(report_latency(&function, 1).await);
            }
        }
    }
    samples.into_iter().map(Samples::medians).collect()
}

/// The `ReportLatency` callback-queue's metrics line gives for its event number `nth`
/// (from 0). The line is written before the answer is posted; its reader may lag the
/// answer a little.
async fn report_latency(
    function: &pipelines_emulator::LocalFunction,
    nth: usize,
) -> Option<Duration> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let found = function
            .logs()
            .iter()
            .filter_map(|line| {
                let metrics: serde_json::Value = serde_json::from_str(line).ok()?;
                metrics["ReportLatency"][0].as_f64()
            })
            .nth(nth);
        if let Some(ms) = found {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The median time of a batch of `size` against a warm function.
pub async fn batch_time(
    stack: &Emulator,
    function: &pipelines_emulator::LocalFunction,
    size: usize,
    tokens: &mut Tokens,
) -> Duration {
    let mut samples = Vec::new();
    for _ in 0..15 {
        let event = tokens.batch(stack, size);
        let started = Instant::now();
        function.invoke(&event).await.expect("batch answered");
        samples.push(started.elapsed());
    }
    median(samples)
}

pub async fn batch_under_latency(stack: &Emulator, bin_dir: &Path, tokens: &mut Tokens) {
    let function = Consumer::Rust.start(stack, bin_dir).await;
    batch_time(stack, &function, 1, tokens).await;
    stack
        .sagemaker
        .faults()
        .set_latency(Duration::from_millis(50));
    let one = batch_time(stack, &function, 1, tokens).await;
    let ten = batch_time(stack, &function, 10, tokens).await;
    stack.sagemaker.faults().set_latency(Duration::ZERO);
    let ratio = ten.as_secs_f64() / one.as_secs_f64();
    row(
        "batch of 10, 50 ms SageMaker latency (vs 1 message)",
        format!("{} vs {} = {ratio:.2} x", ms(ten), ms(one)),
        "<= 1.30 x".into(),
        ratio <= 1.3,
    );
}

/// The most a handler's cold start may be over the hello-world floor's.
const OVER_FLOOR_BUDGET: f64 = 1.25;

pub async fn cold_start_report(stack: &Emulator, bin_dir: &Path, tokens: &mut Tokens) {
    let consumers = [
        Consumer::Floor,
        Consumer::Rust,
        Consumer::EmrEvents,
        Consumer::LambdaStep,
    ];
    let measured = cold_starts(stack, bin_dir, &consumers, tokens).await;
    let mut starts: Vec<(Consumer, ColdStart)> = consumers.into_iter().zip(measured).collect();
    // Apart: a Python process's start and end (60 MB) slow whatever starts beside it.
    let python = cold_start(stack, bin_dir, Consumer::Python, tokens).await;
    starts.push((Consumer::Python, python));
    for (consumer, start) in &starts {
        let report = match (start.report, start.warm_report) {
            (Some(cold), Some(warm)) => {
                format!(
                    " (its SageMaker call {}; warm, the same call {})",
                    ms(cold),
                    ms(warm)
                )
            }
            _ => String::new(),
        };
        let faults = start
            .faults
            .map(|faults| format!(", {faults} page faults"))
            .unwrap_or_default();
        println!(
            "  cold start, {}: {} to the first answer ({:.1} MB{faults}): init {}, then the first event {}{report}",
            consumer.label(),
            ms(start.answered),
            start.rss_mb,
            ms(start.init),
            ms(start.answered.saturating_sub(start.init))
        );
    }
    let of = |wanted: Consumer| &starts.iter().find(|(c, _)| *c == wanted).unwrap().1;
    let floor = of(Consumer::Floor);
    for handler in [Consumer::Rust, Consumer::EmrEvents, Consumer::LambdaStep] {
        let start = of(handler);
        let ratio = start.answered.as_secs_f64() / floor.answered.as_secs_f64();
        row(
            &format!("{} cold start over the floor's", handler.binary()),
            format!(
                "{} vs {} = {ratio:.2} x (init {} vs {})",
                ms(start.answered),
                ms(floor.answered),
                ms(start.init),
                ms(floor.init)
            ),
            format!("<= {OVER_FLOOR_BUDGET} x"),
            ratio <= OVER_FLOOR_BUDGET,
        );
    }
    let (rust_start, py_start) = (of(Consumer::Rust).answered, of(Consumer::Python).answered);
    let ratio = py_start.as_secs_f64() / rust_start.as_secs_f64();
    row(
        "callback-queue cold start (median of 40)",
        format!("{} = 1/{ratio:.0} of Python", ms(rust_start)),
        format!("<= 1/30 ({})", ms(py_start / 30)),
        ratio >= 30.0,
    );
}
