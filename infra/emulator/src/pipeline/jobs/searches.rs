//! What the searching jobs find, sized as the request sizes them: a tuning job's
//! training jobs (as many as its ResourceLimits or grid allow, the best 50 listed best
//! first, which `TuningStep.get_top_model_s3_uri(top_k)` reads) and an AutoML job's best
//! candidate (its inference containers, as many as its mode makes, with the environment
//! `AutoMLStep.get_best_auto_ml_model` reads).

use serde_json::{json, Map, Value};

/// How many of a tuning job's training jobs its pipeline step lists: "tuning step
/// stores up to 50 top performing training jobs" (the SDK's `get_top_model_s3_uri`).
const LISTED_TRAINING_JOBS: usize = 50;

/// The answer's members for a Tuning step: `TrainingJobSummaries` (best first),
/// `BestTrainingJob` and the status counters.
pub fn tuning(
    arguments: &Value,
    job: &str,
    arn: impl Fn(&str) -> String,
    now: f64,
) -> Map<String, Value> {
    let search = TuningSearch::of(arguments, job);
    let summaries: Vec<Value> = (0..search.count)
        .map(|rank| search.summary(rank, &arn, now))
        .collect();
    let count = search.count;
    let mut members = Map::new();
    members.insert("BestTrainingJob".into(), summaries[0].clone());
    members.insert(
        "TrainingJobStatusCounters".into(),
        json!({"Completed": count, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}),
    );
    members.insert(
        "ObjectiveStatusCounters".into(),
        json!({"Succeeded": count, "Pending": 0, "Failed": 0}),
    );
    members.insert(
        "TrainingJobSummaries".into(),
        Value::Array(summaries.into_iter().take(LISTED_TRAINING_JOBS).collect()),
    );
    members
}

/// A tuning job's search: its training job definitions, and how many jobs it runs.
pub(super) struct TuningSearch<'a> {
    /// The tuning job's name, which its training jobs' names start with.
    pub job: &'a str,
    config: &'a Value,
    definitions: Vec<&'a Value>,
    /// How many training jobs it runs.
    pub count: usize,
}

impl<'a> TuningSearch<'a> {
    /// The search of the tuning job `job` whose CreateHyperParameterTuningJob request
    /// (or Describe answer, which repeats it) is `arguments`.
    pub fn of(arguments: &'a Value, job: &'a str) -> Self {
        let config = &arguments["HyperParameterTuningJobConfig"];
        let definitions: Vec<&Value> = match arguments["TrainingJobDefinitions"].as_array() {
            Some(list) if !list.is_empty() => list.iter().collect(),
            _ => vec![&arguments["TrainingJobDefinition"]],
        };
        let mut search = Self {
            job,
            config,
            definitions,
            count: 0,
        };
        search.count = training_jobs(config, &search.ranges(search.definitions[0]));
        search
    }

    pub(super) fn ranges(&self, definition: &Value) -> Value {
        match &definition["HyperParameterRanges"] {
            Value::Null => self.config["ParameterRanges"].clone(),
            ranges => ranges.clone(),
        }
    }

    /// The definition the `rank`th training job ran (definitions take turns).
    pub fn definition(&self, rank: usize) -> &'a Value {
        self.definitions[rank % self.definitions.len()]
    }

    /// The objective the `rank`th training job's definition is tuned for.
    pub fn objective(&self, rank: usize) -> &'a Value {
        match &self.definition(rank)["TuningObjective"] {
            Value::Null => &self.config["HyperParameterTuningJobObjective"],
            objective => objective,
        }
    }

    /// The name of the `rank`th training job (0 the best): the tuning job's name cut to
    /// 32 characters, the job's number and a hash, as SageMaker names them.
    pub fn training_job_name(&self, rank: usize) -> String {
        format!(
            "{}-{:03}-{:08x}",
            &self.job[..self.job.len().min(32)],
            rank + 1,
            super::fnv(&format!("{}/{rank}", self.job)) as u32
        )
    }

    /// The `rank`th training job's summary, as TrainingJobSummaries lists it.
    pub fn summary(&self, rank: usize, arn: impl Fn(&str) -> String, now: f64) -> Value {
        let definition = self.definition(rank);
        let objective = self.objective(rank);
        let name = self.training_job_name(rank);
        let mut summary = json!({
            "TrainingJobName": name,
            "TrainingJobArn": arn(&name),
            "TuningJobName": self.job,
            "TrainingJobStatus": "Completed",
            "ObjectiveStatus": "Succeeded",
            "CreationTime": now,
            "TrainingStartTime": now,
            "TrainingEndTime": now,
            "TunedHyperParameters": tuned(&self.ranges(definition), rank, self.count),
        });
        if let Some(metric) = objective["MetricName"].as_str() {
            summary["FinalHyperParameterTuningJobObjectiveMetric"] = json!({
                "Type": objective["Type"].as_str().unwrap_or("Maximize"),
                "MetricName": metric,
                "Value": objective_value(objective["Type"].as_str(), rank),
            });
        }
        if let Some(definition_name) = definition["DefinitionName"].as_str() {
            summary["TrainingJobDefinitionName"] = json!(definition_name);
        }
        summary
    }
}

