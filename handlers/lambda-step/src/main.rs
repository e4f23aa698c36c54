//! Handler invoked by Lambda steps: flat inputs in, flat outputs out. The functions
//! `flatten-json` and `emr-preflight`, run by the shared crate's complete Lambda-step
//! handler.

use std::sync::Arc;

use lambda_runtime::Error;
use sagemaker_custom_steps::bus::EventBridgeBus;
use sagemaker_custom_steps::emr::SdkEmr;
use sagemaker_custom_steps::functions::{emr_preflight, flatten_json};
use sagemaker_custom_steps::handler::run_lambda_step_handler;
use sagemaker_custom_steps::lifecycle::tokio_runtime;

// The SDK makes many small allocations per request; mimalloc serves them faster than
// glibc's malloc (callback-queue's throughput rose by about 9%). Its `no_thp` feature
// keeps transparent huge pages off: they cost ~5 MB of RSS and ~2 ms of cold start.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Error> {
    // One thread, or a worker per CPU on Lambda Managed Instances.
    tokio_runtime()?.block_on(run_lambda_step_handler(|config, settings, functions| {
        // Made at first use: `flatten-json` calls neither service.
        let emr = Arc::new(SdkEmr::on_first_use(config));
        // EMR's status events arrive on the default bus, so its rules are looked up there.
        let bus = Arc::new(EventBridgeBus::on_first_use(config, "default"));
        functions.with(flatten_json()).with(emr_preflight(
            emr,
            bus,
            settings.emr_event_rules.clone(),
        ))
    }))
}
