use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{client_request_token, ReportError, StepReporter};
use crate::callback::CallbackToken;
use crate::outcome::StepOutcome;

/// A report that reached the in-memory SageMaker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedReport {
    /// The token reported.
    pub token: CallbackToken,
    /// What was reported.
    pub outcome: StepOutcome,
}

/// Behaves like the service for unit tests: the first report on a token is taken, the
/// same request again is an idempotent success, a different one is "no longer waiting".
/// Errors can be queued up to be answered before any report is taken.
///
/// ```
/// use sagemaker_custom_steps::callback::CallbackToken;
/// use sagemaker_custom_steps::outcome::{OutputParameters, StepOutcome};
/// use sagemaker_custom_steps::report::{InMemoryReporter, ReportError, StepReporter};
///
/// # block_on(async {
/// let sagemaker = InMemoryReporter::new();
/// let token = CallbackToken::parse("26vcYbeWsZ").unwrap();
/// let success = StepOutcome::Succeeded(OutputParameters::new());
///
/// // A throttled first call, as the service may answer; the retry is taken.
/// sagemaker.fail_next([ReportError::Transient("ThrottlingException".into())]);
/// assert!(sagemaker.report(&token, &success).await.is_err());
/// assert!(sagemaker.report(&token, &success).await.is_ok());
/// // The same report again (a redelivered message) is an idempotent success...
/// assert!(sagemaker.report(&token, &success).await.is_ok());
/// // ...a different one finds the step no longer waiting.
/// let failure = StepOutcome::failed("too late");
/// assert!(matches!(
///     sagemaker.report(&token, &failure).await,
///     Err(ReportError::NoLongerWaiting(_))
/// ));
/// assert_eq!(sagemaker.report_for("26vcYbeWsZ"), Some(success));
/// assert_eq!(sagemaker.calls(), 4);
/// # });
/// # fn block_on(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Default)]
pub struct InMemoryReporter {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    reports: Vec<RecordedReport>,
    request_tokens: HashMap<CallbackToken, String>,
    scripted_errors: VecDeque<ReportError>,
    calls: usize,
}

impl InMemoryReporter {
    /// A reporter that accepts every report.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next calls answer these errors, in order, before any report is taken.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = ReportError>) {
        self.state.lock().unwrap().scripted_errors.extend(errors);
    }

    /// Every report accepted so far, oldest first.
    pub fn reports(&self) -> Vec<RecordedReport> {
        self.state.lock().unwrap().reports.clone()
    }

    /// The outcome reported for a token, if any.
    pub fn report_for(&self, token: &str) -> Option<StepOutcome> {
        self.reports()
            .into_iter()
            .find(|r| r.token.as_str() == token)
            .map(|r| r.outcome)
    }

    /// Every call made, answered or not.
    pub fn calls(&self) -> usize {
        self.state.lock().unwrap().calls
    }
}

#[async_trait]
impl StepReporter for InMemoryReporter {
    async fn report(
        &self,
        token: &CallbackToken,
        outcome: &StepOutcome,
    ) -> Result<(), ReportError> {
        let mut state = self.state.lock().unwrap();
        state.calls += 1;
        if let Some(err) = state.scripted_errors.pop_front() {
            return Err(err);
        }
        let request_token = client_request_token(token, outcome);
        match state.request_tokens.get(token) {
            Some(taken) if *taken == request_token => Ok(()),
            Some(_) => Err(ReportError::NoLongerWaiting(format!(
                "ConflictException: step with token {token} already reported"
            ))),
            None => {
                state.request_tokens.insert(token.clone(), request_token);
                state.reports.push(RecordedReport {
                    token: token.clone(),
                    outcome: outcome.clone(),
                });
                Ok(())
            }
        }
    }
}
