//! Sustained throughput and CPU per message of one callback-queue process beside the
//! Python consumer's, and callback-queue's throughput at concurrency 1 and 8 (Lambda
//! Managed Instances: `AWS_LAMBDA_MAX_CONCURRENCY` invocations in one process).

use std::path::Path;
use std::time::{Duration, Instant};

use pipelines_emulator::Emulator;
use pipelines_emulator::LocalFunction;

use crate::consumers::{Consumer, Tokens};
use crate::stats::row;

/// How long each throughput run lasts: long enough that a run is sustained work rather
/// than a burst (about 14,000 messages for callback-queue, 1,400 for Python).
const RUN_FOR: Duration = Duration::from_secs(1);

/// The most of the Python consumer's CPU per message callback-queue may use.
const CPU_BUDGET: f64 = 1.0 / 12.0;

/// What one run measured.
pub struct Run {
    /// Messages answered per second.
    pub rate: f64,
    /// CPU time (user and system, every thread) of the process per message.
    pub cpu_per_message: Duration,
}

/// Batches of 10 (the template's batch size) for `RUN_FOR`, `concurrency` in flight
/// at once against one process that serves that many.
pub async fn run(
    stack: &Emulator,
    bin_dir: &Path,
    consumer: Consumer,
    tokens: &mut Tokens,
    concurrency: usize,
) -> Run {
    let mut spec = consumer.spec(stack, bin_dir);
    spec.max_concurrency = concurrency as u32;
    let function = LocalFunction::start(spec)
        .await
        .expect("start the consumer");
    function
        .invoke(&tokens.batch(stack, 10))
        .await
        .expect("warm-up");
    let pid = function.pid().await.expect("a process runs");
    // Built before the clock starts: the harness's own work is not the handler's. Enough
    // for twice the fastest rate seen here.
    let batches: Vec<_> = (0..4_000).map(|_| tokens.batch(stack, 10)).collect();
    let cpu_before = cpu_time(pid);
    let started = Instant::now();
    let lanes = batches.chunks(batches.len() / concurrency).map(|lane| {
        let function = &function;
        async move {
            let mut messages = 0;
            for batch in lane {
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
            messages
        }
    });
    let messages: u64 = futures::future::join_all(lanes).await.into_iter().sum();
    let elapsed = started.elapsed();
    let cpu = cpu_time(pid).saturating_sub(cpu_before);
    Run {
        rate: messages as f64 / elapsed.as_secs_f64(),
        cpu_per_message: cpu / messages as u32,
    }
}

/// CPU time of a process, all its threads, from the scheduler's own accounting
/// (/proc/<pid>/task/*/schedstat: nanoseconds on a CPU).
fn cpu_time(pid: u32) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc task folder");
    let nanos: u64 = tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

fn median_by(runs: &mut [Run], key: impl Fn(&Run) -> f64) -> f64 {
    let mut values: Vec<f64> = runs.iter().map(&key).collect();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Throughput and CPU per message beside the Python consumer's, then callback-queue at
/// concurrency 8.
pub async fn report(stack: &Emulator, bin_dir: &Path, tokens: &mut Tokens) {
    // Runs swing by ~10% with the machine's state: the median of three, taken in turns.
    let (mut rust_runs, mut py_runs) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        rust_runs.push(run(stack, bin_dir, Consumer::Rust, tokens, 1).await);
        py_runs.push(run(stack, bin_dir, Consumer::Python, tokens, 1).await);
    }
    let show = |runs: &[Run]| {
        runs.iter()
            .map(|r| {
                format!(
                    "{:.0} msg/s at {} µs",
                    r.rate,
                    r.cpu_per_message.as_micros()
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "  throughput and CPU per message, three runs of {} s each: {}: {}; {}: {}",
        RUN_FOR.as_secs(),
        Consumer::Rust.label(),
        show(&rust_runs),
        Consumer::Python.label(),
        show(&py_runs)
    );
    let rust_rate = median_by(&mut rust_runs, |r| r.rate);
    let py_rate = median_by(&mut py_runs, |r| r.rate);
    row(
        "sustained throughput, one process, no latency (median of 3)",
        format!("{rust_rate:.0} msg/s = {:.1} x Python", rust_rate / py_rate),
        ">= 10 x".into(),
        rust_rate / py_rate >= 10.0,
    );
    let rust_cpu = median_by(&mut rust_runs, |r| r.cpu_per_message.as_secs_f64());
    let py_cpu = median_by(&mut py_runs, |r| r.cpu_per_message.as_secs_f64());
    row(
        "CPU per message, callback-queue vs Python (median of 3)",
        format!(
            "{:.0} µs vs {:.0} µs = 1/{:.1}",
            rust_cpu * 1e6,
            py_cpu * 1e6,
            py_cpu / rust_cpu
        ),
        "<= 1/12".into(),
        rust_cpu <= py_cpu * CPU_BUDGET,
    );

    // Lambda Managed Instances: one process, 8 invocations at once, each report waiting
    // 5 ms on SageMaker as a real call would, so concurrency has waits to overlap.
    stack
        .sagemaker
        .faults()
        .set_latency(Duration::from_millis(5));
    let mut at = Vec::new();
    for concurrency in [1, 8] {
        at.push(run(stack, bin_dir, Consumer::Rust, tokens, concurrency).await);
    }
    stack.sagemaker.faults().set_latency(Duration::ZERO);
    println!(
        "  callback-queue, one process, 5 ms SageMaker latency: {:.0} msg/s at concurrency 1 ({} µs CPU per message), {:.0} msg/s at concurrency 8 ({} µs) = {:.1} x",
        at[0].rate,
        at[0].cpu_per_message.as_micros(),
        at[1].rate,
        at[1].cpu_per_message.as_micros(),
        at[1].rate / at[0].rate
    );
}
