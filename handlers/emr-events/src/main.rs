//! EventBridge-triggered handler: completes callback steps whose EMR work ended, from
//! EMR step and cluster status events, and reconciles on a schedule. The shared crate's
//! complete emr-events handler.

use lambda_runtime::Error;
use sagemaker_custom_steps::handler::run_emr_events_handler;
use sagemaker_custom_steps::lifecycle::tokio_runtime;

// The SDK makes many small allocations per request; mimalloc serves them faster than
// glibc's malloc (callback-queue's throughput rose by about 9%). Its `no_thp` feature
// keeps transparent huge pages off: they cost ~5 MB of RSS and ~2 ms of cold start.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Error> {
    // One thread, or a worker per CPU on Lambda Managed Instances.
    tokio_runtime()?.block_on(run_emr_events_handler())
}
