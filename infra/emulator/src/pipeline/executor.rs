//! Runs an execution: steps start when what they wait for succeeded (DependsOn, the
//! steps they read, their condition's branch), at most ParallelismConfiguration at
//! once. An execution may start from steps that already succeeded: those a selective
//! execution reuses, or those a retried execution keeps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::definition::{Definition, StepKind};
use super::expressions::{typed, Context};
use super::readiness::Readiness;
use super::runner::StepRunner;
use super::selective::{self, SelectiveConfig};
use super::step_run::run_step;
use super::step_task::{StepEnd, StepTask};
use super::store::{ExecutionRecord, NewExecution, PipelineRecord, Pipelines, StepRecord};

/// An execution's FailureReason when a step failed, in SageMaker's words (a Fail step
/// included): the step's own reason is the step's.
pub const STEP_FAILURE: &str = "Step failure: One or multiple steps failed.";

/// SageMaker's default cap on the steps of one execution that run at once.
const DEFAULT_MAX_PARALLEL: usize = 50;

/// What StartPipelineExecution asks for.
#[derive(Clone, Debug, Default)]
pub struct StartRequest {
    /// Parameter overrides, Name and Value as text.
    pub parameters: Vec<(String, String)>,
    /// `ParallelismConfiguration.MaxParallelExecutionSteps`.
    pub max_parallel: Option<usize>,
    /// `PipelineExecutionDisplayName`.
    pub display_name: Option<String>,
    /// `PipelineExecutionDescription`.
    pub description: Option<String>,
    /// `PipelineVersionId`: the version to run; the latest when not given.
    pub version_id: Option<u64>,
    /// `SelectiveExecutionConfig`.
    pub selective: Option<SelectiveConfig>,
    /// `MlflowExperimentName`: overrides the definition's MlflowConfig experiment.
    pub mlflow_experiment_name: Option<String>,
}

/// Where an execution starts from: steps that already succeeded, and steps that do
/// not run.
#[derive(Default)]
struct Resume {
    done: Vec<(usize, StepRecord)>,
    excluded: Vec<usize>,
}

