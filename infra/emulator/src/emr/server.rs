//! The EMR endpoint: AWS JSON 1.1 (`X-Amz-Target: ElasticMapReduce.<Operation>`).

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::engine::{Cancel, EmrEngine, EngineError, NewStep};
use super::events::EmrEventStream;
use super::model::epoch;
use super::requests;
use crate::auth::{self, Credentials};
use crate::aws_json::{self, AwsError};

/// A running EMR endpoint; it stops when dropped.
pub struct EmrServer {
    addr: SocketAddr,
    engine: EmrEngine,
    task: JoinHandle<()>,
}

impl EmrServer {
    /// Starts the endpoint; step logs go below `log_root`. The stream carries every
    /// EventBridge event EMR emits.
    /// Only requests signed with `credentials` are answered.
    pub async fn start(
        log_root: PathBuf,
        credentials: Credentials,
    ) -> std::io::Result<(Self, EmrEventStream)> {
        let (engine, events) = EmrEngine::new(log_root);
        let app = Router::new()
            .route("/", post(handle))
            .with_state(engine.clone());
        let app = auth::require_signature(app, credentials, auth::Protocol::Json);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok((Self { addr, engine, task }, events))
    }

    /// The URL the EMR API answers at (`http://127.0.0.1:<port>`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The clusters and steps the API serves.
    pub fn engine(&self) -> &EmrEngine {
        &self.engine
    }
}

impl Drop for EmrServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(StatusCode::BAD_REQUEST, "InvalidRequestException", message)
}

impl From<EngineError> for AwsError {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::UnknownCluster(id) => invalid(format!("Cluster id '{id}' is not valid.")),
            EngineError::UnknownStep(id) => invalid(format!("Step id '{id}' is not valid.")),
            EngineError::Invalid(message) => AwsError::validation(message),
            EngineError::Throttled => AwsError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "ThrottlingException",
                "Rate exceeded (injected by the emulator)",
            ),
        }
    }
}

async fn handle(
    State(engine): State<EmrEngine>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match aws_json::read_body(body) {
        Ok(body) => body,
        Err(err) => return err.into_response(),
    };
    let answer = aws_json::operation(&headers, "ElasticMapReduce").and_then(|operation| {
        let request = aws_json::body(&body)?;
        requests::check(operation, &request)?;
        match operation {
            "RunJobFlow" => run_job_flow(&engine, &request),
            "DescribeCluster" => {
                let id = aws_json::required_str(&request, "ClusterId")?;
                Ok(json!({"Cluster": engine.cluster(id)?.to_json()}))
            }
            "ListClusters" => list_clusters(&engine, &request),
            "TerminateJobFlows" => {
                let ids = string_list(&request, "JobFlowIds");
                for id in &ids {
                    if engine.cluster(id)?.termination_protected() {
                        return Err(AwsError::validation(
                            "Could not shut down one or more job flows since they are termination protected.",
                        ));
                    }
                }
                for id in &ids {
                    engine.terminate(id)?;
                }
                Ok(json!({}))
            }
            "AddJobFlowSteps" => {
                let id = aws_json::required_str(&request, "JobFlowId")?;
                let steps = new_steps(&request)?;
                Ok(json!({"StepIds": engine.add_steps(id, steps)?}))
            }
            "DescribeStep" => {
                let cluster = aws_json::required_str(&request, "ClusterId")?;
                let step = aws_json::required_str(&request, "StepId")?;
                Ok(json!({"Step": engine.step(cluster, step)?.to_json()}))
            }
            "ListSteps" => {
                let cluster = aws_json::required_str(&request, "ClusterId")?;
                let states = string_list(&request, "StepStates");
                let ids = string_list(&request, "StepIds");
                let steps: Vec<Value> = engine
                    .steps(cluster)?
                    .iter()
                    .filter(|s| states.is_empty() || states.contains(&s.state))
                    .filter(|s| ids.is_empty() || ids.contains(&s.id))
                    .map(|s| s.to_json())
                    .collect();
                page(steps, &request, "Steps")
            }
            "CancelSteps" => {
                let cluster = aws_json::required_str(&request, "ClusterId")?;
                let mut infos = Vec::new();
                let how = match request["StepCancellationOption"].as_str() {
                    Some("TERMINATE_PROCESS") => Cancel::Terminate,
                    _ => Cancel::Interrupt,
                };
                for step_id in string_list(&request, "StepIds") {
                    let info = match engine.cancel_step(cluster, &step_id, how)? {
                        Ok(()) => json!({"StepId": step_id, "Status": "SUBMITTED"}),
                        Err(reason) => {
                            json!({"StepId": step_id, "Status": "FAILED", "Reason": reason})
                        }
                    };
                    infos.push(info);
                }
                Ok(json!({"CancelStepsInfoList": infos}))
            }
            other => Err(AwsError::new(
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                format!("operation {other} is not served by the emulator"),
            )),
        }
    });
    match answer {
        Ok(body) => aws_json::ok(body),
        Err(err) => err.into_response(),
    }
}

