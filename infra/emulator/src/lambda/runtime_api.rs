//! The Lambda Runtime API (2018-06-01) that a function process polls: `next`,
//! `response`, `error` and `init/error`, served on 127.0.0.1; as many `next` polls at
//! once as the process has workers (Lambda Managed Instances). Beside it, the part of
//! the Extensions API (2020-01-01) an internal extension subscribed to no event uses:
//! `register` and its `event/next`, which waits until the process ends. Registering
//! one is how a runtime asks for SIGTERM before a shutdown.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use super::InvokeError;

type Reply = oneshot::Sender<Result<Value, InvokeError>>;

pub(super) struct Invocation {
    pub payload: Bytes,
    pub timeout: Duration,
    pub reply: Reply,
}

struct ApiState {
    function_arn: String,
    queue: Mutex<VecDeque<Invocation>>,
    queued: Notify,
    in_flight: Mutex<HashMap<String, Reply>>,
    /// The pid of the function's process, whose connections alone are served (0: none).
    process: Arc<AtomicU32>,
    /// When the current process first asked for an invocation: its init ended.
    first_poll: Mutex<Option<Instant>>,
    /// Extensions the current process registered, by name.
    extensions: Mutex<Vec<String>>,
}

/// The API for one function; it stops when dropped.
pub(super) struct RuntimeApi {
    addr: SocketAddr,

    state: Arc<ApiState>,
    task: JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start(function_name: &str) -> std::io::Result<Self> {
        let state = Arc::new(ApiState {
            function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function_name}"),
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            in_flight: Mutex::new(HashMap::new()),
            process: Arc::default(),
            first_poll: Mutex::new(None),
            extensions: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/2020-01-01/extension/register", post(register_extension))
            .route(
                "/2020-01-01/extension/event/next",
                get(next_extension_event),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let listener = super::peer::ProcessListener::new(listener, state.process.clone())?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, state, task })
    }

    /// `host:port`, the value of AWS_LAMBDA_RUNTIME_API.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The function's process, now `pid`: the API answers its connections (and its
    /// descendants') only.
    pub fn serve_process(&self, pid: u32) {
        self.state.process.store(pid, Ordering::SeqCst);
    }

    /// A new process is starting: its init lasts until it first polls `next`.
    pub fn process_started(&self) {
        *self.state.first_poll.lock().unwrap() = None;
        self.state.extensions.lock().unwrap().clear();
    }

    /// Whether the current process registered an extension: Lambda then sends it
    /// SIGTERM before a shutdown.
    pub fn extensions_registered(&self) -> bool {
        !self.state.extensions.lock().unwrap().is_empty()
    }

    /// When the current process first polled `next`, if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        *self.state.first_poll.lock().unwrap()
    }

    pub fn enqueue(&self, invocation: Invocation) {
        self.state.queue.lock().unwrap().push_back(invocation);
        self.state.queued.notify_one();
    }

    /// Ends every invocation not yet answered, queued or in flight, with `error`.
    pub fn fail_all(&self, error: &InvokeError) {
        let in_flight: Vec<Reply> = self
            .state
            .in_flight
            .lock()
            .unwrap()
            .drain()
            .map(|(_, r)| r)
            .collect();
        for reply in in_flight {
            let _ = reply.send(Err(error.clone()));
        }
        fail_queued(&self.state, error);
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn next(State(state): State<Arc<ApiState>>) -> Response {
    state
        .first_poll
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);
    let invocation = loop {
        if let Some(invocation) = state.queue.lock().unwrap().pop_front() {
            break invocation;
        }
        // notify_one keeps a permit when nobody waits, so no wake-up is missed.
        state.queued.notified().await;
    };
    let id = request_id();
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(invocation.timeout)
        .as_millis()
        .to_string();
    state
        .in_flight
        .lock()
        .unwrap()
        .insert(id.clone(), invocation.reply);
    (
        StatusCode::OK,
        [
            ("content-type", "application/json".to_owned()),
            ("lambda-runtime-aws-request-id", id),
            ("lambda-runtime-deadline-ms", deadline),
            (
                "lambda-runtime-invoked-function-arn",
                state.function_arn.clone(),
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
            ),
        ],
        invocation.payload,
    )
        .into_response()
}

