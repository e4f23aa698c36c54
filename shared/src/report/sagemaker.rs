use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sagemaker::config::http::HttpResponse;
use aws_sdk_sagemaker::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sagemaker::types::OutputParameter;
use aws_sdk_sagemaker::Client;

use super::{client_request_token, ReportError, StepReporter};
use crate::callback::CallbackToken;
use crate::outcome::StepOutcome;
use crate::sdk_client::ClientOnFirstUse;
use crate::sdk_error::describe_chain;

/// Reports through aws-sdk-sagemaker. Throttling and 5xx are first retried by the SDK's
/// standard retry policy; what is left of them becomes [`ReportError::Transient`].
#[derive(Clone, Debug)]
pub struct SageMakerReporter {
    client: ClientOnFirstUse<Client>,
}

impl SageMakerReporter {
    /// Reports with `client`.
    pub fn new(client: Client) -> Self {
        Self {
            client: ClientOnFirstUse::made(client),
        }
    }

    /// Reports with a client made from `config` at the first report: a handler whose
    /// events may need no report (emr-events, for steps no callback started) does not
    /// pay for the client at its start.
    pub fn on_first_use(config: &SdkConfig) -> Self {
        Self {
            client: ClientOnFirstUse::new(config, Client::new),
        }
    }
}

#[async_trait]
impl StepReporter for SageMakerReporter {
    async fn report(
        &self,
        token: &CallbackToken,
        outcome: &StepOutcome,
    ) -> Result<(), ReportError> {
        let request_token = client_request_token(token, outcome);
        match outcome {
            StepOutcome::Succeeded(outputs) => {
                let parameters: Vec<OutputParameter> = outputs
                    .iter()
                    .map(|(name, value)| OutputParameter::builder().name(name).value(value).build())
                    .collect();
                self.client
                    .get()
                    .send_pipeline_execution_step_success()
                    .callback_token(token.as_str())
                    .set_output_parameters(Some(parameters))
                    .client_request_token(request_token)
                    .send()
                    .await
                    .map(drop)
                    .map_err(classify)
            }
            StepOutcome::Failed(reason) => self
                .client
                .get()
                .send_pipeline_execution_step_failure()
                .callback_token(token.as_str())
                .failure_reason(reason.as_str())
                .client_request_token(request_token)
                .send()
                .await
                .map(drop)
                .map_err(classify),
        }
    }
}

/// AWS does not document which error means "this step is no longer waiting"; these
/// are the answers that do (design.md, "Reporting to SageMaker").
fn classify<E>(err: SdkError<E, HttpResponse>) -> ReportError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().unwrap_or_default();
            let message = inner.message().unwrap_or_default();
            let status = service.raw().status().as_u16();
            classify_service_error(code, message, Some(status), format!("{code}: {message}"))
        }
        SdkError::ConstructionFailure(_) => ReportError::Rejected(describe_chain(&err)),
        _ => ReportError::Transient(describe_chain(&err)),
    }
}

/// Whether SageMaker's answer to a report (error `code`, `message`) says the step is no
/// longer waiting: completed already, or its execution ended. The handlers and the
/// operations CLI read a report's refusal through this one rule.
pub fn means_no_longer_waiting(code: &str, message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    match code {
        "ResourceNotFound" | "ResourceNotFoundException" | "ConflictException" => true,
        "ValidationException" => ["terminal", "status", "already", "no longer"]
            .iter()
            .any(|hint| lower.contains(hint)),
        _ => false,
    }
}

fn classify_service_error(
    code: &str,
    message: &str,
    status: Option<u16>,
    detail: String,
) -> ReportError {
    if means_no_longer_waiting(code, message) {
        return ReportError::NoLongerWaiting(detail);
    }
    match code {
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "ServiceUnavailable"
        | "InternalFailure"
        | "InternalServerError" => ReportError::Transient(detail),
        _ if status.is_some_and(|s| s >= 500 || s == 429) => ReportError::Transient(detail),
        _ => ReportError::Rejected(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(code: &str, message: &str, status: u16) -> &'static str {
        match classify_service_error(code, message, Some(status), String::new()) {
            ReportError::NoLongerWaiting(_) => "final",
            ReportError::Rejected(_) => "rejected",
            ReportError::Transient(_) => "retry",
        }
    }

    #[test]
    fn no_longer_waiting_answers_are_final() {
        assert_eq!(
            kind("ResourceNotFound", "Callback token not found", 400),
            "final"
        );
        assert_eq!(kind("ConflictException", "already reported", 400), "final");
        assert_eq!(
            kind(
                "ValidationException",
                "Pipeline execution is in a terminal status",
                400
            ),
            "final"
        );
    }

    #[test]
    fn throttling_and_server_errors_are_retried() {
        assert_eq!(kind("ThrottlingException", "Rate exceeded", 400), "retry");
        assert_eq!(kind("InternalFailure", "", 500), "retry");
        assert_eq!(kind("Whatever", "", 503), "retry");
    }

    #[test]
    fn other_validation_errors_are_rejections() {
        assert_eq!(
            kind(
                "ValidationException",
                "Value at 'outputParameters.1.member.value' failed",
                400
            ),
            "rejected"
        );
    }
}
