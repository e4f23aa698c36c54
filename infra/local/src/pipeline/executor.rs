//! Runs an execution: steps start when what they wait for succeeded (DependsOn, the
//! steps they read, their condition's branch), at most ParallelismConfiguration at
//! once; a failed attempt is retried as its RetryPolicies say; a cached step is reused.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::attempts::retry_delay;
use super::cache::{signature, CachedStep};
use super::definition::{Definition, StepKind};
use super::expressions::{typed, Context};
use super::readiness::Readiness;
use super::runner::StepRunner;
use super::step_task::{StepEnd, StepTask};
use super::store::{NewExecution, Pipelines, StepRecord};

/// SageMaker's default cap on the steps of one execution that run at once.
const DEFAULT_MAX_PARALLEL: usize = 50;

/// What StartPipelineExecution asks for.
#[derive(Clone, Debug, Default)]
pub struct StartRequest {
    /// Parameter overrides, Name and Value as text.
    pub parameters: Vec<(String, String)>,
    pub max_parallel: Option<usize>,
    pub display_name: Option<String>,
    pub description: Option<String>,
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
        .ok_or("this SageMaker endpoint runs no steps: start it with the local stack")?;
    let definition = pipeline.definition.clone();
    let parameters = resolve_parameters(&definition, &request.parameters)?;
    let limit = request
        .max_parallel
        .or(pipeline.max_parallel)
        .unwrap_or(DEFAULT_MAX_PARALLEL)
        .max(1);
    let started = chrono::Utc::now();
    let (arn, stop) = pipelines.new_execution(
        &pipeline,
        NewExecution {
            parameters: parameters.clone(),
            display_name: request.display_name.clone(),
            description: request.description.clone(),
            max_parallel: limit,
        },
    );
    let mut context = Context {
        parameters,
        job_steps: Arc::new(
            definition
                .steps
                .iter()
                .filter(|s| matches!(s.kind, StepKind::Job { .. }))
                .map(|s| s.name.clone())
                .collect(),
        ),
        ..Context::default()
    };
    let id = arn.rsplit('/').next().unwrap_or_default().to_owned();
    for (key, value) in [
        ("PipelineExecutionId", id),
        ("PipelineExecutionArn", arn.clone()),
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
        // Evaluated once: every step reads the same experiment and trial.
        let evaluated = context
            .evaluate(config)
            .map_err(|e| format!("PipelineExperimentConfig cannot be evaluated: {e:?}"))?;
        if let Value::Object(members) = &evaluated {
            context.experiment_config = members.clone().into_iter().collect();
        }
        pipelines.update_execution(&arn, |e| e.experiment_config = Some(evaluated));
    }
    tokio::spawn(run(
        pipelines.clone(),
        runner,
        arn.clone(),
        pipeline.name.clone(),
        definition,
        context,
        limit,
        stop,
    ));
    Ok(arn)
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
) {
    let index: std::collections::HashMap<String, usize> = definition
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), i))
        .collect();
    // What each step reads, once: a task's context holds only those steps' properties.
    let prerequisites: Vec<Vec<String>> = definition
        .steps
        .iter()
        .map(|s| s.prerequisites().into_iter().collect())
        .collect();
    let mut readiness = Readiness::new(&definition);
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
                context: context.for_step(&prerequisites[next]),
                stop: stop.clone(),
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
                let mut kept = None;
                let (status, reason) = match &end {
                    StepEnd::Succeeded { properties, outcome } => {
                        context.properties.insert(name.clone(), properties.clone());
                        readiness.succeeded(at, *outcome);
                        kept = Some((properties.clone(), *outcome));
                        ("Succeeded", None)
                    }
                    StepEnd::Failed { reason, .. } => {
                        readiness.ended(at);
                        first_failure.get_or_insert_with(|| match definition.steps[at].kind {
                            StepKind::Fail => reason.clone(),
                            _ => format!("Step '{name}' failed: {reason}"),
                        });
                        ("Failed", Some(reason.clone()))
                    }
                    StepEnd::Stopped(reason) => {
                        readiness.ended(at);
                        ("Stopped", Some(reason.clone()))
                    }
                };
                pipelines.update_step(&arn, &name, |record| {
                    record.status = status.to_owned();
                    record.ended = Some(SystemTime::now());
                    record.failure_reason = reason;
                    if let Some((properties, outcome)) = kept {
                        record.properties = Some(properties);
                        record.outcome = outcome;
                    }
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

/// One step from its arguments to its end: a cache hit, or attempts until one
/// succeeds or its RetryPolicies give up.
async fn run_step(mut task: StepTask, pipeline_name: &str) -> StepEnd {
    let inputs = match task.inputs().await {
        Ok(inputs) => inputs,
        Err(reason) => return StepEnd::failed(reason),
    };
    let cache = task
        .step
        .cache
        .clone()
        .filter(|c| c.enabled && task.step.kind.caches());
    let step_signature = signature(task.step.kind.type_name(), &inputs);
    if let Some(cache) = &cache {
        if let Some(hit) = task.pipelines.cache().lookup(
            pipeline_name,
            &task.step.name,
            &step_signature,
            cache.expire_after,
        ) {
            task.pipelines.update_step(&task.arn, &task.step.name, |r| {
                r.metadata = hit.metadata.clone();
                r.cache_hit = Some(hit.execution_arn.clone());
            });
            return StepEnd::Succeeded {
                properties: hit.properties,
                outcome: None,
            };
        }
    }
    let first_started = Instant::now();
    let mut attempts = 1;
    let end = loop {
        let end = task.run(inputs.clone()).await;
        let StepEnd::Failed { fault, .. } = &end else {
            break end;
        };
        let Some(delay) = retry_delay(
            &task.step.retry_policies,
            *fault,
            attempts,
            first_started.elapsed(),
        ) else {
            break end;
        };
        let mut stop = task.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = async { drop(stop.wait_for(|stopping| *stopping).await) } => {
                break StepEnd::Stopped("pipeline execution stopped between attempts".to_owned());
            }
        }
        attempts += 1;
        task.pipelines
            .update_step(&task.arn, &task.step.name, |r| r.attempts = attempts);
    };
    if let (Some(_), StepEnd::Succeeded { properties, .. }) = (&cache, &end) {
        let metadata = task
            .pipelines
            .execution(&task.arn)
            .and_then(|e| e.steps.into_iter().find(|s| s.name == task.step.name))
            .map(|s| s.metadata)
            .unwrap_or_else(|| json!({}));
        task.pipelines.cache().remember(
            pipeline_name,
            &task.step.name,
            step_signature,
            CachedStep {
                execution_arn: task.arn.clone(),
                ended: SystemTime::now(),
                properties: properties.clone(),
                metadata,
            },
        );
    }
    end
}
