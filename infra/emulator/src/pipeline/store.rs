//! Pipelines and their executions, as the SageMaker API shows them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use serde_json::{json, Value};
use tokio::sync::watch;

use super::cache::StepCache;
use super::definition::{Definition, StepDef};
use super::jobs::settings::JobSettings;
use super::runner::StepRunner;

pub use crate::{ACCOUNT, REGION};

/// What CreatePipeline and UpdatePipeline give.
#[derive(Clone, Debug, Default)]
pub struct PipelineSpec {
    /// `PipelineName`.
    pub name: String,
    /// `PipelineDefinition`, as given.
    pub definition_text: String,
    /// `PipelineDisplayName`.
    pub display_name: Option<String>,
    /// `PipelineDescription`.
    pub description: Option<String>,
    /// `RoleArn`.
    pub role_arn: Option<String>,
    /// `ParallelismConfiguration.MaxParallelExecutionSteps`.
    pub max_parallel: Option<usize>,
}

/// One version of a pipeline: CreatePipeline makes the first, each UpdatePipeline that
/// changes the definition the next.
#[derive(Clone, Debug)]
pub struct PipelineVersion {
    pub id: u64,
    pub definition_text: String,
    pub definition: Definition,
    pub created: SystemTime,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub last_execution_arn: Option<String>,
}

#[derive(Clone, Debug)]
pub struct PipelineRecord {
    pub name: String,
    pub arn: String,
    pub display_name: String,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub definition_text: String,
    pub definition: Definition,
    pub max_parallel: Option<usize>,
    pub created: SystemTime,
    pub modified: SystemTime,
    pub last_execution: Option<SystemTime>,
    /// Every version, oldest first; the last is the pipeline's definition above.
    pub versions: Vec<PipelineVersion>,
}

impl PipelineRecord {
    /// The newest version's id.
    pub fn latest_version(&self) -> u64 {
        self.versions.last().map_or(1, |v| v.id)
    }

    /// A version by id.
    pub fn version(&self, id: u64) -> Option<&PipelineVersion> {
        self.versions.iter().find(|v| v.id == id)
    }
}

fn new_version(
    id: u64,
    definition_text: &str,
    definition: &Definition,
    now: SystemTime,
) -> PipelineVersion {
    PipelineVersion {
        id,
        definition_text: definition_text.to_owned(),
        definition: definition.clone(),
        created: now,
        display_name: None,
        description: None,
        last_execution_arn: None,
    }
}

/// What an execution starts with, besides its pipeline.
#[derive(Clone, Debug, Default)]
pub struct NewExecution {
    pub parameters: BTreeMap<String, Value>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub max_parallel: usize,
    /// The pipeline version it runs.
    pub version_id: u64,
    /// `SelectiveExecutionConfig` as DescribePipelineExecution shows it.
    pub selective_config: Option<Value>,
    /// The steps a selective execution neither runs nor reuses.
    pub excluded: Vec<String>,
    /// `MLflowConfig` as DescribePipelineExecution shows it.
    pub mlflow_config: Option<Value>,
}

/// One step of an execution, as ListPipelineExecutionSteps shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct StepRecord {
    /// `StepName`.
    pub name: String,
    /// `StepDisplayName`.
    pub display_name: Option<String>,
    /// `StepDescription`.
    pub description: Option<String>,
    /// The definition's `Type` (Processing, Callback, ...).
    pub step_type: String,
    /// Starting, Executing, Stopping, Stopped, Failed or Succeeded.
    pub status: String,
    /// `StartTime`.
    pub started: SystemTime,
    /// `EndTime`, once it ended.
    pub ended: Option<SystemTime>,
    /// `FailureReason`, when it failed.
    pub failure_reason: Option<String>,
    /// The API's Metadata, e.g. `{"Callback": {"CallbackToken": ...}}`.
    pub metadata: Value,
    /// Attempts so far, RetryPolicies' retries included.
    pub attempts: u32,
    /// The execution whose result a cache hit reused.
    pub cache_hit: Option<String>,
    /// What later steps read of a step that succeeded (`Steps.<name>.<path>`): a job's
    /// Describe* answer, a Lambda or Callback step's outputs, a Condition's outcome.
    pub properties: Option<Value>,
    /// A Condition step's outcome.
    pub outcome: Option<bool>,
    /// The execution whose result a selective execution reused for this step.
    pub selective_source: Option<String>,
    /// How a job step ran under `--run-code`: its code, or its mock and why.
    pub code_run: Option<String>,
    /// A job step's job as its Describe* call answers (DescribeTrainingJob, ...), from
    /// the moment it starts, its status kept current.
    pub job: Option<Value>,
    /// A ForEach child's `IterationContext`: its ForEach step, index and item.
    pub iteration: Option<Value>,
    /// The arguments the step received, every reference resolved (what the view shows).
    pub inputs: Option<Value>,
    /// The message a Callback step put on its queue.
    pub message: Option<Value>,
}