/// The parameters of an execution: the overrides typed and checked against their
/// declaration (type, EnumValues), the defaults for the rest.
pub fn resolve_parameters(
    definition: &Definition,
    overrides: &[(String, String)],
) -> Result<BTreeMap<String, Value>, String> {
    for (name, _) in overrides {
        if definition.parameter(name).is_none() {
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
        if let Some(allowed) = &parameter.enum_values {
            if !allowed.contains(&value) {
                return Err(format!(
                    "parameter '{}': {value} is not one of its EnumValues {}",
                    parameter.name,
                    Value::Array(allowed.clone())
                ));
            }
        }
        parameters.insert(parameter.name.clone(), value);
    }
    Ok(parameters)
}

/// Starts an execution of a stored pipeline; answers its ARN.
pub fn start_execution(
    pipelines: &Arc<Pipelines>,
    pipeline_name: &str,
    request: &StartRequest,
) -> Result<String, String> {
    let pipeline = pipelines
        .pipeline(pipeline_name)
        .ok_or_else(|| format!("Pipeline {pipeline_name} does not exist"))?;
    let runner = pipelines
        .runner()
        .ok_or("this SageMaker endpoint runs no steps: start it with the emulator")?;
    let version_id = request.version_id.unwrap_or(pipeline.latest_version());
    let version = pipeline.version(version_id).ok_or_else(|| {
        format!("Pipeline {pipeline_name} has no version {version_id} (PipelineVersionId)")
    })?;
    let definition = version.definition.clone();
    let parameters = resolve_parameters(&definition, &request.parameters)?;
    let resume = match &request.selective {
        None => Resume::default(),
        Some(config) => {
            let source = match &config.source {
                None => None,
                Some(arn) => Some(
                    pipelines
                        .execution(arn)
                        .ok_or_else(|| format!("Pipeline execution {arn} does not exist"))?,
                ),
            };
            let plan = selective::plan(&definition, &pipeline.arn, config, source.as_ref())?;
            Resume {
                done: plan.reused,
                excluded: plan.excluded,
            }
        }
    };
    let limit = request
        .max_parallel
        .or(pipeline.max_parallel)
        .unwrap_or(DEFAULT_MAX_PARALLEL)
        .max(1);
    let mlflow_config = mlflow_config(&definition, request.mlflow_experiment_name.as_deref());
    let (arn, stop) = pipelines.new_execution(
        &pipeline,
        NewExecution {
            parameters: parameters.clone(),
            display_name: request.display_name.clone(),
            description: request.description.clone(),
            max_parallel: limit,
            version_id,
            selective_config: request.selective.as_ref().map(SelectiveConfig::to_json),
            excluded: resume
                .excluded
                .iter()
                .map(|&i| definition.steps[i].name.clone())
                .collect(),
            mlflow_config,
        },
    );
    let context = execution_context(pipelines, &pipeline, &arn, &definition, parameters)?;
    spawn_run(
        pipelines, runner, &arn, &pipeline, definition, context, limit, stop, resume,
    );
    Ok(arn)
}

/// RetryPipelineExecution: a Failed execution runs again under its ARN, from its failed
/// steps; the steps that succeeded keep their results.
pub fn retry_execution(
    pipelines: &Arc<Pipelines>,
    arn: &str,
    max_parallel: Option<usize>,
) -> Result<String, String> {
    let execution = pipelines
        .execution(arn)
        .ok_or_else(|| format!("Pipeline execution {arn} does not exist"))?;
    if execution.status != "Failed" {
        return Err(format!(
            "Pipeline execution {arn} is {}; only a Failed pipeline execution can be retried",
            execution.status
        ));
    }
    let pipeline = pipelines
        .pipeline(&execution.pipeline_name)
        .ok_or_else(|| format!("Pipeline {} does not exist", execution.pipeline_name))?;
    let runner = pipelines
        .runner()
        .ok_or("this SageMaker endpoint runs no steps: start it with the emulator")?;
    let definition = Definition::parse(&execution.definition_text)?;
    let at = |name: &str| definition.steps.iter().position(|s| s.name == name);
    let resume = Resume {
        done: kept_steps(&execution)
            .filter_map(|record| Some((at(&record.name)?, record.clone())))
            .collect(),
        excluded: execution.excluded.iter().filter_map(|n| at(n)).collect(),
    };
    let limit = max_parallel.unwrap_or(execution.max_parallel).max(1);
    let stop = pipelines.resume_execution(arn, limit, |s| s.status == "Succeeded");
    let context = execution_context(
        pipelines,
        &pipeline,
        arn,
        &definition,
        execution.parameters.clone(),
    )?;
    spawn_run(
        pipelines, runner, arn, &pipeline, definition, context, limit, stop, resume,
    );
    Ok(arn.to_owned())
}

/// Runs an execution in the background, from where `resume` says it starts.
#[allow(clippy::too_many_arguments)]
fn spawn_run(
    pipelines: &Arc<Pipelines>,
    runner: Arc<dyn StepRunner>,
    arn: &str,
    pipeline: &PipelineRecord,
    definition: Definition,
    context: Context,
    limit: usize,
    stop: watch::Receiver<bool>,
    resume: Resume,
) {
    tokio::spawn(run(
        pipelines.clone(),
        runner,
        arn.to_owned(),
        pipeline.name.clone(),
        definition,
        context,
        limit,
        stop,
        resume,
    ));
}

/// The steps of an execution that a retry keeps: those that succeeded.
fn kept_steps(execution: &ExecutionRecord) -> impl Iterator<Item = &StepRecord> {
    execution
        .steps
        .iter()
        .filter(|s| s.status == "Succeeded" && s.properties.is_some())
}

/// `MLflowConfig` as DescribePipelineExecution shows it: the definition's, with the
/// experiment StartPipelineExecution names.
fn mlflow_config(definition: &Definition, experiment: Option<&str>) -> Option<Value> {
    let mut config = definition.mlflow_config.clone();
    if let Some(name) = experiment {
        config.get_or_insert_with(|| json!({}))["MlflowExperimentName"] = json!(name);
    }
    config
}

/// What every step of an execution reads: its parameters, its execution variables and
/// its PipelineExperimentConfig (evaluated once, so every step reads the same).
fn execution_context(
    pipelines: &Pipelines,
    pipeline: &PipelineRecord,
    arn: &str,
    definition: &Definition,
    parameters: BTreeMap<String, Value>,
) -> Result<Context, String> {
    let mut context = Context {
        parameters,
        job_steps: Arc::new(
            definition
                .steps
                .iter()
                .flat_map(|s| match &s.kind {
                    // A ForEach body's job steps, read by the body's later steps.
                    StepKind::ForEach(for_each) => for_each.body.iter().collect(),
                    _ => vec![s],
                })
                .filter(|s| matches!(s.kind, StepKind::Job { .. }))
                .map(|s| s.name.clone())
                .collect(),
        ),
        ..Context::default()
    };
    let started: chrono::DateTime<chrono::Utc> = pipelines
        .execution(arn)
        .map_or_else(SystemTime::now, |e| e.created)
        .into();
    let id = arn.rsplit('/').next().unwrap_or_default().to_owned();
    for (key, value) in [
        ("PipelineExecutionId", id),
        ("PipelineExecutionArn", arn.to_owned()),
        ("PipelineName", pipeline.name.clone()),
        ("PipelineArn", pipeline.arn.clone()),
        (
            "StartDateTime",
            started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ),
    ] {
        context
            .execution
            .insert(key.to_owned(), Value::String(value));
    }
    if let Some(config) = &definition.experiment_config {
        let evaluated = context
            .evaluate(config)
            .map_err(|e| format!("PipelineExperimentConfig cannot be evaluated: {e:?}"))?;
        if let Value::Object(members) = &evaluated {
            context.experiment_config = members.clone().into_iter().collect();
        }
        pipelines.update_execution(arn, |e| e.experiment_config = Some(evaluated));
    }
    Ok(context)
}

#[allow(clippy::too_many_arguments)]
async fn run(
    pipelines: Arc<Pipelines>,
    runner: Arc<dyn StepRunner>,
    arn: String,
    pipeline_name: String,
    definition: Definition,
    mut context: Context,
    limit: usize,
    mut stop: watch::Receiver<bool>,
    resume: Resume,
) {
    let index: std::collections::HashMap<String, usize> = definition
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), i))
        .collect();
    // The steps each step reads properties of, once: a task's context holds only those.
    let reads: Vec<Vec<String>> = definition
        .steps
        .iter()
        .map(|s| {
            let refs = s.references().unwrap_or_default();
            let steps: std::collections::BTreeSet<String> = refs
                .iter()
                .filter_map(|r| r.step().map(str::to_owned))
                .collect();
            steps.into_iter().collect()
        })
        .collect();
    let mut readiness = Readiness::new(&definition);
    for step in resume.excluded {
        readiness.exclude(step);
    }
    for (step, record) in resume.done {
        if let Some(properties) = &record.properties {
            context
                .properties
                .insert(record.name.clone(), properties.clone());
        }
        readiness.succeeded(step, record.outcome);
        let kept = pipelines
            .read_execution(&arn, |e| e.steps.iter().any(|s| s.name == record.name))
            .unwrap_or(false);
        if !kept {
            pipelines.update_execution(&arn, |e| e.push_step(record));
        }
    }
    let mut running = JoinSet::new();
    let mut first_failure: Option<String> = None;
    loop {
        let stopping = *stop.borrow();
        while !stopping && first_failure.is_none() && running.len() < limit {
            let Some(next) = readiness.start_next() else {
                break;
            };
            let step = &definition.steps[next];
            pipelines.update_execution(&arn, |e| e.push_step(StepRecord::started(step)));
            let task = StepTask {
                pipelines: pipelines.clone(),
                runner: runner.clone(),
                arn: arn.clone(),
                step: step.clone(),
                context: context.for_step(&reads[next]),
                stop: stop.clone(),
                attempt: 1,
            };
            let pipeline_name = pipeline_name.clone();
            running.spawn(async move {
                let name = task.step.name.clone();
                (name, run_step(task, &pipeline_name).await)
            });
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            joined = running.join_next() => {
                let Some(Ok((name, end))) = joined else { continue };
                let Some(&at) = index.get(&name) else { continue };
                match &end {
                    StepEnd::Succeeded { properties, outcome } => {
                        context.properties.insert(name.clone(), properties.clone());
                        readiness.succeeded(at, *outcome);
                    }
                    StepEnd::Failed { reason, .. } => {
                        readiness.ended(at);
                        first_failure.get_or_insert_with(|| match definition.steps[at].kind {
                            StepKind::Fail => reason.clone(),
                            _ => format!("Step '{name}' failed: {reason}"),
                        });
                    }
                    StepEnd::Stopped(_) => readiness.ended(at),
                }
                record_end(&pipelines, &arn, &name, &end, SystemTime::now());
            }
            _ = stop.changed(), if !stopping => {}
        }
    }
    let stopped = *stop.borrow();
    pipelines.update_execution(&arn, |e| {
        e.failed_step = first_failure.clone();
        (e.status, e.failure_reason) = match (&first_failure, stopped) {
            (_, true) => ("Stopped".to_owned(), None),
            (Some(_), false) => ("Failed".to_owned(), Some(STEP_FAILURE.to_owned())),
            (None, false) => ("Succeeded".to_owned(), None),
        };
    });
}

/// Writes how a step ended into its record: status, end time, failure reason, and the
/// properties and outcome of a step that succeeded.
pub(crate) fn record_end(
    pipelines: &Pipelines,
    arn: &str,
    name: &str,
    end: &StepEnd,
    ended: SystemTime,
) {
    pipelines.update_step(arn, name, |record| {
        record.ended = Some(ended);
        match end {
            StepEnd::Succeeded {
                properties,
                outcome,
            } => {
                record.status = "Succeeded".to_owned();
                record.properties = Some(properties.clone());
                record.outcome = *outcome;
            }
            StepEnd::Failed { reason, .. } => {
                record.status = "Failed".to_owned();
                record.failure_reason = Some(reason.clone());
            }
            StepEnd::Stopped(reason) => {
                record.status = "Stopped".to_owned();
                record.failure_reason = Some(reason.clone());
            }
        }
    });
}
