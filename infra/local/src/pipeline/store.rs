//! Pipelines and their executions, as the SageMaker API shows them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use serde_json::{json, Value};
use tokio::sync::watch;

use super::definition::Definition;
use super::executor::StepRunner;

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

#[derive(Clone, Debug)]
pub struct PipelineRecord {
    pub name: String,
    pub arn: String,
    pub definition_text: String,
    pub definition: Definition,
    pub max_parallel: Option<usize>,
    pub created: SystemTime,
    pub modified: SystemTime,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StepRecord {
    pub name: String,
    pub step_type: String,
    /// Starting, Executing, Stopping, Stopped, Failed or Succeeded.
    pub status: String,
    pub started: SystemTime,
    pub ended: Option<SystemTime>,
    pub failure_reason: Option<String>,
    /// The API's Metadata, e.g. `{"Callback": {"CallbackToken": ...}}`.
    pub metadata: Value,
}

#[derive(Clone, Debug)]
pub struct ExecutionRecord {
    pub arn: String,
    pub pipeline_name: String,
    pub pipeline_arn: String,
    /// Executing, Stopping, Stopped, Failed or Succeeded.
    pub status: String,
    pub failure_reason: Option<String>,
    pub created: SystemTime,
    pub modified: SystemTime,
    pub steps: Vec<StepRecord>,
    pub parameters: BTreeMap<String, Value>,
}

impl ExecutionRecord {
    pub fn is_done(&self) -> bool {
        matches!(self.status.as_str(), "Stopped" | "Failed" | "Succeeded")
    }
}

pub fn epoch(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

impl StepRecord {
    pub fn to_json(&self) -> Value {
        let mut step = json!({
            "StepName": self.name,
            "StepDisplayName": self.name,
            "StepStatus": self.status,
            "StartTime": epoch(self.started),
            "Metadata": self.metadata,
            "AttemptCount": 1,
        });
        if let Some(end) = self.ended {
            step["EndTime"] = json!(epoch(end));
        }
        if let Some(reason) = &self.failure_reason {
            step["FailureReason"] = json!(reason);
        }
        step
    }
}

/// Every pipeline and execution of the local SageMaker, with a change counter that
/// waiters (the CLI's live view, tests) watch instead of polling.
pub struct Pipelines {
    pipelines: Mutex<BTreeMap<String, PipelineRecord>>,
    executions: Mutex<BTreeMap<String, ExecutionRecord>>,
    stops: Mutex<HashMap<String, watch::Sender<bool>>>,
    changes: watch::Sender<u64>,
    runner: OnceLock<Arc<dyn StepRunner>>,
    next_id: Mutex<u64>,
}

impl Default for Pipelines {
    fn default() -> Self {
        Self {
            pipelines: Mutex::default(),
            executions: Mutex::default(),
            stops: Mutex::default(),
            changes: watch::channel(0).0,
            runner: OnceLock::new(),
            next_id: Mutex::new(0),
        }
    }
}

impl Pipelines {
    /// Connects the stack that runs the steps; until then executions cannot start.
    pub fn attach_runner(&self, runner: Arc<dyn StepRunner>) {
        let _ = self.runner.set(runner);
    }

    pub fn runner(&self) -> Option<Arc<dyn StepRunner>> {
        self.runner.get().cloned()
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub(super) fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    pub fn put_pipeline(
        &self,
        name: &str,
        text: &str,
        max_parallel: Option<usize>,
        replace: bool,
    ) -> Result<String, String> {
        let definition = Definition::parse(text)?;
        let mut pipelines = self.pipelines.lock().unwrap();
        let now = SystemTime::now();
        let arn = format!(
            "arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{}",
            name.to_lowercase()
        );
        match (pipelines.get_mut(name), replace) {
            (Some(_), false) => return Err(format!("Pipeline {name} already exists")),
            (None, true) => return Err(format!("Pipeline {name} does not exist")),
            (Some(existing), true) => {
                existing.definition_text = text.to_owned();
                existing.definition = definition;
                existing.max_parallel = max_parallel.or(existing.max_parallel);
                existing.modified = now;
            }
            (None, false) => {
                pipelines.insert(
                    name.to_owned(),
                    PipelineRecord {
                        name: name.to_owned(),
                        arn: arn.clone(),
                        definition_text: text.to_owned(),
                        definition,
                        max_parallel,
                        created: now,
                        modified: now,
                    },
                );
            }
        }
        Ok(arn)
    }

    pub fn pipeline(&self, name: &str) -> Option<PipelineRecord> {
        self.pipelines.lock().unwrap().get(name).cloned()
    }

    pub fn delete_pipeline(&self, name: &str) -> Option<PipelineRecord> {
        self.pipelines.lock().unwrap().remove(name)
    }

    pub(super) fn new_execution(
        &self,
        pipeline: &PipelineRecord,
        parameters: BTreeMap<String, Value>,
    ) -> (String, watch::Receiver<bool>) {
        let id = {
            let mut next = self.next_id.lock().unwrap();
            *next += 1;
            format!("{:012x}", *next ^ 0x5a5a_0000_0000)
        };
        let arn = format!("{}/execution/{id}", pipeline.arn);
        let now = SystemTime::now();
        self.executions.lock().unwrap().insert(
            arn.clone(),
            ExecutionRecord {
                arn: arn.clone(),
                pipeline_name: pipeline.name.clone(),
                pipeline_arn: pipeline.arn.clone(),
                status: "Executing".to_owned(),
                failure_reason: None,
                created: now,
                modified: now,
                steps: Vec::new(),
                parameters,
            },
        );
        let (stop, stopped) = watch::channel(false);
        self.stops.lock().unwrap().insert(arn.clone(), stop);
        self.changed();
        (arn, stopped)
    }

    pub fn execution(&self, arn: &str) -> Option<ExecutionRecord> {
        self.executions.lock().unwrap().get(arn).cloned()
    }

    pub fn executions_of(&self, pipeline: &str) -> Vec<ExecutionRecord> {
        let mut all: Vec<_> = self
            .executions
            .lock()
            .unwrap()
            .values()
            .filter(|e| e.pipeline_name == pipeline)
            .cloned()
            .collect();
        all.sort_by_key(|e| std::cmp::Reverse(e.created));
        all
    }

    pub(super) fn update_execution(&self, arn: &str, change: impl FnOnce(&mut ExecutionRecord)) {
        if let Some(execution) = self.executions.lock().unwrap().get_mut(arn) {
            change(execution);
            execution.modified = SystemTime::now();
        }
        self.changed();
    }

    pub(super) fn update_step(&self, arn: &str, step: &str, change: impl FnOnce(&mut StepRecord)) {
        self.update_execution(arn, |execution| {
            if let Some(record) = execution.steps.iter_mut().find(|s| s.name == step) {
                change(record);
            }
        });
    }

    /// Asks a running execution to stop. False when there is no such execution or it ended.
    pub fn request_stop(&self, arn: &str) -> Result<(), String> {
        let execution = self
            .execution(arn)
            .ok_or_else(|| format!("Pipeline execution {arn} does not exist"))?;
        if execution.is_done() {
            return Err(format!(
                "Pipeline execution {arn} is already {}",
                execution.status
            ));
        }
        if let Some(stop) = self.stops.lock().unwrap().get(arn) {
            let _ = stop.send(true);
        }
        self.update_execution(arn, |e| e.status = "Stopping".to_owned());
        Ok(())
    }

    /// Waits until the execution ended, or the deadline passed.
    pub async fn wait_until_done(
        &self,
        arn: &str,
        timeout: std::time::Duration,
    ) -> Option<ExecutionRecord> {
        let mut changes = self.subscribe();
        let done = async {
            loop {
                if let Some(execution) = self.execution(arn).filter(ExecutionRecord::is_done) {
                    return execution;
                }
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, done).await.ok()
    }
}
