//! One attempt of one step: its arguments evaluated, then the work of its type.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::watch;

use super::definition::{OutputDecl, StepDef, StepKind};
use super::expressions::{text, typed, Context, EvalError};
use super::runner::{EmrStepEnd, StepRunner};
use super::store::{Pipelines, StepRecord};
use super::CallbackState;

/// A Callback step waits at most this long, as in SageMaker.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// After the Stopping message, how long a Callback step waits for its report.
const STOPPING_TIMEOUT: Duration = Duration::from_secs(300);
/// `Std:JsonGet` objects one evaluation may fetch, so a bad definition cannot loop.
const MAX_OBJECTS: usize = 100;

/// How one attempt of a step ended.
#[derive(Clone, Debug, PartialEq)]
pub enum StepEnd {
    Succeeded {
        /// What later steps read: `Steps.<name>.<path>`.
        properties: Value,
        /// A Condition step's outcome.
        outcome: Option<bool>,
    },
    Failed {
        reason: String,
        /// The retry policies' exception type this failure is, when it is transient
        /// (`Step.THROTTLING`, `Step.SERVICE_FAULT`).
        fault: Option<&'static str>,
    },
    Stopped(String),
}

impl StepEnd {
    pub fn failed(reason: impl Into<String>) -> Self {
        Self::Failed {
            reason: reason.into(),
            fault: None,
        }
    }
}

pub struct StepTask {
    pub pipelines: Arc<Pipelines>,
    pub runner: Arc<dyn StepRunner>,
    pub arn: String,
    pub step: StepDef,
    pub context: Context,
    pub stop: watch::Receiver<bool>,
    /// Which attempt at the step this is, from 1 (RetryPolicies make more).
    pub attempt: u32,
}

impl StepTask {
    /// Reads this step's own record in its execution.
    pub fn read_record<T>(&self, read: impl FnOnce(&StepRecord) -> T) -> Option<T> {
        self.pipelines
            .read_execution(&self.arn, |e| {
                e.steps.iter().find(|s| s.name == self.step.name).map(read)
            })
            .flatten()
    }

    pub fn set_metadata(&self, metadata: Value) {
        self.pipelines
            .update_step(&self.arn, &self.step.name, |r| r.metadata = metadata);
    }

    /// Evaluates a value, fetching the S3 objects `Std:JsonGet` reads.
    pub async fn evaluate(&mut self, value: &Value) -> Result<Value, String> {
        for _ in 0..MAX_OBJECTS {
            match self.context.evaluate(value) {
                Ok(value) => return Ok(value),
                Err(EvalError::Failed(reason)) => return Err(reason),
                Err(EvalError::NeedsObject { uri, property_file }) => {
                    let text = self.runner.read_s3_object(&uri).await.map_err(|e| {
                        match property_file {
                            Some((step, name)) => format!(
                                "property file '{name}' of step '{step}': no mock gives it (\"PropertyFiles\": {{\"{name}\": ...}} of step '{step}' in the mock file) and the local S3 has no object {uri}: {e}"
                            ),
                            None => format!("Std:JsonGet could not read {uri}: {e}"),
                        }
                    })?;
                    self.context.documents.insert(uri, text);
                }
            }
        }
        Err(format!("Std:JsonGet reads more than {MAX_OBJECTS} objects"))
    }

    /// The step's arguments, every reference resolved.
    pub async fn inputs(&mut self) -> Result<Value, String> {
        if let StepKind::Condition { .. } | StepKind::ForEach(_) = self.step.kind {
            // Its conditions are read when it runs; its branches are steps of their own.
            // A ForEach step reads its items when it runs; its body, per item.
            return Ok(json!({}));
        }
        let arguments = self.step.arguments.clone();
        self.evaluate(&arguments).await
    }

    /// Runs the step's work on evaluated inputs.
    pub async fn run(&mut self, inputs: Value) -> StepEnd {
        match self.step.kind.clone() {
            StepKind::Callback { queue_url, outputs } => {
                self.callback(&queue_url, &outputs, inputs).await
            }
            StepKind::Lambda {
                function_arn,
                outputs,
            } => self.lambda(&function_arn, &outputs, inputs).await,
            StepKind::Emr => self.emr(inputs).await,
            StepKind::Condition { conditions, .. } => self.condition(&conditions).await,
            StepKind::ForEach(for_each) => self.for_each(&for_each).await,
            StepKind::Cleanup => self.cleanup(&inputs).await,
            StepKind::Job {
                step_type,
                property_files,
            } => {
                // Members beside the Arguments (a check step's baselines and flags)
                // resolve like the arguments do.
                let fields = self.step.fields.clone();
                match self.evaluate(&fields).await {
                    Ok(fields) => self.job(&step_type, &property_files, inputs, &fields).await,
                    Err(reason) => StepEnd::failed(reason),
                }
            }
            StepKind::Fail => {
                let message = text(&inputs["ErrorMessage"]);
                self.set_metadata(json!({"Fail": {"ErrorMessage": message}}));
                StepEnd::failed(message)
            }
        }
    }

