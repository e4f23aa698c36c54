use serde_json::{Map, Value};

use super::{CallbackToken, PipelineExecutionArn};
use crate::text::quote;

/// What SageMaker asks of a Callback step: a fresh start, or that the execution stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallbackStatus {
    /// The step started: do the work.
    Start,
    /// The execution is stopping: clean up and end the step.
    Stopping,
}

impl CallbackStatus {
    /// `Start` or `Stopping`, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "Start",
            Self::Stopping => "Stopping",
        }
    }
}

/// The body of one SQS message sent by a Callback step.
#[derive(Clone, Debug, PartialEq)]
pub struct CallbackMessage {
    /// The token to report with.
    pub token: CallbackToken,
    /// The execution the step belongs to.
    pub execution_arn: PipelineExecutionArn,
    /// The step's arguments, any JSON type each.
    pub arguments: Map<String, Value>,
    /// Start, or Stopping.
    pub status: CallbackStatus,
}

/// Why a body is not a usable callback message. The split matters: without a token
/// nothing can be reported, so the message must stay on the queue for the DLQ; with
/// one, the step can be failed at once with the reason.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MessageError {
    /// No readable token: nothing can be reported, the message is left for the DLQ.
    #[error("unreportable message: {0}")]
    Unreportable(String),
    /// A readable token with a bad message: reported at once as a step failure.
    #[error("invalid callback message: {reason}")]
    Invalid {
        /// The token, to report the failure with.
        token: CallbackToken,
        /// The execution, when the message names a readable one.
        execution_arn: Option<String>,
        /// What is wrong, for the failure reason.
        reason: String,
    },
}

impl CallbackMessage {
    /// Reads an SQS body as SageMaker sends it (`status` or `Status`; no status is a start).
    pub fn parse(body: &str) -> Result<Self, MessageError> {
        let value: Value = serde_json::from_str(body)
            .map_err(|e| MessageError::Unreportable(format!("body is not JSON: {e}")))?;
        let Value::Object(mut fields) = value else {
            return Err(MessageError::Unreportable(
                "body is not a JSON object".to_owned(),
            ));
        };
        let token = match fields.get("token") {
            Some(Value::String(raw)) => CallbackToken::parse(raw)
                .map_err(|why| MessageError::Unreportable(format!("unreadable token: {why}")))?,
            Some(_) => {
                return Err(MessageError::Unreportable(
                    "unreadable token: `token` is not a string".to_owned(),
                ))
            }
            None => {
                return Err(MessageError::Unreportable(
                    "unreadable token: no `token` field".to_owned(),
                ))
            }
        };
        let raw_arn = fields
            .get("pipelineExecutionArn")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let invalid = |reason: String| MessageError::Invalid {
            token: token.clone(),
            execution_arn: raw_arn.clone(),
            reason,
        };
        let execution_arn = match raw_arn.as_deref() {
            Some(arn) => PipelineExecutionArn::parse(arn).map_err(invalid)?,
            None => return Err(invalid("no `pipelineExecutionArn` string".to_owned())),
        };
        let arguments = match fields.remove("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(arguments)) => arguments,
            Some(_) => return Err(invalid("`arguments` is not a JSON object".to_owned())),
        };
        let status = match fields.get("status").or_else(|| fields.get("Status")) {
            None | Some(Value::Null) => CallbackStatus::Start,
            Some(Value::String(s)) if s == "Stopping" => CallbackStatus::Stopping,
            Some(other) => {
                return Err(invalid(format!(
                    "unknown status {}; expected none or \"Stopping\"",
                    quote(other)
                )))
            }
        };
        Ok(Self {
            token,
            execution_arn,
            arguments,
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sagemaker:us-east-2:012345678901:pipeline/p/execution/7pinimwddh3a";

    fn body(extra: &str) -> String {
        format!(r#"{{"token":"26vcYbeWsZ","pipelineExecutionArn":"{ARN}"{extra}}}"#)
    }

    #[test]
    fn reads_a_start_message_with_any_argument_types() {
        let msg = CallbackMessage::parse(&body(
            r#","arguments":{"number":5,"stringArg":"some-arg","flag":true}"#,
        ))
        .unwrap();
        assert_eq!(msg.token.as_str(), "26vcYbeWsZ");
        assert_eq!(msg.status, CallbackStatus::Start);
        assert_eq!(msg.arguments["number"], 5);
        assert_eq!(msg.arguments["flag"], true);
        assert_eq!(msg.execution_arn.pipeline_name, "p");
    }

    #[test]
    fn reads_stopping_in_either_case_of_key() {
        for key in ["status", "Status"] {
            let msg = CallbackMessage::parse(&body(&format!(r#","{key}":"Stopping""#))).unwrap();
            assert_eq!(msg.status, CallbackStatus::Stopping);
        }
    }

    #[test]
    fn without_a_token_nothing_can_be_reported() {
        for bad in [
            "not json",
            "[1,2]",
            r#"{"pipelineExecutionArn":"x"}"#,
            r#"{"token":12}"#,
            r#"{"token":"abc"}"#,
        ] {
            assert!(
                matches!(
                    CallbackMessage::parse(bad),
                    Err(MessageError::Unreportable(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn with_a_token_a_bad_message_is_invalid_and_says_why() {
        for (extra, why) in [
            (r#","arguments":[1]"#, "`arguments`"),
            (r#","status":"Paused""#, "unknown status \"Paused\""),
        ] {
            match CallbackMessage::parse(&body(extra)) {
                Err(MessageError::Invalid { token, reason, .. }) => {
                    assert_eq!(token.as_str(), "26vcYbeWsZ");
                    assert!(reason.contains(why), "{reason}");
                }
                other => panic!("{extra}: {other:?}"),
            }
        }
        let no_arn = CallbackMessage::parse(r#"{"token":"26vcYbeWsZ"}"#).unwrap_err();
        assert!(matches!(no_arn, MessageError::Invalid { .. }));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            CallbackMessage::parse(&deep),
            Err(MessageError::Unreportable(_))
        ));
    }
}
