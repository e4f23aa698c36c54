//! `bench`: every figure of the design's budgets, measured in one run on this machine,
//! next to its budget. Run through scripts/bench, which builds the release artifacts.

mod callback;
mod code;
mod consumers;
mod memory;
mod model;
mod pipeline;
mod probes;
mod stats;
mod throughput;
mod view;

use std::time::Duration;

use clap::{Parser, ValueEnum};
use pipelines_emulator::workspace_root;
use pipelines_emulator::DeployOptions;
use pipelines_emulator::Emulator;

use consumers::{release_bin_dir, Tokens};
use stats::{ms, row};

const RSS_BUDGET_MB: f64 = 20.0;
const ZIP_BUDGET_BYTES: u64 = 4 * 1024 * 1024;

/// The figures of the design's budgets, each beside its budget.
#[derive(Parser)]
struct Args {
    /// Measure only these figures (all of them when not given).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Figure>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Figure {
    ColdStart,
    Batch,
    Throughput,
    Memory,
    Artifacts,
    Pipeline,
    // The library's EMF module against metrics_cloudwatch_embedded (bench/probes).
    Metrics,
    // Job steps running their own code (--run-code).
    Code,
    // The model runs: built-in XGBoost, Tuning and batch transform for real.
    Model,
    // The view: a 1,000-step execution's page, the abalone report's size.
    View,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let wanted = |figure: Figure| args.only.is_empty() || args.only.contains(&figure);
    let bin_dir = release_bin_dir();
    println!("release binaries: {}", bin_dir.display());
    let mut stack = Emulator::start().await.expect("emulator");
    let mut tokens = Tokens::new(1);

    if wanted(Figure::ColdStart) {
        callback::cold_start_report(&stack, &bin_dir, &mut tokens).await;
    }
    if wanted(Figure::Batch) {
        callback::batch_under_latency(&stack, &bin_dir, &mut tokens).await;
    }
    if wanted(Figure::Throughput) {
        throughput::report(&stack, &bin_dir, &mut tokens).await;
    }
    if wanted(Figure::Memory) {
        let callback_rss = memory::callback_queue(&stack, &bin_dir, &mut tokens).await;
        let emr_rss = memory::emr_events(&stack, &bin_dir).await;
        let step_rss = memory::lambda_step(&stack, &bin_dir).await;
        for (name, mb) in [
            ("callback-queue", callback_rss),
            ("emr-events", emr_rss),
            ("lambda-step", step_rss),
        ] {
            row(
                &format!("peak RSS of {name}, 1,000-message run"),
                format!("{mb:.1} MB"),
                format!("<= {RSS_BUDGET_MB} MB"),
                mb <= RSS_BUDGET_MB,
            );
        }
    }

    if wanted(Figure::Metrics) {
        probes::metrics_report(&stack, &bin_dir, &mut tokens).await;
    }

    if wanted(Figure::Code) {
        let (overhead, on_stack, alone) = code::overhead_per_job().await;
        println!(
            "  a Processing job whose script does nothing: {} on the stack, {} for python3 alone",
            ms(on_stack),
            ms(alone)
        );
        row(
            "job step running its code: overhead beyond the script",
            ms(overhead),
            "<= 150 ms".into(),
            overhead <= Duration::from_millis(150),
        );
        let (real, mocked) = code::abalone_script().await;
        println!(
            "  abalone-script.json (scikit-learn, 3 jobs): {} with its scripts, {} on mocks",
            ms(real),
            ms(mocked)
        );
    }

    if wanted(Figure::View) {
        let (rendered, ready, page, report) = view::figures().await;
        println!(
            "  a 1,000-step execution's page: rendered by the stack in {}, {} KB; ready in headless Chromium in {}",
            ms(rendered),
            page / 1024,
            ready.map_or("(no chromium)".to_owned(), ms)
        );
        println!("  the abalone pipeline's report file: {} KB", report / 1024);
    }

    if wanted(Figure::Model) {
        let (real, mocked) = model::abalone_builtin().await;
        println!(
            "  abalone.json to its Transform (built-in XGBoost 1.7-1, evaluation, batch transform): {} for real, {} on mocks",
            ms(real),
            ms(mocked)
        );
        let (tuning, slowest, rounds) = model::tuning().await;
        println!(
            "  a Tuning step of 3 XGBoost jobs, 3 at a time: {}, its slowest job {} x {rounds} round(s)",
            ms(tuning),
            ms(slowest)
        );
        let records = 20_000;
        let (multi, single, python_loop, per_request) = model::transform_throughput(records).await;
        println!(
            "  batch transform of {records} CSV rows: {multi:.0} records/s MultiRecord, {single:.0} records/s SingleRecord, {python_loop:.0} records/s calling the model per row in Python; {} µs per request",
            per_request.as_micros()
        );
    }

    if wanted(Figure::Artifacts) {
        artifacts();
    }

    if wanted(Figure::Pipeline) {
        stack
            .deploy(&DeployOptions::default())
            .await
            .expect("deploy the template");
        let (overhead, wall, handlers) = pipeline::overhead_per_step(&stack).await;
        println!(
            "  {}-step pipeline: {} in all, {} of it in the handlers",
            pipeline::STEPS,
            ms(wall),
            ms(handlers)
        );
        row(
            &format!(
                "emulator overhead per step ({}-step pipeline)",
                pipeline::STEPS
            ),
            format!("{:.3} ms", overhead.as_secs_f64() * 1000.0),
            "<= 20 ms".into(),
            overhead.as_millis() <= 20,
        );
        let jobs = pipeline::mocked_jobs(&stack).await;
        row(
            &format!(
                "{}-step pipeline of mocked job steps, start to end",
                pipeline::JOB_STEPS
            ),
            ms(jobs),
            "< 1 s".into(),
            jobs < Duration::from_secs(1),
        );
        for shape in [pipeline::Shape::Chain, pipeline::Shape::Dense] {
            let wall = pipeline::large(&stack, shape).await;
            println!(
                "  {}-step pipeline of mocked job steps, {}: {}",
                pipeline::LARGE_STEPS,
                match shape {
                    pipeline::Shape::Chain => "a chain",
                    pipeline::Shape::Dense => "each step after all earlier ones",
                },
                ms(wall)
            );
        }
        let (one, hundred) = pipeline::list_pipelines(&stack).await;
        println!(
            "  ListPipelines with {} pipelines of {} steps stored: {} (MaxResults 1), {} (MaxResults 100)",
            pipeline::LISTED_PIPELINES,
            pipeline::LARGE_STEPS,
            ms(one),
            ms(hundred)
        );
    }
}

/// The release zips scripts/build-release made.
fn artifacts() {
    for name in ["callback-queue", "emr-events", "lambda-step"] {
        let zip = workspace_root()
            .join("target/lambda")
            .join(name)
            .join("bootstrap.zip");
        match std::fs::metadata(&zip) {
            Ok(meta) => row(
                &format!("release artifact {name}, zipped"),
                format!("{:.2} MB", meta.len() as f64 / 1_048_576.0),
                "<= 4 MB".into(),
                meta.len() <= ZIP_BUDGET_BYTES,
            ),
            Err(_) => println!(
                "  {} not built (scripts/build-release builds it)",
                zip.display()
            ),
        }
    }
}