/// One pipeline execution, as DescribePipelineExecution and its steps show it.
#[derive(Clone, Debug)]
pub struct ExecutionRecord {
    /// `PipelineExecutionArn`.
    pub arn: String,
    /// The pipeline's name.
    pub pipeline_name: String,
    /// `PipelineArn`.
    pub pipeline_arn: String,
    /// `PipelineExecutionDisplayName` (its id when none was given).
    pub display_name: String,
    /// `PipelineExecutionDescription`.
    pub description: Option<String>,
    /// The definition as it was when the execution started.
    pub definition_text: String,
    /// At most this many steps run at once.
    pub max_parallel: usize,
    /// The pipeline version it runs.
    pub version_id: u64,
    /// `SelectiveExecutionConfig`, as StartPipelineExecution gave it.
    pub selective_config: Option<Value>,
    /// The steps a selective execution neither runs nor reuses.
    pub excluded: Vec<String>,
    /// `MLflowConfig`: the definition's, with the start's experiment name.
    pub mlflow_config: Option<Value>,
    /// StartPipelineExecution's `RoleArn`.
    pub role_arn: Option<String>,
    /// PipelineExperimentConfig, evaluated.
    pub experiment_config: Option<Value>,
    /// Executing, Stopping, Stopped, Failed or Succeeded.
    pub status: String,
    /// SageMaker's own words for a failed execution (`Step failure: One or multiple
    /// steps failed.`), whatever the step said.
    pub failure_reason: Option<String>,
    /// What the first step to fail said (a Fail step's message, or `Step 'X' failed:
    /// ...`): the live view ends with it. Not an answer of the API.
    pub failed_step: Option<String>,
    /// `CreationTime`.
    pub created: SystemTime,
    /// `LastModifiedTime`.
    pub modified: SystemTime,
    /// The steps that started, in the order they started.
    pub steps: Vec<StepRecord>,
    /// Step name → its place in `steps`, so an update does not search them.
    step_index: HashMap<String, usize>,
    /// Every parameter's value: the start's overrides over the definition's defaults.
    pub parameters: BTreeMap<String, Value>,
}

impl ExecutionRecord {
    /// Records a step that started.
    pub fn push_step(&mut self, record: StepRecord) {
        self.step_index
            .insert(record.name.clone(), self.steps.len());
        self.steps.push(record);
    }

    /// The record of a step that started.
    pub fn step_mut(&mut self, name: &str) -> Option<&mut StepRecord> {
        let at = *self.step_index.get(name)?;
        self.steps.get_mut(at)
    }

    /// An execution with no steps, for unit tests of what reads executions.
    #[cfg(test)]
    pub fn for_tests(pipeline_arn: &str, arn: &str, status: &str) -> Self {
        let now = SystemTime::now();
        Self {
            arn: arn.to_owned(),
            pipeline_name: "p".to_owned(),
            pipeline_arn: pipeline_arn.to_owned(),
            display_name: "e".to_owned(),
            description: None,
            definition_text: String::new(),
            max_parallel: 50,
            version_id: 1,
            selective_config: None,
            excluded: Vec::new(),
            mlflow_config: None,
            role_arn: None,
            experiment_config: None,
            status: status.to_owned(),
            failure_reason: None,
            failed_step: None,
            created: now,
            modified: now,
            steps: Vec::new(),
            step_index: HashMap::new(),
            parameters: BTreeMap::new(),
        }
    }

