//! Handler invoked by Lambda steps: flat inputs in, flat outputs out.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use std::sync::Arc;

use shared::bus::EventBridgeBus;
use shared::emr::SdkEmr;
use shared::functions::{emr_preflight, flatten_json};
use shared::lambda_step::StepFunctions;
use shared::settings::LambdaStepSettings;

// The SDK makes many small allocations per request; mimalloc serves them faster than
// glibc's malloc (callback-queue's throughput rose by about 9%). Its `no_thp` feature
// keeps transparent huge pages off: they cost ~5 MB of RSS and ~2 ms of cold start.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let log = shared::invocation_log::init();
    let settings = LambdaStepSettings::from_env();
    let config = shared::sdk_config::load().await?;
    let emr = Arc::new(SdkEmr::new(aws_sdk_emr::Client::new(&config)));
    // EMR's status events arrive on the default bus, so its rules are looked up there.
    let bus = Arc::new(EventBridgeBus::new(
        aws_sdk_eventbridge::Client::new(&config),
        "default",
    ));
    let functions = StepFunctions::new(settings.default_function)
        .with(flatten_json())
        .with(emr_preflight(emr, bus, settings.emr_event_rules));
    let functions = &functions;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        log.around(functions.invoke(event.payload))
    }))
    .await
}
