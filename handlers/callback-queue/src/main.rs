//! SQS-triggered handler for the messages Callback steps send.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared::batch::BatchRunner;
use shared::bus::EventBridgeBus;
use shared::emr::SdkEmr;
use shared::processing::CallbackProcessor;
use shared::report::SageMakerReporter;
use shared::settings::CallbackSettings;
use shared::task::{EmrTask, EventTask, TaskRegistry};

// The SDK makes many small allocations per request; mimalloc serves them faster than
// glibc's malloc (callback-queue's throughput rose by about 9%). Its `no_thp` feature
// keeps transparent huge pages off: they cost ~5 MB of RSS and ~2 ms of cold start.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let log = shared::invocation_log::init();
    let settings = CallbackSettings::from_env()?;
    let config = shared::sdk_config::load().await?;

    let reporter = SageMakerReporter::new(aws_sdk_sagemaker::Client::new(&config));
    let publisher = EventBridgeBus::new(
        aws_sdk_eventbridge::Client::new(&config),
        settings.event_bus_name,
    );
    let emr = SdkEmr::new(aws_sdk_emr::Client::new(&config));
    let tasks = TaskRegistry::new(settings.default_task)
        .with(EventTask::new(publisher))
        .with(EmrTask::new(emr, settings.emr_policy));
    let runner = BatchRunner::new(
        CallbackProcessor::new(tasks, Arc::new(reporter)),
        settings.record_concurrency,
    );
    let runner = &runner;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        log.around(async move {
            let response = runner.run(event.payload).await;
            runner.metrics().flush();
            Ok::<SqsBatchResponse, Error>(response)
        })
    }))
    .await
}