    /// Whether it ended (Stopped, Failed or Succeeded).
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
    /// A step that starts executing now.
    pub fn started(step: &StepDef) -> Self {
        Self {
            name: step.name.clone(),
            display_name: step.display_name.clone(),
            description: step.description.clone(),
            step_type: step.kind.type_name().to_owned(),
            status: "Executing".to_owned(),
            started: SystemTime::now(),
            ended: None,
            failure_reason: None,
            metadata: json!({}),
            attempts: 1,
            cache_hit: None,
            properties: None,
            outcome: None,
            selective_source: None,
            code_run: None,
            job: None,
            iteration: None,
            inputs: None,
            message: None,
        }
    }

    /// The step as ListPipelineExecutionSteps shows it.
    pub fn to_json(&self) -> Value {
        let mut step = json!({
            "StepName": self.name,
            "StepDisplayName": self.display_name.as_deref().unwrap_or(&self.name),
            "StepStatus": self.status,
            "StartTime": epoch(self.started),
            "Metadata": self.metadata,
            "AttemptCount": self.attempts,
        });
        if let Some(description) =
            step_description(self.description.as_deref(), self.code_run.as_deref())
        {
            step["StepDescription"] = json!(description);
        }
        if let Some(source) = &self.cache_hit {
            step["CacheHitResult"] = json!({"SourcePipelineExecutionArn": source});
        }
        if let Some(source) = &self.selective_source {
            step["SelectiveExecutionResult"] = json!({"SourcePipelineExecutionArn": source});
        }
        if let Some(end) = self.ended {
            step["EndTime"] = json!(epoch(end));
        }
        if let Some(reason) = &self.failure_reason {
            step["FailureReason"] = json!(reason);
        }
        if let Some(iteration) = &self.iteration {
            step["IterationContext"] = iteration.clone();
        }
        step
    }
}

/// A step's StepDescription: its definition's, and under `--run-code`, when the step
/// stayed on its mock, why (its `code_run` note), for StepDescription is the one member
/// of a step's ListPipelineExecutionSteps entry that the SDK's `list_steps()` passes on
/// and that can say it. Within the 3072 characters the member takes.
fn step_description(description: Option<&str>, code_run: Option<&str>) -> Option<String> {
    let mocked = code_run
        .filter(|note| note.starts_with("mocked:"))
        .map(|note| format!("pipelines-emulator: {note}"));
    let mut text = match (description, mocked) {
        (Some(description), Some(note)) => format!("{description} ({note})"),
        (Some(description), None) => description.to_owned(),
        (None, note) => note?,
    };
    if let Some((cut, _)) = text.char_indices().nth(3072) {
        text.truncate(cut);
    }
    Some(text)
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
    cache: StepCache,
    jobs: JobSettings,
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
            cache: StepCache::default(),
            jobs: JobSettings::default(),
        }
    }
}

impl Pipelines {
    /// Connects the stack that runs the steps; until then executions cannot start.
    pub fn attach_runner(&self, runner: Arc<dyn StepRunner>) {
        let _ = self.runner.set(runner);
    }

    /// What runs job steps (their code or mocks), once the stack set it.
    pub fn runner(&self) -> Option<Arc<dyn StepRunner>> {
        self.runner.get().cloned()
    }

    /// The results that steps with a CacheConfig may reuse.
    pub fn cache(&self) -> &StepCache {
        &self.cache
    }

    /// What job steps run with: the mock file, code settings, package versions.
    pub fn jobs(&self) -> &JobSettings {
        &self.jobs
    }

