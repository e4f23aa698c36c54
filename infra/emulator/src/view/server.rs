//! The view, served on 127.0.0.1 by `up` and `run`: pages for the pipelines and their
//! executions, following a running execution live, and the actions the SDK's calls
//! take (start, stop, retry, rerun selected steps). A random token, in the URL the
//! stack prints and then in a same-site cookie, keeps other local users out, as the
//! signed APIs do.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::task::JoinHandle;

use super::html::{self, execution_id, execution_url, Links, PipelineRow};
use super::logs;
use crate::pipeline::selective::SelectiveConfig;
use crate::pipeline::{retry_execution, start_execution, ExecutionRecord, Pipelines, StartRequest};

/// The cookie the token is kept in once the printed URL was opened.
pub(super) const COOKIE: &str = "pipelines_emulator_view";

#[derive(Clone)]
struct Shared {
    pipelines: Arc<Pipelines>,
    token: Arc<str>,
    work: PathBuf,
}

/// The served view; it stops when dropped.
pub struct ViewServer {
    addr: SocketAddr,
    token: String,
    task: JoinHandle<()>,
}

impl Drop for ViewServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ViewServer {
    /// Serves the view of `pipelines` on an ephemeral port of 127.0.0.1; `work` is the
    /// stack's folder, where the steps' logs are.
    pub async fn start(pipelines: Arc<Pipelines>, work: PathBuf) -> std::io::Result<Self> {
        let token = crate::auth::random_hex(32);
        let shared = Shared {
            pipelines,
            token: token.clone().into(),
            work,
        };
        let app = Router::new()
            .route("/", get(home))
            .route("/pipelines/{pipeline}", get(pipeline_page))
            .route("/pipelines/{pipeline}/start", post(start))
            .route("/pipelines/{pipeline}/executions/{id}", get(execution_page))
            .route("/pipelines/{pipeline}/executions/{id}/report", get(report))
            .route(
                "/pipelines/{pipeline}/executions/{id}/steps/{step}",
                get(step_page),
            )
            .route("/pipelines/{pipeline}/executions/{id}/stop", post(stop))
            .route("/pipelines/{pipeline}/executions/{id}/retry", post(retry))
            .route("/pipelines/{pipeline}/executions/{id}/rerun", post(rerun))
            .layer(middleware::from_fn_with_state(shared.clone(), admit))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, token, task })
    }

    /// The URL to open: it carries the token, which the page then keeps in a cookie.
    pub fn url(&self) -> String {
        format!("http://{}/?token={}", self.addr, self.token)
    }
}

