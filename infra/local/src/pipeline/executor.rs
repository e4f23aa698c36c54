//! Runs an execution: steps start when what they wait for succeeded (DependsOn, data
//! dependencies, their condition's branch), at most ParallelismConfiguration at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::definition::{Definition, OutputDecl, StepDef, StepKind};
use super::expressions::{text, typed, Context};
use super::store::{Pipelines, StepRecord};
use crate::sagemaker::{CallbackState, Callbacks};

/// SageMaker's default cap on the steps of one execution that run at once.
const DEFAULT_MAX_PARALLEL: usize = 50;
/// A Callback step waits at most this long, as in SageMaker.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// After the Stopping message, how long a Callback step waits for its report.
const STOPPING_TIMEOUT: Duration = Duration::from_secs(300);

/// How an EMR step ended.
#[derive(Clone, Debug, PartialEq)]
pub enum EmrStepEnd {
    Completed(Value),
    Failed(String, Value),
    Stopped(Value),
}

/// The outside systems the steps use; the local stack provides them.
#[async_trait]
pub trait StepRunner: Send + Sync {
    fn callbacks(&self) -> Arc<Callbacks>;
    /// Puts a Callback step's message on the queue its SqsQueueUrl names.
    async fn send_callback_message(&self, queue_url: &str, body: &Value) -> Result<(), String>;
    /// Invokes the function a FunctionArn names; an error is the step's failure reason.
    async fn invoke_lambda(&self, function_arn: &str, inputs: &Value) -> Result<Value, String>;
    /// Runs an EMR step until it ends, or until `stop` turns true.
    async fn run_emr_step(
        &self,
        step_name: &str,
        arguments: &Value,
        stop: watch::Receiver<bool>,
    ) -> EmrStepEnd;
}

#[derive(Clone, Debug, PartialEq)]
enum StepEnd {
    Succeeded {
        outputs: BTreeMap<String, Value>,
        outcome: Option<bool>,
    },
    Failed(String),
    Stopped(String),
}

#[derive(Clone, Debug, PartialEq)]
enum Progress {
    NotStarted,
    Running,
    Succeeded(Option<bool>),
    Failed,
    Stopped,
    Skipped,
}

/// Starts an execution of a stored pipeline; answers its ARN.
pub fn start_execution(
    pipelines: &Arc<Pipelines>,
    pipeline_name: &str,
    overrides: &[(String, String)],
    max_parallel: Option<usize>,
) -> Result<String, String> {
    let pipeline = pipelines
        .pipeline(pipeline_name)
        .ok_or_else(|| format!("Pipeline {pipeline_name} does not exist"))?;
    let runner = pipelines
        .runner()
        .ok_or("this SageMaker endpoint runs no steps: start it with the local stack")?;
    let definition = pipeline.definition.clone();
    for (name, _) in overrides {
        if !definition.parameters.iter().any(|p| &p.name == name) {
            return Err(format!("the pipeline declares no parameter '{name}'"));
        }
    }
    let mut parameters = BTreeMap::new();
    for parameter in &definition.parameters {
        let value = match overrides.iter().find(|(n, _)| n == &parameter.name) {
            Some((_, raw)) => typed(&parameter.kind, raw)
                .map_err(|e| format!("parameter '{}': {e}", parameter.name))?,
            None => parameter.default.clone().ok_or_else(|| {
                format!(
                    "parameter '{}' has no default and no value was given",
                    parameter.name
                )
            })?,
        };
        parameters.insert(parameter.name.clone(), value);
    }
    let (arn, stop) = pipelines.new_execution(&pipeline, parameters.clone());
    let mut context = Context {
        parameters,
        ..Context::default()
    };
    let id = arn.rsplit('/').next().unwrap_or_default().to_owned();
    for (key, value) in [
        ("PipelineExecutionId", id),
        ("PipelineExecutionArn", arn.clone()),
        ("PipelineName", pipeline.name.clone()),
        ("PipelineArn", pipeline.arn.clone()),
        ("StartDateTime", chrono::Utc::now().to_rfc3339()),
    ] {
        context
            .execution
            .insert(key.to_owned(), Value::String(value));
    }
    let limit = max_parallel
        .or(pipeline.max_parallel)
        .unwrap_or(DEFAULT_MAX_PARALLEL)
        .max(1);
    tokio::spawn(run(
        pipelines.clone(),
        runner,
        arn.clone(),
        definition,
        context,
        limit,
        stop,
    ));
    Ok(arn)
}