    /// Changes with every change of an execution: what the live view and waits watch.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub(super) fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// Creates (`replace` false) or replaces a pipeline; the definition is checked
    /// first. Answers the pipeline's ARN.
    pub fn put_pipeline(&self, spec: PipelineSpec, replace: bool) -> Result<String, String> {
        let definition = Definition::parse(&spec.definition_text)?;
        let mut pipelines = self.pipelines.lock().unwrap();
        let now = SystemTime::now();
        let name = spec.name.clone();
        match (pipelines.get_mut(&name), replace) {
            (Some(_), false) => Err(format!(
                "Pipeline names must be unique within an AWS account and region. Pipeline with name ({name}) already exists."
            )),
            (None, true) => Err(format!("Pipeline {name} does not exist")),
            (Some(existing), true) => {
                if existing.definition_text != spec.definition_text {
                    let id = existing.latest_version() + 1;
                    existing
                        .versions
                        .push(new_version(id, &spec.definition_text, &definition, now));
                }
                existing.definition_text = spec.definition_text;
                existing.definition = definition;
                existing.max_parallel = spec.max_parallel.or(existing.max_parallel);
                existing.display_name = spec.display_name.unwrap_or(existing.display_name.clone());
                existing.description = spec.description.or(existing.description.take());
                existing.role_arn = spec.role_arn.or(existing.role_arn.take());
                existing.modified = now;
                Ok(existing.arn.clone())
            }
            (None, false) => {
                let arn = format!(
                    "arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{}",
                    name.to_lowercase()
                );
                pipelines.insert(
                    name.clone(),
                    PipelineRecord {
                        display_name: spec.display_name.unwrap_or(name.clone()),
                        name,
                        arn: arn.clone(),
                        description: spec.description,
                        role_arn: spec.role_arn,
                        definition_text: spec.definition_text.clone(),
                        definition: definition.clone(),
                        max_parallel: spec.max_parallel,
                        created: now,
                        modified: now,
                        last_execution: None,
                        versions: vec![new_version(1, &spec.definition_text, &definition, now)],
                    },
                );
                Ok(arn)
            }
        }
    }

    /// Reads every pipeline in place, by name, without copying their definitions.
    pub fn map_pipelines<T>(&self, read: impl Fn(&PipelineRecord) -> T) -> Vec<T> {
        self.pipelines.lock().unwrap().values().map(read).collect()
    }

    /// A pipeline by name or ARN.
    pub fn find_pipeline(&self, name_or_arn: &str) -> Option<PipelineRecord> {
        let pipelines = self.pipelines.lock().unwrap();
        pipelines
            .get(name_or_arn)
            .or_else(|| pipelines.values().find(|p| p.arn == name_or_arn))
            .cloned()
    }

    /// The pipeline named `name`, as its latest version has it.
    pub fn pipeline(&self, name: &str) -> Option<PipelineRecord> {
        self.pipelines.lock().unwrap().get(name).cloned()
    }

    /// Deletes the pipeline named `name` and gives what it was.
    pub fn delete_pipeline(&self, name: &str) -> Option<PipelineRecord> {
        self.pipelines.lock().unwrap().remove(name)
    }