/// How many training jobs a tuning job runs: its `MaxNumberOfTrainingJobs`, else (a
/// grid search) one per combination of its categorical values, else one.
fn training_jobs(config: &Value, ranges: &Value) -> usize {
    if let Some(max) = config["ResourceLimits"]["MaxNumberOfTrainingJobs"].as_u64() {
        return (max as usize).max(1);
    }
    if config["Strategy"] == "Grid" {
        return ranges["CategoricalParameterRanges"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|r| r["Values"].as_array().map_or(1, Vec::len).max(1))
                    .product()
            })
            .unwrap_or(1);
    }
    1
}

/// The best job's objective first: ascending for Minimize, descending for Maximize.
fn objective_value(kind: Option<&str>, rank: usize) -> f64 {
    let step = rank as f64 / 100.0;
    if kind == Some("Minimize") {
        0.1 + step
    } else {
        0.9 - step
    }
}

/// The hyperparameters the `rank`th job ran with: spread over each range.
fn tuned(ranges: &Value, rank: usize, count: usize) -> Value {
    let mut values = Map::new();
    for range in ranges["CategoricalParameterRanges"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let (Some(name), Some(options)) = (range["Name"].as_str(), range["Values"].as_array()) {
            if let Some(option) = options.get(rank % options.len().max(1)) {
                values.insert(name.to_owned(), option.clone());
            }
        }
    }
    let share = if count > 1 {
        rank as f64 / (count - 1) as f64
    } else {
        0.5
    };
    for (key, integer) in [
        ("IntegerParameterRanges", true),
        ("ContinuousParameterRanges", false),
    ] {
        for range in ranges[key].as_array().into_iter().flatten() {
            let number = |member: &str| match &range[member] {
                Value::String(text) => text.parse::<f64>().ok(),
                other => other.as_f64(),
            };
            if let (Some(name), Some(low), Some(high)) = (
                range["Name"].as_str(),
                number("MinValue"),
                number("MaxValue"),
            ) {
                let value = low + (high - low) * share;
                let text = if integer {
                    format!("{}", value.round() as i64)
                } else {
                    format!("{value}")
                };
                values.insert(name.to_owned(), json!(text));
            }
        }
    }
    Value::Object(values)
}

