//! Metrics by hand or by crate: the library's hand-written EMF module against
//! metrics_cloudwatch_embedded, each in a probe that records what callback-queue records
//! (bench/probes), beside the hello-world floor. Cold start, a warm batch, peak RSS over
//! 1,000 messages and the zipped release artifact, for each.

use std::path::Path;

use pipelines_emulator::workspace_root;
use pipelines_emulator::Emulator;

use crate::callback::{batch_time, cold_start};
use crate::consumers::{peak_rss_mb, Consumer, Tokens};
use crate::stats::ms;

struct Figures {
    cold_start: std::time::Duration,
    cold_rss_mb: f64,
    batch: std::time::Duration,
    peak_rss_mb: f64,
    zip_bytes: Option<u64>,
}

async fn measure(
    stack: &Emulator,
    bin_dir: &Path,
    probe: Consumer,
    tokens: &mut Tokens,
) -> Figures {
    let cold = cold_start(stack, bin_dir, probe, tokens).await;
    let (cold_start, cold_rss_mb) = (cold.answered, cold.rss_mb);
    let function = probe.start(stack, bin_dir).await;
    let batch = batch_time(stack, &function, 10, tokens).await;
    for _ in 0..100 {
        function
            .invoke(&tokens.batch(stack, 10))
            .await
            .expect("batch answered");
    }
    let peak_rss_mb = function
        .pid()
        .await
        .and_then(peak_rss_mb)
        .unwrap_or(f64::NAN);
    let zip = workspace_root()
        .join("target/lambda")
        .join(probe.binary())
        .join("bootstrap.zip");
    Figures {
        cold_start,
        cold_rss_mb,
        batch,
        peak_rss_mb,
        zip_bytes: std::fs::metadata(zip).ok().map(|m| m.len()),
    }
}

/// Prints the three probes' figures and what each metrics implementation adds to the floor.
pub async fn metrics_report(stack: &Emulator, bin_dir: &Path, tokens: &mut Tokens) {
    let mut measured = Vec::new();
    for probe in [
        Consumer::Floor,
        Consumer::MetricsByHand,
        Consumer::MetricsByCrate,
    ] {
        let figures = measure(stack, bin_dir, probe, tokens).await;
        println!(
            "  {:<44} cold start {} ({:.1} MB), batch of 10 {}, peak RSS over 1,000 messages {:.1} MB, zip {}",
            probe.label(),
            ms(figures.cold_start),
            figures.cold_rss_mb,
            ms(figures.batch),
            figures.peak_rss_mb,
            figures
                .zip_bytes
                .map_or("not built".to_owned(), |b| format!("{b} bytes"))
        );
        measured.push(figures);
    }
    let floor = &measured[0];
    for (probe, figures) in [
        (Consumer::MetricsByHand, &measured[1]),
        (Consumer::MetricsByCrate, &measured[2]),
    ] {
        let zip = match (figures.zip_bytes, floor.zip_bytes) {
            (Some(probe), Some(floor)) => format!("{:+} bytes", probe as i64 - floor as i64),
            _ => "?".to_owned(),
        };
        println!(
            "  {} adds to the floor: cold start {:+.2} ms, peak RSS {:+.1} MB, zip {zip}",
            probe.label(),
            (figures.cold_start.as_secs_f64() - floor.cold_start.as_secs_f64()) * 1000.0,
            figures.peak_rss_mb - floor.peak_rss_mb,
        );
    }
}
