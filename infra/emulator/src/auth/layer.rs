//! The check as an axum middleware, answering a refused request in its service's own
//! error shape so that the SDKs, boto3 and the CLI report it as AWS would.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::sigv4::{hex, verify, Refusal};
use super::Credentials;

/// The largest body hashed to check a signature; a larger one must declare its hash in
/// `x-amz-content-sha256`, as S3's clients do (its body then streams through unread).
const MAX_HASHED_BODY: usize = 16 * 1024 * 1024;

/// How an endpoint's clients expect errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON (`{"__type", "message"}`): SageMaker, EMR.
    Json,
    /// Whatever the request speaks: moto's front serves S3 (REST-XML), SQS and
    /// EventBridge (JSON), STS, IAM and CloudFormation (query).
    Detect,
}

/// What the middleware needs: the stack's keys and its endpoint's protocol.
#[derive(Clone)]
pub struct Guard {
    credentials: Arc<Credentials>,
    protocol: Protocol,
}

/// Wraps `router` so that only requests signed with `credentials` reach it.
pub fn require_signature<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    credentials: Credentials,
    protocol: Protocol,
) -> axum::Router<S> {
    let guard = Guard {
        credentials: Arc::new(credentials),
        protocol,
    };
    router.layer(axum::middleware::from_fn_with_state(guard, check))
}

async fn check(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let declared = parts.headers.contains_key("x-amz-content-sha256");
    let (body, hash) = if declared {
        (body, None)
    } else {
        match axum::body::to_bytes(body, MAX_HASHED_BODY).await {
            Ok(bytes) => {
                let hash = hex(&Sha256::digest(&bytes));
                (Body::from(bytes), Some(hash))
            }
            Err(_) => return too_large(guard.protocol),
        }
    };
    match verify(
        &guard.credentials,
        &parts.method,
        &parts.uri,
        &parts.headers,
        hash.as_deref(),
    ) {
        Ok(_) => next.run(Request::from_parts(parts, body)).await,
        Err(refusal) => refused(&refusal, guard.protocol, &parts.headers),
    }
}

fn too_large(protocol: Protocol) -> Response {
    let message = format!(
        "a request body over {MAX_HASHED_BODY} bytes must declare its x-amz-content-sha256"
    );
    match protocol {
        Protocol::Json => crate::aws_json::AwsError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            message,
        )
        .into_response(),
        Protocol::Detect => (StatusCode::PAYLOAD_TOO_LARGE, message).into_response(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Json,
    Query,
    S3,
}

fn shape(protocol: Protocol, refusal: &Refusal, headers: &HeaderMap) -> Shape {
    if protocol == Protocol::Json || headers.contains_key("x-amz-target") {
        return Shape::Json;
    }
    if let Some(scope) = refusal.scope() {
        return if scope.service == "s3" {
            Shape::S3
        } else {
            Shape::Query
        };
    }
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form {
        Shape::Query
    } else {
        Shape::S3
    }
}

const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
const BAD_SIGNATURE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const TOKEN_NOT_ACCEPTED: &str = "The security token included in the request is invalid: pipelines-emulator's keys take no session token (unset AWS_SESSION_TOKEN; `pipelines-emulator env` prints the lines that do).";

/// The refusal in the error code and shape of the service the request was meant for.
fn refused(refusal: &Refusal, protocol: Protocol, headers: &HeaderMap) -> Response {
    let shape = shape(protocol, refusal, headers);
    let (code, message): (&'static str, String) = match (refusal, shape) {
        (Refusal::Missing, Shape::Json) => (
            "MissingAuthenticationTokenException",
            "Missing Authentication Token".into(),
        ),
        (Refusal::Missing, Shape::Query) => (
            "MissingAuthenticationToken",
            "Request is missing Authentication Token".into(),
        ),
        (Refusal::Missing, Shape::S3) => ("AccessDenied", "Access Denied".into()),
        (Refusal::UnknownKey { .. }, Shape::Json) => {
            ("UnrecognizedClientException", INVALID_TOKEN.into())
        }
        (Refusal::UnknownKey { .. }, Shape::Query) => {
            ("InvalidClientTokenId", INVALID_TOKEN.into())
        }
        (Refusal::UnknownKey { .. }, Shape::S3) => (
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.".into(),
        ),
        (Refusal::BadSignature { .. }, Shape::Json) => {
            ("InvalidSignatureException", BAD_SIGNATURE.into())
        }
        (Refusal::BadSignature { .. }, _) => ("SignatureDoesNotMatch", BAD_SIGNATURE.into()),
        (Refusal::TokenNotAccepted { .. }, Shape::Json) => {
            ("UnrecognizedClientException", TOKEN_NOT_ACCEPTED.into())
        }
        (Refusal::TokenNotAccepted { .. }, Shape::Query) => {
            ("InvalidClientTokenId", TOKEN_NOT_ACCEPTED.into())
        }
        (Refusal::TokenNotAccepted { .. }, Shape::S3) => {
            ("InvalidToken", TOKEN_NOT_ACCEPTED.into())
        }
        (Refusal::Expired { .. }, _) => ("AccessDenied", "Request has expired".into()),
        (Refusal::Malformed(why), Shape::Json) => ("IncompleteSignatureException", why.clone()),
        (Refusal::Malformed(why), Shape::Query) => ("IncompleteSignature", why.clone()),
        (Refusal::Malformed(why), Shape::S3) => ("AuthorizationHeaderMalformed", why.clone()),
    };
    let status = StatusCode::FORBIDDEN;
    match shape {
        Shape::Json => crate::aws_json::AwsError::new(status, code, message).into_response(),
        Shape::Query => xml(
            status,
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>pipelines-emulator</RequestId></ErrorResponse>",
                escape(&message)
            ),
        ),
        Shape::S3 => xml(
            status,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><RequestId>pipelines-emulator</RequestId></Error>",
                escape(&message)
            ),
        ),
    }
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "application/xml")], body).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