async fn run(
    pipelines: Arc<Pipelines>,
    runner: Arc<dyn StepRunner>,
    arn: String,
    definition: Definition,
    mut context: Context,
    limit: usize,
    mut stop: watch::Receiver<bool>,
) {
    let mut progress: BTreeMap<String, Progress> = definition
        .steps
        .iter()
        .map(|s| (s.name.clone(), Progress::NotStarted))
        .collect();
    let mut running = JoinSet::new();
    let mut first_failure: Option<String> = None;
    loop {
        let stopping = *stop.borrow();
        // Skip what can no longer run: the other branch of a condition, and what
        // depends on a skipped step.
        loop {
            let skipped: Vec<String> = definition
                .steps
                .iter()
                .filter(|s| progress[&s.name] == Progress::NotStarted && is_skipped(s, &progress))
                .map(|s| s.name.clone())
                .collect();
            if skipped.is_empty() {
                break;
            }
            skipped.into_iter().for_each(|name| {
                progress.insert(name, Progress::Skipped);
            });
        }
        if !stopping && first_failure.is_none() {
            for step in &definition.steps {
                if running.len() >= limit {
                    break;
                }
                if progress[&step.name] != Progress::NotStarted || !is_ready(step, &progress) {
                    continue;
                }
                progress.insert(step.name.clone(), Progress::Running);
                pipelines.update_execution(&arn, |e| {
                    e.steps.push(StepRecord {
                        name: step.name.clone(),
                        step_type: step.kind.type_name().to_owned(),
                        status: "Executing".to_owned(),
                        started: SystemTime::now(),
                        ended: None,
                        failure_reason: None,
                        metadata: json!({}),
                    })
                });
                let task = StepTask {
                    pipelines: pipelines.clone(),
                    runner: runner.clone(),
                    arn: arn.clone(),
                    step: step.clone(),
                    context: context.clone(),
                    stop: stop.clone(),
                };
                running.spawn(async move {
                    let end = task.run().await;
                    (task.step.name.clone(), end)
                });
            }
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            joined = running.join_next() => {
                let Some(Ok((name, end))) = joined else { continue };
                let (status, reason) = match &end {
                    StepEnd::Succeeded { outputs, outcome } => {
                        context.outputs.insert(name.clone(), outputs.clone());
                        progress.insert(name.clone(), Progress::Succeeded(*outcome));
                        ("Succeeded", None)
                    }
                    StepEnd::Failed(reason) => {
                        progress.insert(name.clone(), Progress::Failed);
                        first_failure.get_or_insert_with(|| match definition.step(&name).map(|s| &s.kind) {
                            Some(StepKind::Fail) => reason.clone(),
                            _ => format!("Step '{name}' failed: {reason}"),
                        });
                        ("Failed", Some(reason.clone()))
                    }
                    StepEnd::Stopped(reason) => {
                        progress.insert(name.clone(), Progress::Stopped);
                        ("Stopped", Some(reason.clone()))
                    }
                };
                pipelines.update_step(&arn, &name, |record| {
                    record.status = status.to_owned();
                    record.ended = Some(SystemTime::now());
                    record.failure_reason = reason;
                });
            }
            _ = stop.changed(), if !stopping => {}
        }
    }
    let stopped = *stop.borrow();
    pipelines.update_execution(&arn, |e| {
        (e.status, e.failure_reason) = match (&first_failure, stopped) {
            (_, true) => ("Stopped".to_owned(), None),
            (Some(reason), false) => ("Failed".to_owned(), Some(reason.clone())),
            (None, false) => ("Succeeded".to_owned(), None),
        };
    });
}

