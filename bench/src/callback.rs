//! callback-queue beside the Python consumer: cold start, a batch under latency and
//! sustained throughput.

use std::path::Path;
use std::time::{Duration, Instant};

use pipelines_emulator::Emulator;

use crate::consumers::{peak_rss_mb, Consumer, Tokens};
use crate::stats::{median, ms, row};

const COLD_STARTS: usize = 20;

/// A cold start's medians over 20 starts.
pub struct ColdStart {
    /// Process start to first answered event.
    pub answered: Duration,
    /// Process start to its first poll for an invocation (Lambda's Init Duration).
    pub init: Duration,
    /// Peak RSS after the first event, in MB.
    pub rss_mb: f64,
}

/// Process start to first answered event (its clients built), median of 20 starts.
pub async fn cold_start(
    stack: &Emulator,
    bin_dir: &Path,
    consumer: Consumer,
    tokens: &mut Tokens,
) -> ColdStart {
    let mut samples = Vec::new();
    let mut inits = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..COLD_STARTS {
        let event = tokens.batch(stack, 1);
        let started = Instant::now();
        let function = consumer.start(stack, bin_dir).await;
        let answer = function.invoke(&event).await.expect("first event answered");
        samples.push(started.elapsed());
        assert!(
            answer["batchItemFailures"]
                .as_array()
                .is_some_and(Vec::is_empty),
            "{answer}"
        );
        inits.push(
            function
                .init_duration()
                .await
                .expect("it polled for the event"),
        );
        if let Some(mb) = function.pid().await.and_then(peak_rss_mb) {
            rss.push(mb);
        }
    }
    rss.sort_by(f64::total_cmp);
    ColdStart {
        answered: median(samples),
        init: median(inits),
        rss_mb: rss.get(rss.len() / 2).copied().unwrap_or(f64::NAN),
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

/// How long each throughput run lasts: long enough that a run is sustained work rather
/// than a burst (about 14,000 messages for callback-queue, 1,400 for Python).
const RUN_FOR: Duration = Duration::from_secs(1);

/// Messages per second over `RUN_FOR` of batches of 10 (the template's batch size).
pub async fn throughput(
    stack: &Emulator,
    bin_dir: &Path,
    consumer: Consumer,
    tokens: &mut Tokens,
) -> f64 {
    let function = consumer.start(stack, bin_dir).await;
    function
        .invoke(&tokens.batch(stack, 10))
        .await
        .expect("warm-up");
    // Built before the clock starts: the harness's own work is not the handler's. Enough
    // for twice the fastest rate seen here.
    let batches: Vec<_> = (0..3_000).map(|_| tokens.batch(stack, 10)).collect();
    let started = Instant::now();
    let mut messages = 0;
    for batch in &batches {
        let answer = function.invoke(batch).await.expect("batch answered");
        assert!(
            answer["batchItemFailures"]
                .as_array()
                .is_some_and(Vec::is_empty),
            "{answer}"
        );
        messages += 10;
        if started.elapsed() >= RUN_FOR {
            break;
        }
    }
    messages as f64 / started.elapsed().as_secs_f64()
}

pub async fn cold_start_report(stack: &Emulator, bin_dir: &Path, tokens: &mut Tokens) {
    let rust = cold_start(stack, bin_dir, Consumer::Rust, tokens).await;
    let python = cold_start(stack, bin_dir, Consumer::Python, tokens).await;
    let floor = cold_start(stack, bin_dir, Consumer::Floor, tokens).await;
    for (consumer, start) in [
        (Consumer::Rust, &rust),
        (Consumer::Python, &python),
        (Consumer::Floor, &floor),
    ] {
        println!(
            "  cold start, {}: {} to the first answer ({:.1} MB): init {}, then the first event {}",
            consumer.label(),
            ms(start.answered),
            start.rss_mb,
            ms(start.init),
            ms(start.answered.saturating_sub(start.init))
        );
    }
    println!(
        "  callback-queue over the floor: {} before its first answer, {} of it in init",
        ms(rust.answered.saturating_sub(floor.answered)),
        ms(rust.init.saturating_sub(floor.init))
    );
    let (rust_start, py_start) = (rust.answered, python.answered);
    let ratio = py_start.as_secs_f64() / rust_start.as_secs_f64();
    row(
        "callback-queue cold start (median of 20)",
        format!("{} = 1/{ratio:.0} of Python", ms(rust_start)),
        format!("<= 1/30 ({})", ms(py_start / 30)),
        ratio >= 30.0,
    );
}

/// Throughput beside the Python consumer's.
pub async fn throughput_report(stack: &Emulator, bin_dir: &Path, tokens: &mut Tokens) {
    // Runs swing by ~10% with the machine's state: the median of three, taken in turns.
    let (mut rust_runs, mut py_runs) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        rust_runs.push(throughput(stack, bin_dir, Consumer::Rust, tokens).await);
        py_runs.push(throughput(stack, bin_dir, Consumer::Python, tokens).await);
    }
    let rates = |runs: &[f64]| {
        runs.iter()
            .map(|rate| format!("{rate:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "  throughput, three runs of {} s each: {} {} msg/s; {} {} msg/s",
        RUN_FOR.as_secs(),
        Consumer::Rust.label(),
        rates(&rust_runs),
        Consumer::Python.label(),
        rates(&py_runs)
    );
    let rust_rate = median_rate(rust_runs);
    let py_rate = median_rate(py_runs);
    row(
        "sustained throughput, one process, no latency (median of 3)",
        format!("{rust_rate:.0} msg/s = {:.1} x Python", rust_rate / py_rate),
        ">= 10 x".into(),
        rust_rate / py_rate >= 10.0,
    );
}

fn median_rate(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}