/// The answer's members for an AutoML step: `BestCandidate` with its inference
/// containers (one for ENSEMBLING, three for HYPERPARAMETER_TUNING: data processing,
/// algorithm, label transform), `BestCandidateProperties` and the job's artifacts.
pub fn automl(arguments: &Value, job: &str, now: f64) -> Map<String, Value> {
    let output = arguments["OutputDataConfig"]["S3OutputPath"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('/');
    let base = format!("{output}/{job}");
    let mode = arguments["AutoMLJobConfig"]["Mode"]
        .as_str()
        .unwrap_or("ENSEMBLING");
    let candidate = format!(
        "{}-t1-{:08x}",
        &job[..job.len().min(32)],
        super::fnv(job) as u32
    );
    let problem = arguments["ProblemType"]
        .as_str()
        .unwrap_or("BinaryClassification");
    let metric = arguments["AutoMLJobObjective"]["MetricName"]
        .as_str()
        .unwrap_or(if problem == "Regression" { "MSE" } else { "F1" });
    let containers: Vec<Value> = match mode {
        "HYPERPARAMETER_TUNING" => ["data-processing", "algorithm", "label-transform"]
            .iter()
            .map(|part| container(&base, &candidate, part))
            .collect(),
        _ => vec![container(&base, &candidate, "ensemble")],
    };
    let artifacts = format!("{base}/sagemaker-automl-candidates/{candidate}");
    let mut members = Map::new();
    members.insert(
        "BestCandidate".into(),
        json!({
            "CandidateName": candidate,
            "CandidateStatus": "Completed",
            "ObjectiveStatus": "Succeeded",
            "FinalAutoMLJobObjectiveMetric": {"MetricName": metric, "Value": 0.9},
            "InferenceContainers": containers,
            "CandidateSteps": [{"CandidateStepType": "AWS::SageMaker::TrainingJob",
                "CandidateStepName": candidate,
                "CandidateStepArn": format!("arn:aws:sagemaker:{}:{}:training-job/{}",
                    crate::pipeline::store::REGION, crate::pipeline::store::ACCOUNT, candidate.to_lowercase())}],
            "CandidateProperties": {
                "CandidateArtifactLocations": {
                    "Explainability": format!("{artifacts}/explainability"),
                    "ModelInsights": format!("{artifacts}/model-insights"),
                },
                "CandidateMetrics": [{"MetricName": metric, "Value": 0.9, "Set": "Validation"}],
            },
            "CreationTime": now,
            "EndTime": now,
            "LastModifiedTime": now,
        }),
    );
    members.insert(
        "BestCandidateProperties".into(),
        json!({
            "ModelInsightsJsonReportPath": format!("{artifacts}/model-insights/model_insights.json"),
            "ExplainabilityJsonReportPath": format!("{artifacts}/explainability/analysis.json"),
        }),
    );
    members.insert(
        "AutoMLJobArtifacts".into(),
        json!({
            "CandidateDefinitionNotebookLocation": format!("{base}/sagemaker-automl-candidates/notebooks/SageMakerAutopilotCandidateDefinitionNotebook.ipynb"),
            "DataExplorationNotebookLocation": format!("{base}/sagemaker-automl-candidates/notebooks/SageMakerAutopilotDataExplorationNotebook.ipynb"),
        }),
    );
    members.insert(
        "ResolvedAttributes".into(),
        json!({"AutoMLJobObjective": {"MetricName": metric}, "ProblemType": problem}),
    );
    members
}

/// One inference container of a candidate, with the environment Autopilot sets.
fn container(base: &str, candidate: &str, part: &str) -> Value {
    json!({
        "Image": format!("{}.dkr.ecr.{}.amazonaws.com/sagemaker-autopilot-{part}:latest",
            crate::pipeline::store::ACCOUNT, crate::pipeline::store::REGION),
        "ModelDataUrl": format!("{base}/sagemaker-automl-candidates/{candidate}/{part}/model.tar.gz"),
        "Environment": {
            "MODEL_NAME": candidate,
            "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            "SAGEMAKER_INFERENCE_SUPPORTED": "predicted_label,probability,probabilities,labels",
            "SAGEMAKER_INFERENCE_OUTPUT": "predicted_label",
            "SAGEMAKER_PROGRAM": "tabular_serve.py",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arn(name: &str) -> String {
        format!("arn:training-job/{name}")
    }

    #[test]
    fn a_tuning_job_lists_as_many_jobs_as_its_limits_allow_best_first() {
        let request = json!({"HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2},
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
            "ParameterRanges": {"IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "10"}],
                                "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}]}}});
        let members = tuning(&request, "tune-job", arn, 1.0);
        let summaries = members["TrainingJobSummaries"].as_array().unwrap();
        assert_eq!(summaries.len(), 3);
        let values: Vec<f64> = summaries
            .iter()
            .map(|s| {
                s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
                    .as_f64()
                    .unwrap()
            })
            .collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
        assert_eq!(members["BestTrainingJob"], summaries[0]);
        assert_eq!(
            summaries[0]["TunedHyperParameters"],
            json!({"booster": "gbtree", "max_depth": "2"})
        );
        assert_eq!(summaries[2]["TunedHyperParameters"]["max_depth"], "10");
        assert_ne!(
            summaries[0]["TrainingJobName"],
            summaries[1]["TrainingJobName"]
        );
    }

    #[test]
    fn a_grid_search_runs_every_combination_and_at_most_fifty_are_listed() {
        let grid = json!({"HyperParameterTuningJobConfig": {"Strategy": "Grid",
            "ParameterRanges": {"CategoricalParameterRanges": [
                {"Name": "a", "Values": ["1", "2", "3"]}, {"Name": "b", "Values": ["x", "y"]}]}}});
        let members = tuning(&grid, "grid", arn, 1.0);
        assert_eq!(members["TrainingJobSummaries"].as_array().unwrap().len(), 6);
        let many = json!({"HyperParameterTuningJobConfig": {"ResourceLimits": {"MaxNumberOfTrainingJobs": 80}}});
        let members = tuning(&many, "many", arn, 1.0);
        assert_eq!(
            members["TrainingJobSummaries"].as_array().unwrap().len(),
            50
        );
        assert_eq!(members["TrainingJobStatusCounters"]["Completed"], 80);
    }

    #[test]
    fn an_automl_candidate_has_the_containers_of_its_mode() {
        let request = json!({"AutoMLJobConfig": {"Mode": "ENSEMBLING"},
            "OutputDataConfig": {"S3OutputPath": "s3://b/automl"}});
        let members = automl(&request, "auto", 1.0);
        let containers = members["BestCandidate"]["InferenceContainers"]
            .as_array()
            .unwrap();
        assert_eq!(containers.len(), 1);
        assert!(containers[0]["ModelDataUrl"]
            .as_str()
            .unwrap()
            .starts_with("s3://b/automl/auto/"));
        assert_eq!(
            containers[0]["Environment"]["SAGEMAKER_PROGRAM"],
            "tabular_serve.py"
        );
        let tuning = json!({"AutoMLJobConfig": {"Mode": "HYPERPARAMETER_TUNING"}});
        let members = automl(&tuning, "auto", 1.0);
        assert_eq!(
            members["BestCandidate"]["InferenceContainers"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert!(members["BestCandidateProperties"]["ModelInsightsJsonReportPath"].is_string());
    }
}