fn is_skipped(step: &StepDef, progress: &BTreeMap<String, Progress>) -> bool {
    if let Some((condition, branch)) = &step.gate {
        match progress.get(condition) {
            Some(Progress::Succeeded(Some(outcome))) if outcome != branch => return true,
            Some(Progress::Skipped) => return true,
            _ => {}
        }
    }
    step.prerequisites()
        .iter()
        .any(|p| progress.get(p) == Some(&Progress::Skipped))
}

fn is_ready(step: &StepDef, progress: &BTreeMap<String, Progress>) -> bool {
    step.prerequisites().iter().all(|p| match progress.get(p) {
        Some(Progress::Succeeded(outcome)) => match &step.gate {
            Some((condition, branch)) if condition == p => *outcome == Some(*branch),
            _ => true,
        },
        _ => false,
    })
}

struct StepTask {
    pipelines: Arc<Pipelines>,
    runner: Arc<dyn StepRunner>,
    arn: String,
    step: StepDef,
    context: Context,
    stop: watch::Receiver<bool>,
}

impl StepTask {
    fn set_metadata(&self, metadata: Value) {
        self.pipelines
            .update_step(&self.arn, &self.step.name, |r| r.metadata = metadata);
    }

    async fn run(&self) -> StepEnd {
        let inputs = match self.context.evaluate(&self.step.arguments) {
            Ok(inputs) => inputs,
            Err(reason) => return StepEnd::Failed(reason),
        };
        match &self.step.kind {
            StepKind::Callback { queue_url, outputs } => {
                self.callback(queue_url, outputs, inputs).await
            }
            StepKind::Lambda {
                function_arn,
                outputs,
            } => self.lambda(function_arn, outputs, inputs).await,
            StepKind::Emr => match self
                .runner
                .run_emr_step(&self.step.name, &inputs, self.stop.clone())
                .await
            {
                EmrStepEnd::Completed(metadata) => {
                    self.set_metadata(json!({"EMR": metadata}));
                    StepEnd::Succeeded {
                        outputs: BTreeMap::new(),
                        outcome: None,
                    }
                }
                EmrStepEnd::Failed(reason, metadata) => {
                    self.set_metadata(json!({"EMR": metadata}));
                    StepEnd::Failed(reason)
                }
                EmrStepEnd::Stopped(metadata) => {
                    self.set_metadata(json!({"EMR": metadata}));
                    StepEnd::Stopped("EMR step cancelled: pipeline execution stopped".to_owned())
                }
            },
            StepKind::Condition { conditions, .. } => {
                let mut outcome = true;
                for condition in conditions {
                    match self.context.holds(condition) {
                        Ok(holds) => outcome &= holds,
                        Err(reason) => return StepEnd::Failed(reason),
                    }
                }
                self.set_metadata(
                    json!({"Condition": {"Outcome": if outcome { "True" } else { "False" }}}),
                );
                StepEnd::Succeeded {
                    outputs: BTreeMap::new(),
                    outcome: Some(outcome),
                }
            }
            StepKind::Fail => {
                let message = text(&inputs["ErrorMessage"]);
                self.set_metadata(json!({"Fail": {"ErrorMessage": message}}));
                StepEnd::Failed(message)
            }
        }
    }