/// A list-of-strings member (absent: empty). The request was held to EMR's model before
/// it got here (`requests::check`), so anything but a list of strings was refused there.
fn string_list(request: &Value, member: &str) -> Vec<String> {
    request[member]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.as_str().map(str::to_owned))
        .collect()
}

fn new_steps(request: &Value) -> Result<Vec<NewStep>, AwsError> {
    let Some(steps) = request["Steps"].as_array() else {
        return Ok(Vec::new());
    };
    steps
        .iter()
        .map(|step| {
            let name = aws_json::required_str(step, "Name")?;
            let jar_step = &step["HadoopJarStep"];
            Ok(NewStep {
                name: name.to_owned(),
                jar: aws_json::required_str(jar_step, "Jar")?.to_owned(),
                args: string_list(jar_step, "Args"),
                action_on_failure: step["ActionOnFailure"]
                    .as_str()
                    .unwrap_or("TERMINATE_CLUSTER")
                    .to_owned(),
            })
        })
        .collect()
}

fn run_job_flow(engine: &EmrEngine, request: &Value) -> Result<Value, AwsError> {
    let name = aws_json::required_str(request, "Name")?;
    aws_json::required_str(request, "ReleaseLabel")?;
    let keep_alive = request["Instances"]["KeepJobFlowAliveWhenNoSteps"]
        .as_bool()
        .unwrap_or(false);
    let tags = request["Tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(|t| {
                    Some((
                        t["Key"].as_str()?.to_owned(),
                        t["Value"].as_str().unwrap_or("").to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let log_uri = request["LogUri"].as_str().map(str::to_owned);
    let id = engine.create_cluster(name, log_uri, keep_alive, tags, new_steps(request)?);
    engine.remember_request(&id, request);
    Ok(
        json!({"JobFlowId": id, "ClusterArn": format!("arn:aws:elasticmapreduce:us-east-1:123456789012:cluster/{id}")}),
    )
}

fn list_clusters(engine: &EmrEngine, request: &Value) -> Result<Value, AwsError> {
    let states = string_list(request, "ClusterStates");
    let created_after = timestamp(request, "CreatedAfter")?;
    let created_before = timestamp(request, "CreatedBefore")?;
    let clusters: Vec<Value> = engine
        .clusters()
        .iter()
        .rev()
        .filter(|c| states.is_empty() || states.contains(&c.state))
        .filter(|c| created_after.is_none_or(|after| epoch(c.created) >= after))
        .filter(|c| created_before.is_none_or(|before| epoch(c.created) <= before))
        .map(|c| c.summary_json())
        .collect();
    page(clusters, request, "Clusters")
}

/// EMR's lists come 50 to a page; `Marker` is where the next page starts.
const PAGE: usize = 50;

fn page(items: Vec<Value>, request: &Value, member: &str) -> Result<Value, AwsError> {
    let start = match request["Marker"].as_str() {
        None => 0,
        Some(marker) => marker
            .parse::<usize>()
            .ok()
            .filter(|start| *start <= items.len())
            .ok_or_else(|| invalid(format!("Marker '{marker}' is not valid.")))?,
    };
    let end = (start + PAGE).min(items.len());
    let mut answer = json!({member: items[start..end]});
    if end < items.len() {
        answer["Marker"] = json!(end.to_string());
    }
    Ok(answer)
}

/// A timestamp member as the SDKs send it in AWS JSON: epoch seconds.
fn timestamp(request: &Value, member: &str) -> Result<Option<f64>, AwsError> {
    match &request[member] {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(n.as_f64()),
        other => Err(AwsError::validation(format!(
            "{member} {other} is not a timestamp in epoch seconds, as the AWS SDKs send it"
        ))),
    }
}
