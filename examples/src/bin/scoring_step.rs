//! The Lambda-step handler of [`custom_steps_example::score`].

use custom_steps_example::score::score;
use lambda_runtime::Error;
use sagemaker_custom_steps::handler::run_lambda_step_handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run_lambda_step_handler(|_config, _settings, functions| functions.with(score())).await
}
