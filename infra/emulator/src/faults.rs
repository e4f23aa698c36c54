//! Fault knobs for tests and benchmarks, on the SageMaker operations handlers call
//! (SendPipelineExecutionStepSuccess/Failure): added latency, and answers of throttling
//! or server errors for the next N requests (deterministic, unlike a rate).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;

use crate::aws_json::AwsError;

#[derive(Debug, Default)]
pub struct Faults {
    latency_ms: AtomicU64,
    throttle_next: AtomicUsize,
    server_error_next: AtomicUsize,
}

impl Faults {
    pub fn set_latency(&self, latency: Duration) {
        self.latency_ms
            .store(latency.as_millis() as u64, Ordering::SeqCst);
    }

    /// The next `count` requests are answered with ThrottlingException.
    pub fn throttle_next(&self, count: usize) {
        self.throttle_next.store(count, Ordering::SeqCst);
    }

    /// The next `count` requests are answered with a 500 InternalFailure.
    pub fn fail_next(&self, count: usize) {
        self.server_error_next.store(count, Ordering::SeqCst);
    }

    /// Applied before every request: the latency, then an injected error if one is due.
    pub async fn before_request(&self) -> Option<AwsError> {
        let latency = self.latency_ms.load(Ordering::SeqCst);
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        if take_one(&self.throttle_next) {
            return Some(AwsError::new(
                StatusCode::BAD_REQUEST,
                "ThrottlingException",
                "Rate exceeded (injected by the emulator)",
            ));
        }
        if take_one(&self.server_error_next) {
            return Some(AwsError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalFailure",
                "injected by the emulator",
            ));
        }
        None
    }
}

fn take_one(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}