/// Lets in a request with the token, in the cookie or in the URL (which then sets the
/// cookie and drops the token from the address bar); anything else is refused.
async fn admit(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let from_cookie = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && constant_time_eq(value, &shared.token));
    if from_cookie {
        return next.run(request).await;
    }
    let query: HashMap<String, String> = request
        .uri()
        .query()
        .map(|q| {
            q.split('&')
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    if query
        .get("token")
        .is_some_and(|t| constant_time_eq(t, &shared.token))
    {
        let cookie = format!(
            "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
            shared.token
        );
        return (
            StatusCode::SEE_OTHER,
            [
                (header::SET_COOKIE, cookie),
                (header::LOCATION, request.uri().path().to_owned()),
            ],
        )
            .into_response();
    }
    (
        StatusCode::FORBIDDEN,
        "open the view at the URL `pipelines-emulator up` printed: it carries the stack's token",
    )
        .into_response()
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn home(State(shared): State<Shared>) -> Html<String> {
    let mut rows = shared
        .pipelines
        .map_pipelines(|p| (p.name.clone(), p.latest_version()));
    rows.sort();
    let rows: Vec<PipelineRow> = rows
        .into_iter()
        .map(|(name, versions)| PipelineRow {
            executions: shared.pipelines.executions_of(&name),
            name,
            versions,
        })
        .collect();
    Html(html::page("Pipelines", &html::pipelines(&rows), false))
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(html::page(
            "Not found",
            &format!(
                "<main><p>{}</p><p><a href=\"/\">Pipelines</a></p></main>",
                html::escape(what)
            ),
            false,
        )),
    )
        .into_response()
}

async fn pipeline_page(State(shared): State<Shared>, Path(pipeline): Path<String>) -> Response {
    let Some(record) = shared.pipelines.pipeline(&pipeline) else {
        return not_found(&format!("No pipeline {pipeline}"));
    };
    let definition = record
        .version(record.latest_version())
        .map(|v| v.definition.clone());
    let mut form = format!("<form method=\"post\" action=\"/pipelines/{}/start\" id=\"start\"><h2>Start an execution</h2>", html::escape(&pipeline));
    for parameter in definition.iter().flat_map(|d| &d.parameters) {
        let default = parameter
            .default
            .as_ref()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .unwrap_or_default();
        form.push_str(&format!(
            "<p><label>{0} <input name=\"param.{0}\" value=\"{1}\"></label></p>",
            html::escape(&parameter.name),
            html::escape(&default)
        ));
    }
    form.push_str("<button>Start</button></form>");
    let body = format!(
        "<header><p class=\"crumbs\"><a href=\"/\">Pipelines</a></p><h1>{}</h1></header><main>{form}<h2>Executions</h2>{}</main>",
        html::escape(&pipeline),
        html::executions_table(&pipeline, &shared.pipelines.executions_of(&pipeline))
    );
    Html(html::page(&pipeline, &body, false)).into_response()
}

fn find(shared: &Shared, pipeline: &str, id: &str) -> Option<ExecutionRecord> {
    let record = shared.pipelines.pipeline(pipeline)?;
    shared
        .pipelines
        .execution(&format!("{}/execution/{id}", record.arn))
}

/// The execution, or the page that says it does not exist.
fn found(shared: &Shared, pipeline: &str, id: &str) -> Result<ExecutionRecord, Box<Response>> {
    find(shared, pipeline, id).ok_or_else(|| {
        Box::new(not_found(&format!(
            "No execution {id} of pipeline {pipeline}"
        )))
    })
}

async fn execution_page(
    State(shared): State<Shared>,
    Path((pipeline, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    render(&shared, &pipeline, &id, None, query.contains_key("body"))
}

async fn step_page(
    State(shared): State<Shared>,
    Path((pipeline, id, step)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    render(
        &shared,
        &pipeline,
        &id,
        Some(&step),
        query.contains_key("body"),
    )
}

fn render(
    shared: &Shared,
    pipeline: &str,
    id: &str,
    step: Option<&str>,
    body_only: bool,
) -> Response {
    let execution = match found(shared, pipeline, id) {
        Ok(execution) => execution,
        Err(page) => return *page,
    };
    if let Some(step) = step.filter(|s| !execution.steps.iter().any(|r| r.name == *s)) {
        return not_found(&format!("No step {step} in execution {id}"));
    }
    let links = Links::Served(execution_url(pipeline, id));
    let runner = shared.pipelines.runner();
    let logs = |s: &crate::pipeline::StepRecord| logs::of(&shared.work, runner.as_deref(), s);
    let body = html::execution(&execution, &links, step, &logs);
    if body_only {
        return Html(body).into_response();
    }
    Html(html::page(
        &execution.display_name,
        &format!("<div id=\"content\">{body}</div>"),
        true,
    ))
    .into_response()
}

async fn report(
    State(shared): State<Shared>,
    Path((pipeline, id)): Path<(String, String)>,
) -> Response {
    let execution = match found(&shared, &pipeline, &id) {
        Ok(execution) => execution,
        Err(page) => return *page,
    };
    let runner = shared.pipelines.runner();
    let file = super::report(&execution, &|s| {
        logs::of(&shared.work, runner.as_deref(), s)
    });
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        "text/html; charset=utf-8".parse().unwrap(),
    );
    if let Ok(value) = format!("attachment; filename=\"{pipeline}-{id}.html\"").parse() {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    (headers, file).into_response()
}

/// A refused action, shown as the API would say it.
fn refused(why: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(html::page(
            "Refused",
            &format!(
                "<main><p class=\"reason\">{}</p><p><a href=\"/\">Pipelines</a></p></main>",
                html::escape(&why)
            ),
            false,
        )),
    )
        .into_response()
}

/// An action on an execution of `pipeline`: the page of the execution it answers (a
/// stop's own, a retry's, a rerun's new one), or the refusal in the API's words.
fn act(
    shared: &Shared,
    pipeline: &str,
    id: &str,
    action: impl FnOnce(&ExecutionRecord) -> Result<String, String>,
) -> Response {
    let execution = match found(shared, pipeline, id) {
        Ok(execution) => execution,
        Err(page) => return *page,
    };
    match action(&execution) {
        Ok(arn) => to_execution(pipeline, &arn),
        Err(why) => refused(why),
    }
}

fn to_execution(pipeline: &str, arn: &str) -> Response {
    Redirect::to(&execution_url(pipeline, execution_id(arn))).into_response()
}

/// StartPipelineExecution with the form's parameters.
async fn start(
    State(shared): State<Shared>,
    Path(pipeline): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let parameters = form
        .into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("param.")?.to_owned(), v)))
        .collect();
    let request = StartRequest {
        parameters,
        ..StartRequest::default()
    };
    match start_execution(&shared.pipelines, &pipeline, &request) {
        Ok(arn) => to_execution(&pipeline, &arn),
        Err(why) => refused(why),
    }
}

/// StopPipelineExecution.
async fn stop(
    State(shared): State<Shared>,
    Path((pipeline, id)): Path<(String, String)>,
) -> Response {
    act(&shared, &pipeline, &id, |execution| {
        let arn = execution.arn.clone();
        shared.pipelines.request_stop(&arn).map(|()| arn)
    })
}

/// RetryPipelineExecution.
async fn retry(
    State(shared): State<Shared>,
    Path((pipeline, id)): Path<(String, String)>,
) -> Response {
    act(&shared, &pipeline, &id, |execution| {
        retry_execution(&shared.pipelines, &execution.arn, None)
    })
}

/// StartPipelineExecution with a SelectiveExecutionConfig: the selected steps run, the
/// others' results come from this execution.
async fn rerun(
    State(shared): State<Shared>,
    Path((pipeline, id)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let selected: Vec<String> = form
        .get("steps")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    act(&shared, &pipeline, &id, |execution| {
        let request = StartRequest {
            parameters: execution
                .parameters
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect(),
            selective: Some(SelectiveConfig {
                source: Some(execution.arn.clone()),
                selected,
            }),
            ..StartRequest::default()
        };
        start_execution(&shared.pipelines, &pipeline, &request)
    })
}
