//! The callback handler of [`custom_steps_example::batch_job`]: its queue's messages,
//! the `batch-job` task.

use custom_steps_example::batch_job::{BatchJobTask, FolderJobQueue};
use lambda_runtime::Error;
use sagemaker_custom_steps::handler::run_callback_handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // JOBS_DIR: where the batch service picks jobs up (a stand-in for your own system).
    let jobs =
        FolderJobQueue::new(std::env::var("JOBS_DIR").unwrap_or_else(|_| "/tmp/jobs".into()));
    run_callback_handler(|_config, _settings, tasks| tasks.with(BatchJobTask::new(jobs))).await
}