    async fn callback(&self, queue_url: &str, declared: &[OutputDecl], inputs: Value) -> StepEnd {
        let callbacks = self.runner.callbacks();
        let token = new_token();
        callbacks.register(&token);
        self.set_metadata(json!({"Callback": {"CallbackToken": token, "SqsQueueUrl": queue_url}}));
        let mut body =
            json!({"token": token, "pipelineExecutionArn": self.arn, "arguments": inputs});
        if let Err(reason) = self.runner.send_callback_message(queue_url, &body).await {
            return StepEnd::Failed(format!("could not send the callback message: {reason}"));
        }
        let mut stop = self.stop.clone();
        let state = tokio::select! {
            state = callbacks.wait_for_report(&token, CALLBACK_TIMEOUT) => state,
            _ = async { drop(stop.wait_for(|stopping| *stopping).await) } => {
                body["status"] = json!("Stopping");
                if let Err(reason) = self.runner.send_callback_message(queue_url, &body).await {
                    return StepEnd::Stopped(format!("could not send the Stopping message: {reason}"));
                }
                let reason = match callbacks.wait_for_report(&token, STOPPING_TIMEOUT).await {
                    Some(CallbackState::Failed { reason, .. }) => reason,
                    Some(_) => "stopped after the step reported success".to_owned(),
                    None => "no report after the Stopping message".to_owned(),
                };
                return StepEnd::Stopped(reason);
            }
        };
        match state {
            Some(CallbackState::Succeeded { outputs, .. }) => {
                let reported: BTreeMap<String, Value> = outputs
                    .into_iter()
                    .map(|(name, value)| (name, Value::String(value)))
                    .collect();
                let typed_outputs = match typed_outputs(declared, &reported, false) {
                    Ok(outputs) => outputs,
                    Err(reason) => return StepEnd::Failed(reason),
                };
                self.set_metadata(
                    json!({"Callback": {"CallbackToken": token, "SqsQueueUrl": queue_url,
                    "OutputParameters": output_list(&typed_outputs)}}),
                );
                StepEnd::Succeeded {
                    outputs: typed_outputs,
                    outcome: None,
                }
            }
            Some(CallbackState::Failed { reason, .. }) => StepEnd::Failed(reason),
            Some(CallbackState::Waiting) | None => {
                StepEnd::Failed("the callback step timed out".to_owned())
            }
        }
    }

    async fn lambda(&self, function_arn: &str, declared: &[OutputDecl], inputs: Value) -> StepEnd {
        let answer = match self.runner.invoke_lambda(function_arn, &inputs).await {
            Ok(answer) => answer,
            Err(reason) => return StepEnd::Failed(reason),
        };
        let returned: BTreeMap<String, Value> = match answer {
            Value::Object(map) => map.into_iter().collect(),
            other => {
                return StepEnd::Failed(format!("the function returned {other}, not a JSON object"))
            }
        };
        match typed_outputs(declared, &returned, true) {
            Ok(outputs) => {
                self.set_metadata(json!({"Lambda": {"Arn": function_arn, "OutputParameters": output_list(&outputs)}}));
                StepEnd::Succeeded {
                    outputs,
                    outcome: None,
                }
            }
            Err(reason) => StepEnd::Failed(reason),
        }
    }
}

/// The declared outputs, typed by OutputType. `required`: a declared output missing
/// from the answer fails the step.
fn typed_outputs(
    declared: &[OutputDecl],
    answer: &BTreeMap<String, Value>,
    required: bool,
) -> Result<BTreeMap<String, Value>, String> {
    let mut outputs = BTreeMap::new();
    for output in declared {
        let Some(value) = answer.get(&output.name) else {
            if required {
                return Err(format!(
                    "no output '{}' in the answer, though OutputParameters declares it",
                    output.name
                ));
            }
            continue;
        };
        let value = typed(&output.kind, &text(value))
            .map_err(|e| format!("output '{}': {e}", output.name))?;
        outputs.insert(output.name.clone(), value);
    }
    Ok(outputs)
}

fn output_list(outputs: &BTreeMap<String, Value>) -> Value {
    Value::Array(
        outputs
            .iter()
            .map(|(name, value)| json!({"Name": name, "Value": text(value)}))
            .collect(),
    )
}

/// A fresh callback token: 10 characters of `[a-zA-Z0-9]`.
fn new_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(NEXT.fetch_add(1, Ordering::SeqCst));
    let mut bits = hasher.finish();
    (0..10)
        .map(|_| {
            let c = ALPHABET[(bits % 62) as usize] as char;
            bits /= 62;
            c
        })
        .collect()
}
