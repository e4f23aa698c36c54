//! `batch-job`: a callback task that submits a job to an internal batch service and
//! leaves the step pending; the service completes the step when the job ends, with
//! SendPipelineExecutionStepSuccess (or `pipeline-steps succeed`) and the token the job
//! carries. When the pipeline stops, the job is cancelled and the step fails.
//!
//! The service is behind a small trait, [`JobQueue`], so the task's logic is tested on
//! an in-memory queue; [`FolderJobQueue`] stands in for a real one by writing job files.

use std::path::PathBuf;

use async_trait::async_trait;
use sagemaker_custom_steps::callback::CallbackMessage;
use sagemaker_custom_steps::fields::{FieldKind, Fields};
use sagemaker_custom_steps::task::{CallbackTask, RetryableError, TaskOutcome};
use serde_json::json;

/// A job for the batch service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The callback token: the service completes the step with it.
    pub token: String,
    pub name: String,
    pub priority: u32,
}

/// The batch service, as this task uses it.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Submits a job; submitting the same token again must not start a second job.
    async fn submit(&self, job: &Job) -> Result<(), String>;
    /// Cancels the job of a token; true when there was one to cancel.
    async fn cancel(&self, token: &str) -> Result<bool, String>;
}

/// The task: `job` (required) and `priority` (default 5) arguments.
pub struct BatchJobTask<Q> {
    jobs: Q,
}

impl<Q: JobQueue> BatchJobTask<Q> {
    pub fn new(jobs: Q) -> Self {
        Self { jobs }
    }
}

#[async_trait]
impl<Q: JobQueue> CallbackTask for BatchJobTask<Q> {
    fn name(&self) -> &'static str {
        "batch-job"
    }

    async fn start(&self, message: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
        let fields = Fields::new(&message.arguments, FieldKind::Argument);
        let job = match (fields.required_str("job"), fields.u32_or("priority", 5)) {
            (Ok(name), Ok(priority)) => Job {
                token: message.token.as_str().to_owned(),
                name: name.to_owned(),
                priority,
            },
            // A bad argument fails the step at once, with the reason: no hanging pipeline.
            (Err(e), _) | (_, Err(e)) => {
                return Ok(TaskOutcome::failed(format!("task batch-job: {e}")))
            }
        };
        // Not reachable now: the message goes back to the queue and is tried again.
        self.jobs.submit(&job).await.map_err(RetryableError)?;
        Ok(TaskOutcome::Pending)
    }

    async fn stop(&self, message: &CallbackMessage) -> Result<TaskOutcome, RetryableError> {
        let cancelled = self
            .jobs
            .cancel(message.token.as_str())
            .await
            .map_err(RetryableError)?;
        let what = if cancelled {
            "its job was cancelled"
        } else {
            "it had no job to cancel"
        };
        // Stopping must end the step, or the pipeline never stops.
        Ok(TaskOutcome::failed(format!(
            "task batch-job: pipeline execution stopped; {what}"
        )))
    }
}

/// A batch service that picks jobs up from a folder: `<token>.job.json` to run,
/// `<token>.cancel` to cancel.
pub struct FolderJobQueue {
    dir: PathBuf,
}

impl FolderJobQueue {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

#[async_trait]
impl JobQueue for FolderJobQueue {
    async fn submit(&self, job: &Job) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let path = self.dir.join(format!("{}.job.json", job.token));
        let body = json!({"token": job.token, "job": job.name, "priority": job.priority});
        // The token names the file: a redelivered message rewrites the same job.
        std::fs::write(&path, body.to_string()).map_err(|e| format!("{}: {e}", path.display()))
    }

    async fn cancel(&self, token: &str) -> Result<bool, String> {
        let job = self.dir.join(format!("{token}.job.json"));
        if !job.exists() {
            return Ok(false);
        }
        let path = self.dir.join(format!("{token}.cancel"));
        std::fs::write(&path, "").map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// The batch service in memory.
    #[derive(Default)]
    struct InMemoryJobs {
        jobs: Mutex<Vec<Job>>,
        cancelled: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl JobQueue for &InMemoryJobs {
        async fn submit(&self, job: &Job) -> Result<(), String> {
            let mut jobs = self.jobs.lock().unwrap();
            if !jobs.iter().any(|j| j.token == job.token) {
                jobs.push(job.clone());
            }
            Ok(())
        }

        async fn cancel(&self, token: &str) -> Result<bool, String> {
            let known = self.jobs.lock().unwrap().iter().any(|j| j.token == token);
            if known {
                self.cancelled.lock().unwrap().push(token.to_owned());
            }
            Ok(known)
        }
    }

    fn message(arguments: &str, status: &str) -> CallbackMessage {
        CallbackMessage::parse(&format!(
            r#"{{"token":"JobTok0001","pipelineExecutionArn":"arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/e1","arguments":{arguments}{status}}}"#
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn start_submits_once_and_leaves_the_step_pending() {
        let jobs = InMemoryJobs::default();
        let task = BatchJobTask::new(&jobs);
        let start = message(r#"{"task":"batch-job","job":"nightly","priority":2}"#, "");
        assert_eq!(task.start(&start).await.unwrap(), TaskOutcome::Pending);
        assert_eq!(task.start(&start).await.unwrap(), TaskOutcome::Pending);
        assert_eq!(
            *jobs.jobs.lock().unwrap(),
            [Job {
                token: "JobTok0001".into(),
                name: "nightly".into(),
                priority: 2
            }]
        );
    }

    #[tokio::test]
    async fn a_bad_argument_fails_the_step_naming_it() {
        let jobs = InMemoryJobs::default();
        let task = BatchJobTask::new(&jobs);
        let outcome = task
            .start(&message(r#"{"task":"batch-job"}"#, ""))
            .await
            .unwrap();
        assert!(
            matches!(outcome, TaskOutcome::Failed(ref r) if r.as_str().contains("job")),
            "{outcome:?}"
        );
        assert!(jobs.jobs.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn stopping_cancels_the_job_and_fails_the_step() {
        let jobs = InMemoryJobs::default();
        let task = BatchJobTask::new(&jobs);
        task.start(&message(r#"{"job":"nightly"}"#, ""))
            .await
            .unwrap();
        let outcome = task
            .stop(&message(r#"{"job":"nightly"}"#, r#","status":"Stopping""#))
            .await
            .unwrap();
        assert!(matches!(outcome, TaskOutcome::Failed(ref r) if r.as_str().contains("cancelled")));
        assert_eq!(*jobs.cancelled.lock().unwrap(), ["JobTok0001"]);
    }
}