    pub(super) fn new_execution(
        &self,
        pipeline: &PipelineRecord,
        new: NewExecution,
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
                display_name: new.display_name.unwrap_or_else(|| id.clone()),
                description: new.description,
                definition_text: pipeline
                    .version(new.version_id)
                    .map_or(&pipeline.definition_text, |v| &v.definition_text)
                    .clone(),
                max_parallel: new.max_parallel,
                version_id: new.version_id,
                selective_config: new.selective_config,
                excluded: new.excluded,
                mlflow_config: new.mlflow_config,
                role_arn: None,
                experiment_config: None,
                status: "Executing".to_owned(),
                failure_reason: None,
                failed_step: None,
                created: now,
                modified: now,
                steps: Vec::new(),
                step_index: HashMap::new(),
                parameters: new.parameters,
            },
        );
        if let Some(p) = self.pipelines.lock().unwrap().get_mut(&pipeline.name) {
            p.last_execution = Some(now);
            if let Some(version) = p.versions.iter_mut().find(|v| v.id == new.version_id) {
                version.last_execution_arn = Some(arn.clone());
            }
        }
        let (stop, stopped) = watch::channel(false);
        self.stops.lock().unwrap().insert(arn.clone(), stop);
        self.changed();
        (arn, stopped)
    }

    /// Sets a version's display name and description (UpdatePipelineVersion).
    pub fn update_version(
        &self,
        pipeline: &str,
        id: u64,
        display_name: Option<String>,
        description: Option<String>,
    ) -> Result<(), String> {
        let mut pipelines = self.pipelines.lock().unwrap();
        let version = pipelines
            .get_mut(pipeline)
            .and_then(|p| p.versions.iter_mut().find(|v| v.id == id))
            .ok_or_else(|| format!("Pipeline {pipeline} has no version {id}"))?;
        if display_name.is_some() {
            version.display_name = display_name;
        }
        if description.is_some() {
            version.description = description;
        }
        Ok(())
    }

    /// Makes an ended execution run again under its ARN (RetryPipelineExecution): it
    /// is Executing, with a new stop signal, and keeps only the steps `keep` names.
    pub(super) fn resume_execution(
        &self,
        arn: &str,
        max_parallel: usize,
        keep: impl Fn(&StepRecord) -> bool,
    ) -> watch::Receiver<bool> {
        self.update_execution(arn, |e| {
            e.status = "Executing".to_owned();
            e.failure_reason = None;
            e.failed_step = None;
            e.max_parallel = max_parallel;
            let steps = std::mem::take(&mut e.steps);
            e.step_index.clear();
            for step in steps.into_iter().filter(|s| keep(s)) {
                e.push_step(step);
            }
        });
        let (stop, stopped) = watch::channel(false);
        self.stops.lock().unwrap().insert(arn.to_owned(), stop);
        stopped
    }

    /// Reads an execution in place, without copying it (an execution of thousands of
    /// steps is read on every change by whoever waits for it).
    pub fn read_execution<T>(
        &self,
        arn: &str,
        read: impl FnOnce(&ExecutionRecord) -> T,
    ) -> Option<T> {
        self.executions.lock().unwrap().get(arn).map(read)
    }

    /// The Describe* answer of the job whose `name_member` (`TrainingJobName`, ...) is
    /// `name`, of any execution's step. Names match whatever their case, as SageMaker's
    /// do: a job's ARN (whose last part the SDK describes it by) has its name in lower case.
    pub fn find_job(&self, name_member: &str, name: &str) -> Option<Value> {
        self.find_in_jobs(|job| {
            job[name_member]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
                .then(|| job.clone())
        })
    }

    /// The first thing `find` makes of a Describe* answer of any execution's job steps
    /// (a job a tuning job ran is found in the tuning job's answer).
    pub fn find_in_jobs<T>(&self, mut find: impl FnMut(&Value) -> Option<T>) -> Option<T> {
        self.executions
            .lock()
            .unwrap()
            .values()
            .flat_map(|execution| execution.steps.iter())
            .filter_map(|step| step.job.as_ref())
            .find_map(&mut find)
    }

    /// The execution `arn`, as it stands.
    pub fn execution(&self, arn: &str) -> Option<ExecutionRecord> {
        self.executions.lock().unwrap().get(arn).cloned()
    }

    /// The executions of the pipeline named `pipeline`, newest first.
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

    /// Changes the execution `arn` and tells the watchers.
    pub fn update_execution(&self, arn: &str, change: impl FnOnce(&mut ExecutionRecord)) {
        if let Some(execution) = self.executions.lock().unwrap().get_mut(arn) {
            change(execution);
            execution.modified = SystemTime::now();
        }
        self.changed();
    }

    /// Changes the step `step` of the execution `arn` and tells the watchers.
    pub fn update_step(&self, arn: &str, step: &str, change: impl FnOnce(&mut StepRecord)) {
        self.update_execution(arn, |execution| {
            if let Some(record) = execution.step_mut(step) {
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
                if self.read_execution(arn, ExecutionRecord::is_done) == Some(true) {
                    if let Some(execution) = self.execution(arn) {
                        return execution;
                    }
                }
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, done).await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mocked_step_under_run_code_says_so_after_its_own_description() {
        let mocked = Some("mocked: the mock file keeps it on its mock");
        assert_eq!(
            step_description(Some("Trains it"), mocked).as_deref(),
            Some("Trains it (pipelines-emulator: mocked: the mock file keeps it on its mock)")
        );
        assert_eq!(
            step_description(None, mocked).as_deref(),
            Some("pipelines-emulator: mocked: the mock file keeps it on its mock")
        );
        let ran = Some("ran its code: python train.py");
        assert_eq!(
            step_description(Some("Trains it"), ran).as_deref(),
            Some("Trains it")
        );
        assert_eq!(step_description(None, ran), None);
        let long = "d".repeat(3100);
        assert_eq!(step_description(Some(&long), mocked).unwrap().len(), 3072);
    }
}
