//! The AWS side of the CLI: one SDK configuration for AWS and the emulator (the
//! standard credential chain and region, and the `AWS_ENDPOINT_URL_*` exports of
//! `pipelines-emulator up`), and errors a person on call can act on.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sagemaker::error::{ProvideErrorMetadata, SdkError};

/// Throttled calls are retried this many times in all, with the SDK's backoff.
const MAX_ATTEMPTS: u32 = 8;

/// The clients of every service the CLI calls.
#[derive(Clone, Debug)]
pub struct Clients {
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub emr: aws_sdk_emr::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
}

impl Clients {
    /// From the environment: credentials, region and endpoints as any AWS tool reads them.
    pub async fn from_env() -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .load()
            .await;
        Self::new(&config)
    }

    pub fn new(config: &SdkConfig) -> Self {
        Self {
            sagemaker: aws_sdk_sagemaker::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            eventbridge: aws_sdk_eventbridge::Client::new(config),
            emr: aws_sdk_emr::Client::new(config),
            cloudformation: aws_sdk_cloudformation::Client::new(config),
        }
    }
}

/// Why a call failed, as the person on call needs to hear it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// No credentials were found.
    NoCredentials(String),
    /// The caller lacks an IAM action.
    AccessDenied { action: String, message: String },
    /// The service answered with an error code.
    Service {
        action: String,
        code: String,
        message: String,
    },
    /// The endpoint could not be reached or answered nothing usable.
    Unreachable { action: String, detail: String },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoCredentials(detail) => write!(
                f,
                "no AWS credentials found ({detail}): set AWS_PROFILE (after `aws sso login` for SSO), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role is attached"
            ),
            Self::AccessDenied { action, message } => write!(
                f,
                "access denied: the caller may not {action} (grant it, for example with the template's PipelineStepsOperatorPolicy): {message}"
            ),
            Self::Service {
                action,
                code,
                message,
            } => write!(f, "{action}: {code}: {message}"),
            Self::Unreachable { action, detail } => write!(f, "{action}: {detail}"),
        }
    }
}

impl CallError {
    /// The service's error code, when the service answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Service { code, .. } => Some(code),
            Self::AccessDenied { .. } => Some("AccessDenied"),
            _ => None,
        }
    }
}

/// Classifies an SDK error of the call that needs IAM `action` (`sagemaker:ListPipelines`).
pub fn classify<E, R>(action: &str, err: SdkError<E, R>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let detail = sagemaker_custom_steps::sdk_error::describe_chain(&err);
    if let Some(service) = err.as_service_error() {
        let code = service.code().unwrap_or("Unknown").to_owned();
        let message = service.message().unwrap_or_default().to_owned();
        if code.contains("AccessDenied") || code == "UnauthorizedOperation" {
            return CallError::AccessDenied {
                action: action.to_owned(),
                message,
            };
        }
        return CallError::Service {
            action: action.to_owned(),
            code,
            message,
        };
    }
    if detail.contains("credentials")
        && (detail.contains("provider") || detail.contains("no credentials"))
    {
        return CallError::NoCredentials(detail);
    }
    CallError::Unreachable {
        action: action.to_owned(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_names_the_action_and_the_policy() {
        let err = CallError::AccessDenied {
            action: "sagemaker:ListPipelines".into(),
            message: "User is not authorized".into(),
        };
        let text = err.to_string();
        assert!(text.contains("may not sagemaker:ListPipelines"), "{text}");
        assert!(text.contains("PipelineStepsOperatorPolicy"), "{text}");
        assert!(CallError::NoCredentials("x".into())
            .to_string()
            .contains("AWS_PROFILE"));
    }
}
