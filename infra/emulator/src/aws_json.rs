//! The AWS JSON 1.1 protocol as the SDKs speak it: the operation in `X-Amz-Target`,
//! errors as `{"__type": ..., "message": ...}` with the code in `X-Amzn-ErrorType` too.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// An error answer in AWS's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl AwsError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationException", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ResourceNotFound", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ConflictException", message)
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.code, "message": self.message}).to_string();
        (
            self.status,
            [
                ("content-type", CONTENT_TYPE),
                ("x-amzn-errortype", self.code),
            ],
            body,
        )
            .into_response()
    }
}

/// A request body, or the error in AWS's shape when it could not be read (over the
/// endpoint's size limit: 413, as the service answers a request entity too large).
pub fn read_body(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<axum::body::Bytes, AwsError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "RequestEntityTooLargeException"
        } else {
            "SerializationException"
        };
        AwsError::new(
            status,
            code,
            format!(
                "the request body could not be read: {}",
                rejection.body_text()
            ),
        )
    })
}

/// A successful answer.
pub fn ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", CONTENT_TYPE)],
        body.to_string(),
    )
        .into_response()
}

/// The operation named by `X-Amz-Target: <Service>.<Operation>`.
pub fn operation<'a>(headers: &'a HeaderMap, service: &str) -> Result<&'a str, AwsError> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            AwsError::new(
                StatusCode::BAD_REQUEST,
                "MissingAction",
                "no X-Amz-Target header",
            )
        })?;
    target
        .strip_prefix(service)
        .and_then(|rest| rest.strip_prefix('.'))
        .ok_or_else(|| {
            AwsError::new(
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                format!("X-Amz-Target '{target}' is not a {service} operation"),
            )
        })
}

/// The request body as a JSON object.
pub fn body(bytes: &[u8]) -> Result<Value, AwsError> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_slice(bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(AwsError::new(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "request body is not a JSON object",
        )),
    }
}

/// A required string member of a request.
pub fn required_str<'a>(request: &'a Value, member: &str) -> Result<&'a str, AwsError> {
    request.get(member).and_then(Value::as_str).ok_or_else(|| {
        AwsError::validation(format!(
            "1 validation error detected: '{member}' is required"
        ))
    })
}
