//! EventBridge-triggered handler: completes callback steps whose EMR work ended, from
//! EMR step and cluster status events, and reconciles on a schedule.

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use sagemaker_custom_steps::emr::SdkEmr;
use sagemaker_custom_steps::emr_status::{EmrEvent, EmrStatusHandler, Handled};
use sagemaker_custom_steps::report::SageMakerReporter;
use sagemaker_custom_steps::settings::EmrEventsSettings;
use serde_json::Value;

// The SDK makes many small allocations per request; mimalloc serves them faster than
// glibc's malloc (callback-queue's throughput rose by about 9%). Its `no_thp` feature
// keeps transparent huge pages off: they cost ~5 MB of RSS and ~2 ms of cold start.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let log = sagemaker_custom_steps::invocation_log::init();
    let settings = EmrEventsSettings::from_env()?;
    let config = sagemaker_custom_steps::sdk_config::load().await?;

    let handler = EmrStatusHandler::new(
        SdkEmr::new(aws_sdk_emr::Client::new(&config)),
        SageMakerReporter::new(aws_sdk_sagemaker::Client::new(&config)),
        settings.window,
    );
    let handler = &handler;

    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<CloudWatchEvent<Value>>| {
            log.around(async move {
                let event = EmrEvent::from_eventbridge(event.payload)?;
                // An error makes Lambda retry the event; reports are idempotent.
                let handled = handler.handle(event).await;
                handler.metrics().flush();
                Ok::<Handled, Error>(handled?)
            })
        },
    ))
    .await
}