/// Registers an internal extension. Only one subscribed to no event is served: the
/// emulator sends no INVOKE or SHUTDOWN events, and says so rather than never sending
/// them.
async fn register_extension(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let refuse = |message: String| {
        (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/json")],
            serde_json::json!({"errorType": "Extension.Unsupported", "errorMessage": message})
                .to_string(),
        )
            .into_response()
    };
    let Some(name) = headers
        .get("lambda-extension-name")
        .and_then(|v| v.to_str().ok())
        .filter(|name| !name.is_empty())
    else {
        return refuse("Lambda-Extension-Name is missing".to_owned());
    };
    let events: Vec<String> = match serde_json::from_slice::<Value>(&body) {
        Ok(request) => request["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .filter_map(|e| e.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        Err(e) => return refuse(format!("the registration is not JSON: {e}")),
    };
    if !events.is_empty() {
        return refuse(format!(
            "extension {name} subscribes to {}: the emulator serves extensions subscribed to no event (the no-op extension that asks for SIGTERM) only",
            events.join(", ")
        ));
    }
    let mut registered = state.extensions.lock().unwrap();
    if registered.iter().any(|known| known == name) {
        return refuse(format!("extension {name} is already registered"));
    }
    registered.push(name.to_owned());
    let function_name = state
        .function_arn
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    (
        StatusCode::OK,
        [
            ("content-type", "application/json".to_owned()),
            ("lambda-extension-identifier", request_id()),
        ],
        serde_json::json!({
            "functionName": function_name,
            "functionVersion": "$LATEST",
            "handler": "bootstrap",
            "accountId": "000000000000",
        })
        .to_string(),
    )
        .into_response()
}

/// An extension subscribed to no event waits here until its process ends.
async fn next_extension_event() -> Response {
    std::future::pending().await
}

fn take_reply(state: &ApiState, id: &str) -> Option<Reply> {
    state.in_flight.lock().unwrap().remove(id)
}

async fn response(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let Some(reply) = take_reply(&state, &id) else {
        return StatusCode::BAD_REQUEST;
    };
    let answer = serde_json::from_slice(&body).map_err(|e| InvokeError::Function {
        error_type: "Runtime.InvalidResponse".to_owned(),
        message: format!("function response is not JSON: {e}"),
    });
    let _ = reply.send(answer);
    StatusCode::ACCEPTED
}

fn function_error(headers: &HeaderMap, body: &[u8]) -> InvokeError {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let error_type = parsed
        .get("errorType")
        .and_then(Value::as_str)
        .or_else(|| {
            headers
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
        })
        .unwrap_or("Unhandled")
        .to_owned();
    let message = parsed
        .get("errorMessage")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    InvokeError::Function {
        error_type,
        message,
    }
}

async fn error(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(reply) = take_reply(&state, &id) else {
        return StatusCode::BAD_REQUEST;
    };
    let _ = reply.send(Err(function_error(&headers, &body)));
    StatusCode::ACCEPTED
}

async fn init_error(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let InvokeError::Function {
        error_type,
        message,
    } = function_error(&headers, &body)
    else {
        unreachable!("function_error builds a function error")
    };
    fail_queued(
        &state,
        &InvokeError::Init(format!("{error_type}: {message}")),
    );
    StatusCode::ACCEPTED
}

fn fail_queued(state: &ApiState, error: &InvokeError) {
    let queued: Vec<Invocation> = state.queue.lock().unwrap().drain(..).collect();
    for invocation in queued {
        let _ = invocation.reply.send(Err(error.clone()));
    }
}

/// A request id as Lambda's look (a UUID), drawn at random: the id is what a response
/// is posted to, so it must not be guessed.
fn request_id() -> String {
    let hex = crate::auth::random_hex(32);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
