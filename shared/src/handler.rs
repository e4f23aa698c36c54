//! One call runs a complete handler: logs, settings, the AWS SDK configuration, the
//! Lambda runtime, and for callbacks the batch runner (concurrency, partial failures,
//! duplicates), reporting to SageMaker and EMF metrics. A handler's `main` only says
//! which tasks or functions it serves. Each serves concurrent invocations when Lambda
//! Managed Instances sets `AWS_LAMBDA_MAX_CONCURRENCY`, and shuts down on SIGTERM after
//! what is in flight ([`crate::lifecycle`]).
//!
//! ```no_run
//! use sagemaker_custom_steps::handler::run_callback_handler;
//! use sagemaker_custom_steps::task::EventTask;
//! use sagemaker_custom_steps::bus::EventBridgeBus;
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     run_callback_handler(|config, settings, tasks| {
//!         let bus = EventBridgeBus::on_first_use(config, settings.event_bus_name.clone());
//!         tasks.with(EventTask::new(bus))
//!     })
//!     .await
//! }
//! ```

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

use crate::batch::BatchRunner;
use crate::emr::SdkEmr;
use crate::emr_status::{EmrEvent, EmrStatusHandler, Handled};
use crate::invocation_log::InvocationLog;
use crate::lambda_step::StepFunctions;
use crate::lifecycle::serve;
use crate::metrics::Metrics;
use crate::processing::CallbackProcessor;
use crate::report::SageMakerReporter;
use crate::settings::{CallbackSettings, EmrEventsSettings, LambdaStepSettings};
use crate::task::TaskRegistry;

/// Runs an SQS-triggered callback handler serving the tasks `tasks` adds to the
/// registry (which `DEFAULT_TASK` already configures). Returns when the runtime ends.
///
/// The closure gets the AWS SDK configuration and the handler's settings to build its
/// tasks' adapters with. It runs under Lambda's Runtime API (`AWS_LAMBDA_RUNTIME_API`),
/// so this example is compiled, not run; `examples/` runs one in a pipeline on the
/// emulator.
///
/// ```no_run
/// use sagemaker_custom_steps::emr::SdkEmr;
/// use sagemaker_custom_steps::handler::run_callback_handler;
/// use sagemaker_custom_steps::task::EmrTask;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), lambda_runtime::Error> {
///     run_callback_handler(|config, settings, tasks| {
///         let emr = SdkEmr::on_first_use(config);
///         tasks.with(EmrTask::new(emr, settings.emr_policy.clone()))
///     })
///     .await
/// }
/// ```
pub async fn run_callback_handler<F>(tasks: F) -> Result<(), Error>
where
    F: FnOnce(&SdkConfig, &CallbackSettings, TaskRegistry) -> TaskRegistry,
{
    let log = crate::invocation_log::init();
    let settings = CallbackSettings::from_env()?;
    let config = crate::sdk_config::load().await?;
    let reporter = SageMakerReporter::new(aws_sdk_sagemaker::Client::new(&config));
    let registry = tasks(
        &config,
        &settings,
        TaskRegistry::new(settings.default_task.clone()),
    );
    let runner = Arc::new(BatchRunner::new(
        CallbackProcessor::new(registry, Arc::new(reporter)),
        settings.record_concurrency,
    ));
    let metrics = runner.metrics().clone();
    let handler = service_fn(move |event: LambdaEvent<SqsEvent>| {
        let runner = runner.clone();
        log.around(async move {
            let response = runner.run(event.payload).await;
            runner.metrics().flush();
            Ok::<SqsBatchResponse, Error>(response)
        })
    });
    serve(handler, move || flush(&metrics, log)).await
}

/// Runs a Lambda-step handler serving the functions `functions` adds (which
/// `LAMBDA_STEP_FUNCTION` already configures). Returns when the runtime ends.
///
/// Compiled, not run, as for [`run_callback_handler`]:
///
/// ```no_run
/// use sagemaker_custom_steps::handler::run_lambda_step_handler;
/// use sagemaker_custom_steps::lambda_step::{StepError, StepFunction, StepInputs, StepOutputs};
///
/// async fn score(inputs: StepInputs) -> Result<StepOutputs, StepError> {
///     let model = inputs.fields().required_str("model")?;
///     Ok(StepOutputs::new().with("Model", model).with("Score", 0.93))
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), lambda_runtime::Error> {
///     run_lambda_step_handler(|_config, _settings, functions| {
///         functions.with(StepFunction::new("score", score))
///     })
///     .await
/// }
/// ```
pub async fn run_lambda_step_handler<F>(functions: F) -> Result<(), Error>
where
    F: FnOnce(&SdkConfig, &LambdaStepSettings, StepFunctions) -> StepFunctions,
{
    let log = crate::invocation_log::init();
    let settings = LambdaStepSettings::from_env();
    let config = crate::sdk_config::load().await?;
    let functions = Arc::new(functions(
        &config,
        &settings,
        StepFunctions::new(settings.default_function.clone()),
    ));
    let metrics = Arc::new(Metrics::new("lambda-step"));
    let handler = service_fn({
        let metrics = metrics.clone();
        move |event: LambdaEvent<Value>| {
            let (functions, metrics) = (functions.clone(), metrics.clone());
            log.around(async move {
                let answer = functions.invoke(event.payload).await;
                metrics.flush();
                answer
            })
        }
    });
    serve(handler, move || flush(&metrics, log)).await
}

/// Runs the emr-events handler: EMR step and cluster status events from EventBridge
/// (and the reconcile schedule) complete the Callback steps whose EMR work ended.
/// Returns when the runtime ends.
pub async fn run_emr_events_handler() -> Result<(), Error> {
    let log = crate::invocation_log::init();
    let settings = EmrEventsSettings::from_env()?;
    let config = crate::sdk_config::load().await?;
    // Both clients are made at first use: a status event of a step no callback started
    // (the rule matches every step of the account) calls neither service.
    let handler = Arc::new(EmrStatusHandler::new(
        SdkEmr::on_first_use(&config),
        SageMakerReporter::on_first_use(&config),
        settings.window,
    ));
    let metrics = handler.metrics().clone();
    let service = service_fn(move |event: LambdaEvent<CloudWatchEvent<Value>>| {
        let handler = handler.clone();
        log.around(async move {
            let event = EmrEvent::from_eventbridge(event.payload)?;
            // An error makes Lambda retry the event; reports are idempotent.
            let handled = handler.handle(event).await;
            handler.metrics().flush();
            Ok::<Handled, Error>(handled?)
        })
    });
    serve(service, move || flush(&metrics, log)).await
}

/// What a shutdown writes before the process ends: metrics recorded by invocations
/// that did not finish, and log lines still held.
fn flush(metrics: &Metrics, log: &InvocationLog) {
    metrics.flush();
    log.flush();
}
