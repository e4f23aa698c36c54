//! A Tuning step that runs its training jobs for real (`--run-code`): each job's
//! hyperparameters drawn by the strategy, at most MaxParallelTrainingJobs at once, each
//! a training job as the Training step runs one (built-in XGBoost or script mode), the
//! objective read from its metrics, and the Describe answer's summaries, best training
//! job and counters made of what really happened.

use std::future::Future;
use std::pin::Pin;

use futures::stream::{self, StreamExt};
use serde_json::{json, Map, Value};

use super::describe::{arn, fnv};
use super::plan::{training, tuning};
use super::searches::{self, TuningSearch};
use crate::code_jobs::CodeJobEnd;
use crate::pipeline::step_task::StepTask;
use crate::pipeline::store::epoch;
use crate::pipeline::CodeSettings;

/// What became of a tuning job run for real.
pub(super) enum TuningRun {
    /// Its training jobs cannot run here: the step stays on its mock, saying why.
    Unrunnable(String),
    /// The members of its Describe answer that the runs decided, and a note for the
    /// step's description.
    Done(Map<String, Value>, String),
    /// No training job reached the objective (or one was stopped): how it ended.
    Ended(CodeJobEnd),
}

/// One training job of the search, run.
struct Trial {
    tuned: Map<String, Value>,
    end: CodeJobEnd,
    objective: Option<f64>,
}

impl StepTask {
    /// Runs the training jobs of the tuning job `job` whose request is `request`.
    pub(super) async fn run_tuning(
        &self,
        request: &Value,
        job: &str,
        settings: &CodeSettings,
    ) -> TuningRun {
        let search = TuningSearch::of(request, job);
        if request["TrainingJobDefinitions"]
            .as_array()
            .is_some_and(|l| l.len() > 1)
        {
            return TuningRun::Unrunnable(
                "it has several TrainingJobDefinitions, which the emulator does not run".into(),
            );
        }
        let config = &request["HyperParameterTuningJobConfig"];
        let definition = search.definition(0);
        let objective = search.objective(0);
        let metric = objective["MetricName"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let minimize = objective["Type"] == "Minimize";
        let drawn = match tuning::draws(config, &search.ranges(definition), search.count, fnv(job))
        {
            Ok(drawn) => drawn,
            Err(why) => return TuningRun::Ended(CodeJobEnd::Failed(format!("ClientError: {why}"))),
        };
        // Every job planned before any runs: one that cannot keeps the whole step mocked.
        let mut plans = Vec::new();
        for (rank, tuned) in drawn.iter().enumerate() {
            let request = tuning::training_request(definition, tuned, Some(&metric));
            let name = search.training_job_name(rank);
            match training::training(&request, &name, settings.xgboost.as_deref()) {
                Ok(plan) => plans.push((request, plan)),
                Err(why) => {
                    return TuningRun::Unrunnable(format!("its training jobs cannot run: {why}"))
                }
            }
        }
        let parallel = config["ResourceLimits"]["MaxParallelTrainingJobs"]
            .as_u64()
            .unwrap_or(1)
            .max(1) as usize;
        let metric = metric.as_str();
        // Boxed as Send futures: the stream of borrowed closures would not prove Send.
        let trials: Vec<Pin<Box<dyn Future<Output = Trial> + Send + '_>>> = plans
            .iter()
            .zip(drawn)
            .map(|((request, plan), tuned)| {
                Box::pin(async move {
                    let end = self
                        .runner
                        .run_code(plan, &settings.python, self.stop.clone())
                        .await;
                    let objective = match &end {
                        CodeJobEnd::Completed { log, .. } => {
                            let output = std::fs::read_to_string(log).unwrap_or_default();
                            let now = epoch(std::time::SystemTime::now());
                            let metrics = training::final_metrics(request, &output, now);
                            tuning::objective(&metrics, metric)
                        }
                        _ => None,
                    };
                    Trial {
                        tuned,
                        end,
                        objective,
                    }
                }) as Pin<Box<dyn Future<Output = Trial> + Send + '_>>
            })
            .collect();
        let runs: Vec<Trial> = stream::iter(trials).buffered(parallel).collect().await;
        if runs.iter().any(|t| t.end == CodeJobEnd::Stopped) {
            return TuningRun::Ended(CodeJobEnd::Stopped);
        }
        // Best first, as the step's TrainingJobSummaries list them (the SDK's
        // get_top_model_s3_uri reads the k-th); jobs with no objective after.
        let mut order: Vec<usize> = (0..runs.len()).collect();
        order.sort_by(|&a, &b| match (runs[a].objective, runs[b].objective) {
            (Some(x), Some(y)) if minimize => x.total_cmp(&y),
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.cmp(&b),
        });
        let best = order[0];
        if runs[best].objective.is_none() {
            let first = runs.iter().find_map(|t| match &t.end {
                CodeJobEnd::Failed(reason) => Some(reason.clone()),
                _ => None,
            });
            return TuningRun::Ended(CodeJobEnd::Failed(format!(
                "AlgorithmError: no training job of the tuning job reached its objective metric {metric}{}",
                first.map(|r| format!(": {r}")).unwrap_or_default()
            )));
        }
        let now = epoch(std::time::SystemTime::now());
        let summaries: Vec<Value> = order
            .iter()
            .map(|&rank| summary(&search, rank, &runs[rank], objective, now))
            .collect();
        let completed = runs
            .iter()
            .filter(|t| matches!(t.end, CodeJobEnd::Completed { .. }))
            .count();
        let with_objective = runs.iter().filter(|t| t.objective.is_some()).count();
        let mut members = searches::tuning(request, job, |n| arn("training-job", n), now);
        members.insert("BestTrainingJob".into(), summaries[0].clone());
        members.insert("TrainingJobSummaries".into(), Value::Array(summaries));
        members.insert(
            "TrainingJobStatusCounters".into(),
            json!({"Completed": completed, "InProgress": 0, "RetryableError": 0,
                   "NonRetryableError": runs.len() - completed, "Stopped": 0}),
        );
        members.insert(
            "ObjectiveStatusCounters".into(),
            json!({"Succeeded": with_objective, "Pending": 0, "Failed": runs.len() - with_objective}),
        );
        let mut note = format!(
            "ran {} training jobs, {parallel} at a time; best {}",
            runs.len(),
            search.training_job_name(best)
        );
        if let Some(strategy) = tuning::strategy_note(config) {
            note += &format!("; {strategy}");
        }
        TuningRun::Done(members, note)
    }
}

/// A training job's summary as TrainingJobSummaries lists it: what it ran with, how it
/// ended, the objective it reached.
fn summary(
    search: &TuningSearch,
    rank: usize,
    trial: &Trial,
    objective: &Value,
    now: f64,
) -> Value {
    let mut summary = search.summary(rank, |n| arn("training-job", n), now);
    summary["TunedHyperParameters"] = Value::Object(trial.tuned.clone());
    match (&trial.end, trial.objective) {
        (CodeJobEnd::Completed { .. }, Some(value)) => {
            summary["FinalHyperParameterTuningJobObjectiveMetric"] = json!({
                "Type": objective["Type"].as_str().unwrap_or("Maximize"),
                "MetricName": objective["MetricName"], "Value": value});
        }
        (end, _) => {
            if let Some(map) = summary.as_object_mut() {
                map.remove("FinalHyperParameterTuningJobObjectiveMetric");
            }
            summary["ObjectiveStatus"] = json!("Failed");
            if let CodeJobEnd::Failed(reason) = end {
                summary["TrainingJobStatus"] = json!("Failed");
                summary["FailureReason"] = json!(reason);
            }
        }
    }
    summary
}