    async fn condition(&mut self, conditions: &[Value]) -> StepEnd {
        let mut outcome = true;
        for condition in conditions {
            // Evaluating the condition first fetches the objects its JsonGets read.
            if let Err(reason) = self.evaluate(condition).await {
                return StepEnd::failed(reason);
            }
            let holds = match self.context.holds(condition) {
                Ok(holds) => holds,
                Err(EvalError::Failed(reason)) => return StepEnd::failed(reason),
                Err(EvalError::NeedsObject { uri, .. }) => {
                    return StepEnd::failed(format!("Std:JsonGet could not read {uri}"))
                }
            };
            outcome &= holds;
        }
        self.set_metadata(
            json!({"Condition": {"Outcome": if outcome { "True" } else { "False" }}}),
        );
        StepEnd::Succeeded {
            properties: json!({"Outcome": outcome}),
            outcome: Some(outcome),
        }
    }

    async fn emr(&self, inputs: Value) -> StepEnd {
        match self
            .runner
            .run_emr_step(&self.step.name, &inputs, self.stop.clone())
            .await
        {
            EmrStepEnd::Completed { metadata, step } => {
                self.set_metadata(json!({"EMR": metadata}));
                StepEnd::Succeeded {
                    properties: step,
                    outcome: None,
                }
            }
            EmrStepEnd::Failed {
                reason,
                fault,
                metadata,
            } => {
                self.set_metadata(json!({"EMR": metadata}));
                StepEnd::Failed { reason, fault }
            }
            EmrStepEnd::Stopped { metadata } => {
                self.set_metadata(json!({"EMR": metadata}));
                StepEnd::Stopped("EMR step cancelled: pipeline execution stopped".to_owned())
            }
        }
    }

    async fn callback(&self, queue_url: &str, declared: &[OutputDecl], inputs: Value) -> StepEnd {
        let callbacks = self.runner.callbacks();
        let token = new_token();
        callbacks.register_for(&token, &self.arn);
        self.set_metadata(json!({"Callback": {"CallbackToken": token, "SqsQueueUrl": queue_url}}));
        let mut body =
            json!({"token": token, "pipelineExecutionArn": self.arn, "arguments": inputs});
        let sent = body.clone();
        self.pipelines
            .update_step(&self.arn, &self.step.name, |r| r.message = Some(sent));
        if let Err(reason) = self.runner.send_callback_message(queue_url, &body).await {
            return StepEnd::failed(format!("could not send the callback message: {reason}"));
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
                    Err(reason) => return StepEnd::failed(reason),
                };
                self.set_metadata(
                    json!({"Callback": {"CallbackToken": token, "SqsQueueUrl": queue_url,
                    "OutputParameters": output_list(&typed_outputs)}}),
                );
                StepEnd::Succeeded {
                    properties: json!({ "OutputParameters": typed_outputs }),
                    outcome: None,
                }
            }
            Some(CallbackState::Failed { reason, .. }) => StepEnd::failed(reason),
            Some(CallbackState::Waiting) | None => StepEnd::failed("the callback step timed out"),
        }
    }

    async fn lambda(&self, function_arn: &str, declared: &[OutputDecl], inputs: Value) -> StepEnd {
        let answer = match self.runner.invoke_lambda(function_arn, &inputs).await {
            Ok(answer) => answer,
            Err(reason) => return StepEnd::failed(reason),
        };
        let returned: BTreeMap<String, Value> = match answer {
            Value::Object(map) => map.into_iter().collect(),
            other => {
                return StepEnd::failed(format!("the function returned {other}, not a JSON object"))
            }
        };
        match typed_outputs(declared, &returned, true) {
            Ok(outputs) => {
                self.set_metadata(json!({"Lambda": {"Arn": function_arn, "OutputParameters": output_list(&outputs)}}));
                StepEnd::Succeeded {
                    properties: json!({ "OutputParameters": outputs }),
                    outcome: None,
                }
            }
            Err(reason) => StepEnd::failed(reason),
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
