//! SQS-triggered handler for the messages Callback steps send: the `event` and `emr`
//! tasks, run by the shared crate's complete callback handler.

use lambda_runtime::Error;
use sagemaker_custom_steps::bus::EventBridgeBus;
use sagemaker_custom_steps::emr::SdkEmr;
use sagemaker_custom_steps::handler::run_callback_handler;
use sagemaker_custom_steps::lifecycle::tokio_runtime;
use sagemaker_custom_steps::task::{EmrTask, EventTask};

// The SDK makes many small allocations per request; mimalloc serves them faster than
// glibc's malloc (callback-queue's throughput rose by about 9%). Its `no_thp` feature
// keeps transparent huge pages off: they cost ~5 MB of RSS and ~2 ms of cold start.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Error> {
    // One thread, or a worker per CPU on Lambda Managed Instances.
    tokio_runtime()?.block_on(run_callback_handler(|config, settings, tasks| {
        // Made at first use: a batch of `event` tasks never calls EMR, nor one of `emr`
        // tasks EventBridge, and each client costs the cold start a partition table.
        let bus = EventBridgeBus::on_first_use(config, settings.event_bus_name.clone());
        let emr = SdkEmr::on_first_use(config);
        tasks
            .with(EventTask::new(bus))
            .with(EmrTask::new(emr, settings.emr_policy.clone()))
    }))
}
