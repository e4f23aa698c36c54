//! The SageMaker endpoint: AWS JSON 1.1 on 127.0.0.1, so aws-sdk-sagemaker, boto3 and
//! the AWS CLI work against it unchanged.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::api::Api;
use super::idempotency::Idempotency;
use super::tags::Tags;
use super::{execution_api, job_api, pipeline_api, requests, version_api};
use crate::auth::{self, Credentials};
use crate::aws_json::{self, AwsError};
use crate::faults::Faults;
use crate::pipeline::Pipelines;
use crate::pipeline::{CallbackState, Callbacks, ReportRefusal};

/// The API's limits, enforced as the service does, so that a handler that breaks
/// them fails here before it fails in AWS.
const MAX_OUTPUTS: usize = 50;
/// The largest request body the endpoint reads.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
const MAX_NAME_CHARS: usize = 256;
const MAX_VALUE_CHARS: usize = 1024;
const MAX_REASON_CHARS: usize = 256;

/// What the pipeline and execution operations work on.
#[derive(Clone)]
struct Shared {
    callbacks: Arc<Callbacks>,
    api: Arc<Api>,
    faults: Arc<Faults>,
    requests: Arc<AtomicUsize>,
}

/// A running SageMaker endpoint; it stops when dropped.
pub struct SageMakerServer {
    addr: SocketAddr,
    callbacks: Arc<Callbacks>,
    pipelines: Arc<Pipelines>,
    faults: Arc<Faults>,
    requests: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl SageMakerServer {
    /// Starts the endpoint; it answers only requests signed with `credentials`.
    pub async fn start(credentials: Credentials) -> std::io::Result<Self> {
        let callbacks = Arc::new(Callbacks::default());
        let faults = Arc::new(Faults::default());
        let requests = Arc::new(AtomicUsize::new(0));
        let pipelines = Arc::new(Pipelines::default());
        let shared = Shared {
            callbacks: callbacks.clone(),
            api: Arc::new(Api {
                pipelines: pipelines.clone(),
                tags: Tags::default(),
                idempotency: Idempotency::default(),
            }),
            faults: faults.clone(),
            requests: requests.clone(),
        };
        // A definition may be 1 MB (the model's limit), twice that once escaped in JSON;
        // a body over the limit is answered 413 in AWS's shape.
        let app = Router::new()
            .route("/", post(handle))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(shared);
        let app = auth::require_signature(app, credentials, auth::Protocol::Json);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            callbacks,
            pipelines,
            faults,
            requests,
            task,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn callbacks(&self) -> &Arc<Callbacks> {
        &self.callbacks
    }

    pub fn pipelines(&self) -> &Arc<Pipelines> {
        &self.pipelines
    }

    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// Requests received so far, answered or refused.
    pub fn requests_received(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for SageMakerServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match aws_json::read_body(body) {
        Ok(body) => body,
        Err(err) => return err.into_response(),
    };
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let operation = aws_json::operation(&headers, "SageMaker");
    // The knobs act on the calls the handlers make: the step reports.
    if operation
        .as_ref()
        .is_ok_and(|op| op.starts_with("SendPipelineExecutionStep"))
    {
        if let Some(injected) = shared.faults.before_request().await {
            return injected.into_response();
        }
    }
    let answer = match operation.and_then(|operation| Ok((operation, aws_json::body(&body)?))) {
        Err(err) => Err(err),
        Ok((operation, request)) => answer(&shared, operation, &request).await,
    };
    match answer {
        Ok(body) => aws_json::ok(body),
        Err(err) => err.into_response(),
    }
}

async fn answer(shared: &Shared, operation: &str, request: &Value) -> Result<Value, AwsError> {
    requests::check(operation, request)?;
    match operation {
        "SendPipelineExecutionStepSuccess" => return send_success(&shared.callbacks, request),
        "SendPipelineExecutionStepFailure" => return send_failure(&shared.callbacks, request),
        _ => {}
    }
    let api = &shared.api;
    if let Some(answer) = pipeline_api::handle(api, operation, request).await {
        return answer;
    }
    if let Some(answer) = version_api::handle(api, operation, request) {
        return answer;
    }
    if let Some(answer) = execution_api::handle(api, operation, request).await {
        return answer;
    }
    if let Some(answer) = job_api::handle(api, operation, request) {
        return answer;
    }
    if let Some(answer) = api.tags.handle(operation, request) {
        return answer;
    }
    Err(AwsError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "UnknownOperationException",
        format!("operation {operation} is not served by the emulator"),
    ))
}

fn callback_token(request: &Value) -> Result<&str, AwsError> {
    let token = aws_json::required_str(request, "CallbackToken")?;
    if token.len() != 10 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{token}' at 'callbackToken' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9]+$ and length 10"
        )));
    }
    Ok(token)
}

fn client_request_token(request: &Value) -> Option<String> {
    request
        .get("ClientRequestToken")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn send_success(callbacks: &Callbacks, request: &Value) -> Result<Value, AwsError> {
    let token = callback_token(request)?;
    let parameters = match request.get("OutputParameters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(AwsError::validation("OutputParameters must be a list")),
    };
    if parameters.len() > MAX_OUTPUTS {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value at 'outputParameters' failed to satisfy constraint: Member must have length less than or equal to {MAX_OUTPUTS}"
        )));
    }
    let mut outputs = Vec::with_capacity(parameters.len());
    for (index, parameter) in parameters.iter().enumerate() {
        let name = aws_json::required_str(parameter, "Name")?;
        let value = aws_json::required_str(parameter, "Value")?;
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(AwsError::validation(format!(
                "Value at 'outputParameters.{}.member.name' failed to satisfy constraint: Member must have length between 1 and {MAX_NAME_CHARS}",
                index + 1
            )));
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(AwsError::validation(format!(
                "Value at 'outputParameters.{}.member.value' failed to satisfy constraint: Member must have length less than or equal to {MAX_VALUE_CHARS}",
                index + 1
            )));
        }
        outputs.push((name.to_owned(), value.to_owned()));
    }
    let outcome = CallbackState::Succeeded {
        outputs,
        client_request_token: client_request_token(request),
    };
    record(callbacks, token, outcome)
}

fn send_failure(callbacks: &Callbacks, request: &Value) -> Result<Value, AwsError> {
    let token = callback_token(request)?;
    let reason = request
        .get("FailureReason")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value at 'failureReason' failed to satisfy constraint: Member must have length less than or equal to {MAX_REASON_CHARS}"
        )));
    }
    let outcome = CallbackState::Failed {
        reason: reason.to_owned(),
        client_request_token: client_request_token(request),
    };
    record(callbacks, token, outcome)
}

fn record(callbacks: &Callbacks, token: &str, outcome: CallbackState) -> Result<Value, AwsError> {
    match callbacks.report(token, outcome) {
        Ok(()) => Ok(match callbacks.execution_of(token) {
            Some(arn) => json!({ "PipelineExecutionArn": arn }),
            None => json!({}),
        }),
        Err(ReportRefusal::UnknownToken) => Err(AwsError::not_found(format!(
            "Callback token {token} does not belong to a waiting step"
        ))),
        Err(ReportRefusal::AlreadyReported) => Err(AwsError::conflict(format!(
            "Step with callback token {token} is already in a terminal status"
        ))),
    }
}
