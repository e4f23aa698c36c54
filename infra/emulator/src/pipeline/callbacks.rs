//! Callback steps waiting for SendPipelineExecutionStepSuccess/Failure, and what
//! they were sent.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

/// Where a callback step stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallbackState {
    /// No SendPipelineExecutionStep* call has come for its token yet.
    Waiting,
    /// SendPipelineExecutionStepSuccess came.
    Succeeded {
        /// Its `OutputParameters`, Name and Value.
        outputs: Vec<(String, String)>,
        /// Its `ClientRequestToken`, so a retried call is answered as the first was.
        client_request_token: Option<String>,
    },
    /// SendPipelineExecutionStepFailure came.
    Failed {
        /// Its `FailureReason`.
        reason: String,
        /// Its `ClientRequestToken`, so a retried call is answered as the first was.
        client_request_token: Option<String>,
    },
}

impl CallbackState {
    /// Whether no outcome has come yet.
    pub fn is_waiting(&self) -> bool {
        matches!(self, Self::Waiting)
    }

    fn client_request_token(&self) -> Option<&str> {
        match self {
            Self::Waiting => None,
            Self::Succeeded {
                client_request_token,
                ..
            }
            | Self::Failed {
                client_request_token,
                ..
            } => client_request_token.as_deref(),
        }
    }
}

/// Why a report was refused, in the API's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportRefusal {
    UnknownToken,
    AlreadyReported,
}

/// The callback steps of every execution, keyed by token. Every change is published
/// on a watch channel so that waiters wake on a change instead of polling.
#[derive(Debug)]
pub struct Callbacks {
    steps: Mutex<HashMap<String, CallbackState>>,
    /// Token → the execution its step belongs to, answered by the reports.
    executions: Mutex<HashMap<String, String>>,
    changes: watch::Sender<u64>,
}

impl Default for Callbacks {
    fn default() -> Self {
        Self {
            steps: Mutex::new(HashMap::new()),
            executions: Mutex::new(HashMap::new()),
            changes: watch::channel(0).0,
        }
    }
}

impl Callbacks {
    /// A Callback step starts waiting on `token`.
    pub fn register(&self, token: &str) {
        self.steps
            .lock()
            .unwrap()
            .insert(token.to_owned(), CallbackState::Waiting);
        self.changes.send_modify(|n| *n += 1);
    }

    /// A Callback step of execution `execution_arn` starts waiting on `token`.
    pub fn register_for(&self, token: &str, execution_arn: &str) {
        self.executions
            .lock()
            .unwrap()
            .insert(token.to_owned(), execution_arn.to_owned());
        self.register(token);
    }

    /// The execution whose step waits (or waited) on `token`, when it has one.
    pub fn execution_of(&self, token: &str) -> Option<String> {
        self.executions.lock().unwrap().get(token).cloned()
    }

    pub fn state(&self, token: &str) -> Option<CallbackState> {
        self.steps.lock().unwrap().get(token).cloned()
    }

    /// Takes a report. The same ClientRequestToken again is an idempotent success; any
    /// other second report on a token is a conflict, as the service answers.
    pub fn report(&self, token: &str, outcome: CallbackState) -> Result<(), ReportRefusal> {
        let mut steps = self.steps.lock().unwrap();
        let current = steps.get(token).ok_or(ReportRefusal::UnknownToken)?;
        if !current.is_waiting() {
            let same_request = outcome.client_request_token().is_some()
                && current.client_request_token() == outcome.client_request_token();
            return if same_request {
                Ok(())
            } else {
                Err(ReportRefusal::AlreadyReported)
            };
        }
        steps.insert(token.to_owned(), outcome);
        drop(steps);
        self.changes.send_modify(|n| *n += 1);
        Ok(())
    }

    /// Waits until `token` is no longer waiting, or until the deadline.
    pub async fn wait_for_report(
        &self,
        token: &str,
        timeout: std::time::Duration,
    ) -> Option<CallbackState> {
        let mut changes = self.changes.subscribe();
        let ended = async {
            loop {
                match self.state(token) {
                    Some(state) if !state.is_waiting() => return state,
                    _ => {}
                }
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, ended).await.ok()
    }
}
