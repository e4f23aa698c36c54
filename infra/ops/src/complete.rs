//! `succeed` and `fail`: complete a waiting step by hand. Outputs and the reason are
//! checked against the API's limits first, with the code the handlers use.

use aws_sdk_sagemaker::types::OutputParameter;
use sagemaker_custom_steps::callback::CallbackToken;
use sagemaker_custom_steps::outcome::{OutputParameters, MAX_REASON_CHARS};
use sagemaker_custom_steps::report::means_no_longer_waiting;

use crate::aws::{classify, CallError, Clients};

/// Why a step could not be completed.
#[derive(Debug)]
pub enum CompleteError {
    /// The request breaks the API's limits; nothing was sent.
    Invalid(String),
    /// The step is not waiting: already completed, or its execution ended.
    NotWaiting(String),
    Call(CallError),
}

impl std::fmt::Display for CompleteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(why) => f.write_str(why),
            Self::NotWaiting(why) => f.write_str(why),
            Self::Call(err) => err.fmt(f),
        }
    }
}

fn token(raw: &str) -> Result<CallbackToken, CompleteError> {
    CallbackToken::parse(raw)
        .map_err(|e| CompleteError::Invalid(format!("'{raw}' is not a callback token: {e}")))
}

/// One ClientRequestToken per run of the command: the SDK's retries of this request
/// are idempotent, and a second run is a second request the service refuses.
fn request_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("pipeline-steps-{}-{nanos}", std::process::id())
}

/// What a refusal of a report means for the person on call.
fn refused(raw_token: &str, err: CallError) -> CompleteError {
    match &err {
        CallError::Service { code, message, .. } if means_no_longer_waiting(code, message) => {
            CompleteError::NotWaiting(format!(
                "the step with token {raw_token} is not waiting (it was completed already, or its execution ended): {err}"
            ))
        }
        _ => CompleteError::Call(err),
    }
}

/// SendPipelineExecutionStepSuccess with these outputs; answers the execution's ARN.
pub async fn succeed(
    clients: &Clients,
    raw_token: &str,
    outputs: &[(String, String)],
) -> Result<String, CompleteError> {
    let token = token(raw_token)?;
    let mut checked = OutputParameters::new();
    for (name, value) in outputs {
        checked
            .push(name, value.clone())
            .map_err(|e| CompleteError::Invalid(e.to_string()))?;
    }
    let parameters: Vec<OutputParameter> = checked
        .iter()
        .map(|(name, value)| OutputParameter::builder().name(name).value(value).build())
        .collect();
    let answer = clients
        .sagemaker
        .send_pipeline_execution_step_success()
        .callback_token(token.as_str())
        .set_output_parameters(Some(parameters))
        .client_request_token(request_token())
        .send()
        .await
        .map_err(|e| {
            refused(
                raw_token,
                classify("sagemaker:SendPipelineExecutionStepSuccess", e),
            )
        })?;
    Ok(answer
        .pipeline_execution_arn()
        .unwrap_or_default()
        .to_owned())
}

/// SendPipelineExecutionStepFailure with this reason; answers the execution's ARN.
pub async fn fail(
    clients: &Clients,
    raw_token: &str,
    reason: &str,
) -> Result<String, CompleteError> {
    let token = token(raw_token)?;
    let chars = reason.chars().count();
    if chars == 0 || chars > MAX_REASON_CHARS {
        return Err(CompleteError::Invalid(format!(
            "the reason is {chars} characters; SageMaker takes 1 to {MAX_REASON_CHARS}"
        )));
    }
    let answer = clients
        .sagemaker
        .send_pipeline_execution_step_failure()
        .callback_token(token.as_str())
        .failure_reason(reason)
        .client_request_token(request_token())
        .send()
        .await
        .map_err(|e| {
            refused(
                raw_token,
                classify("sagemaker:SendPipelineExecutionStepFailure", e),
            )
        })?;
    Ok(answer
        .pipeline_execution_arn()
        .unwrap_or_default()
        .to_owned())
}
