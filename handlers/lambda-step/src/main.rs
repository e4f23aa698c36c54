//! Handler invoked by Lambda steps: flat inputs in, flat outputs out.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::functions::flatten_json;
use shared::lambda_step::StepFunctions;
use shared::settings::LambdaStepSettings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = LambdaStepSettings::from_env();
    let functions = StepFunctions::new(settings.default_function).with(flatten_json());
    let functions = &functions;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        functions.invoke(event.payload).await
    }))
    .await
}
