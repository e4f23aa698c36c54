//! Objects stream between local S3 and a job's folder: staging a large input, and
//! uploading a large output, leave the stack's memory flat. One test in a binary of its
//! own, as it reads this process's resident memory.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pipelines_emulator::staging;
use pipelines_emulator::Emulator;

const SIZE: u64 = 128 * 1024 * 1024;
/// What the transfers may add to the process's resident memory: buffers, not the object.
const ALLOWED_GROWTH_MB: u64 = 48;

fn rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024
}

/// The highest resident memory seen while `work` runs, sampled every few milliseconds.
async fn peak_during<F: std::future::Future>(work: F) -> (F::Output, u64) {
    let peak = Arc::new(AtomicU64::new(rss_mb()));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                peak.fetch_max(rss_mb(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let output = work.await;
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    (output, peak.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_large_input_and_output_pass_with_memory_flat() {
    let stack = Emulator::start().await.unwrap();
    let s3 = stack.s3_client();
    s3.create_bucket().bucket("big").send().await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let output = work.path().join("output");
    std::fs::create_dir(&output).unwrap();
    // A sparse file: the disk holds none of it, the transfer carries all of it.
    std::fs::File::create(output.join("part.bin"))
        .unwrap()
        .set_len(SIZE)
        .unwrap();

    let before = rss_mb();
    let (uploaded, peak_up) = peak_during(staging::upload(&s3, &output, "s3://big/data")).await;
    assert_eq!(uploaded.unwrap(), 1);
    let input = work.path().join("input");
    std::fs::create_dir(&input).unwrap();
    let (downloaded, peak_down) =
        peak_during(staging::download(&s3, "s3://big/data", &input)).await;
    assert_eq!(downloaded.unwrap(), 1);
    assert_eq!(
        std::fs::metadata(input.join("part.bin")).unwrap().len(),
        SIZE
    );
    println!(
        "{} MiB up and down: resident memory {before} MB before, peak {peak_up} MB up, {peak_down} MB down",
        SIZE >> 20
    );
    for (way, peak) in [("upload", peak_up), ("download", peak_down)] {
        assert!(
            peak <= before + ALLOWED_GROWTH_MB,
            "the {way} of {} MiB took resident memory from {before} MB to {peak} MB",
            SIZE >> 20
        );
    }
}
