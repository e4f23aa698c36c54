//! The training jobs a tuning job ran, described: DescribeTrainingJob of a name that
//! TrainingJobSummaries or BestTrainingJob gave answers as SageMaker does for a job a
//! tuning job launched (its definition's configuration, its static hyperparameters with
//! the tuned ones, the objective metric it reached, `TuningJobArn`), so code that follows
//! the best training job to its model and metrics reads what the summaries said.

use serde_json::{json, Map, Value};

use super::describe::{arn, defined_metrics, model_artifacts};
use super::searches::TuningSearch;

/// The members of a tuning job's training job definition that its training jobs'
/// Describe answers repeat under the same name.
const REPEATED: [&str; 13] = [
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
];

/// The DescribeTrainingJob answer of the training job `name`, when the tuning job whose
/// Describe answer is `tuning` ran it; None for any other answer or name.
pub fn training_job(tuning: &Value, name: &str) -> Option<Value> {
    let job = tuning["HyperParameterTuningJobName"].as_str()?;
    let rank = rank_in_name(name)?;
    let search = TuningSearch::of(tuning, job);
    let training_name = search.training_job_name(rank);
    if rank >= search.count || !training_name.eq_ignore_ascii_case(name) {
        return None;
    }
    let now = tuning["CreationTime"].as_f64().unwrap_or_default();
    // A tuning job that ran its training jobs lists what each really did; a mocked one's
    // summaries are the search's.
    let listed = tuning["TrainingJobSummaries"]
        .as_array()
        .and_then(|summaries| {
            summaries.iter().find(|s| {
                s["TrainingJobName"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
        });
    let summary = listed
        .cloned()
        .unwrap_or_else(|| search.summary(rank, |n| arn("training-job", n), now));
    let status = summary["TrainingJobStatus"]
        .as_str()
        .unwrap_or("Completed")
        .to_owned();
    let definition = search.definition(rank);
    let mut answer = Map::new();
    copy_given(definition, &REPEATED, &mut answer);
    if !answer.contains_key("ResourceConfig") {
        if let Some(resources) = tuned_resources(&definition["HyperParameterTuningResourceConfig"])
        {
            answer.insert("ResourceConfig".to_owned(), resources);
        }
    }
    let objective = &summary["FinalHyperParameterTuningJobObjectiveMetric"];
    answer.insert(
        "HyperParameters".to_owned(),
        hyperparameters(definition, &summary["TunedHyperParameters"], objective),
    );
    answer.insert(
        "FinalMetricDataList".to_owned(),
        final_metrics(definition, objective, now),
    );
    answer.insert(
        "ModelArtifacts".to_owned(),
        model_artifacts(definition, &training_name),
    );
    answer.insert(
        "TrainingJobArn".to_owned(),
        summary["TrainingJobArn"].clone(),
    );
    answer.insert("TrainingJobName".to_owned(), json!(training_name));
    answer.insert(
        "TuningJobArn".to_owned(),
        tuning["HyperParameterTuningJobArn"].clone(),
    );
    for (member, value) in [
        ("TrainingJobStatus", json!(status)),
        ("SecondaryStatus", json!(status)),
        ("CreationTime", json!(now)),
        ("TrainingStartTime", json!(now)),
        ("TrainingEndTime", json!(now)),
        ("LastModifiedTime", json!(now)),
        ("TrainingTimeInSeconds", json!(0)),
        ("BillableTimeInSeconds", json!(0)),
    ] {
        answer.insert(member.to_owned(), value);
    }
    Some(Value::Object(answer))
}

/// Copies the `members` that `from` gives (not null) into `into`.
fn copy_given(from: &Value, members: &[&str], into: &mut Map<String, Value>) {
    for member in members {
        if let Some(value) = from.get(*member).filter(|v| !v.is_null()) {
            into.insert((*member).to_owned(), value.clone());
        }
    }
}

/// The rank a training job's name gives: `<tuning job>-<NNN>-<hash>`, NNN counting from 1.
fn rank_in_name(name: &str) -> Option<usize> {
    let mut parts = name.rsplitn(3, '-');
    let _hash = parts.next()?;
    let number: usize = parts.next()?.parse().ok()?;
    number.checked_sub(1)
}

/// A training job's hyperparameters: the definition's static ones, the tuned ones, and
/// the objective metric's name, which SageMaker passes as `_tuning_objective_metric`.
fn hyperparameters(definition: &Value, tuned: &Value, objective: &Value) -> Value {
    let mut values: Map<String, Value> = definition["StaticHyperParameters"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (name, value) in tuned.as_object().into_iter().flatten() {
        values.insert(name.clone(), value.clone());
    }
    if let Some(metric) = objective["MetricName"].as_str() {
        values.insert("_tuning_objective_metric".to_owned(), json!(metric));
    }
    Value::Object(values)
}

/// One final value per metric the definition's algorithm emits, the objective's being the
/// value the summary gave; the objective is listed too when it is a built-in
/// algorithm's metric, which no MetricDefinitions name.
fn final_metrics(definition: &Value, objective: &Value, now: f64) -> Value {
    let mut metrics = defined_metrics(definition, now);
    match metrics
        .iter_mut()
        .find(|m| m["MetricName"] == objective["MetricName"])
    {
        Some(reached) => reached["Value"] = objective["Value"].clone(),
        None if objective["MetricName"].is_string() => metrics.push(
            json!({"MetricName": objective["MetricName"], "Value": objective["Value"], "Timestamp": now}),
        ),
        None => {}
    }
    Value::Array(metrics)
}

/// The ResourceConfig of a job of a definition that gives HyperParameterTuningResourceConfig
/// instead: its instance type, count and volume, or its first instance configuration's.
fn tuned_resources(config: &Value) -> Option<Value> {
    let source = match config["InstanceConfigs"].as_array().and_then(|c| c.first()) {
        Some(first) if config["InstanceType"].is_null() => first,
        _ => config,
    };
    let mut resources = Map::new();
    copy_given(
        source,
        &[
            "InstanceType",
            "InstanceCount",
            "VolumeSizeInGB",
            "VolumeKmsKeyId",
        ],
        &mut resources,
    );
    (!resources.is_empty()).then_some(Value::Object(resources))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::jobs::describe::describe;

    fn tuning_answer() -> Value {
        let request = json!({
            "HyperParameterTuningJobConfig": {
                "Strategy": "Bayesian",
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 60, "MaxParallelTrainingJobs": 2},
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
                "ParameterRanges": {"IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "10"}]}},
            "TrainingJobDefinition": {
                "AlgorithmSpecification": {"TrainingImage": "xgboost:1", "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": "train:rmse", "Regex": "x"}]},
                "RoleArn": "arn:aws:iam::123456789012:role/Role",
                "OutputDataConfig": {"S3OutputPath": "s3://b/tuning/"},
                "HyperParameterTuningResourceConfig": {"InstanceConfigs": [
                    {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}]},
                "StaticHyperParameters": {"objective": "reg:squarederror", "num_round": "50"},
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600}}});
        describe("Tuning", &request, &json!({}), "0xexec-Tune-0a1b2c3d", 5.0).0
    }

    #[test]
    fn every_training_job_a_tuning_job_listed_is_described_as_it_was_listed() {
        let tuning = tuning_answer();
        let best = &tuning["BestTrainingJob"];
        let name = best["TrainingJobName"].as_str().unwrap();
        let answer = training_job(&tuning, &name.to_uppercase()).unwrap();
        assert_eq!(answer["TrainingJobName"], best["TrainingJobName"]);
        assert_eq!(answer["TrainingJobArn"], best["TrainingJobArn"]);
        assert_eq!(answer["TuningJobArn"], tuning["HyperParameterTuningJobArn"]);
        assert_eq!(
            answer["ModelArtifacts"]["S3ModelArtifacts"],
            json!(format!("s3://b/tuning/{name}/output/model.tar.gz"))
        );
        assert_eq!(answer["HyperParameters"]["max_depth"], "2");
        assert_eq!(answer["HyperParameters"]["num_round"], "50");
        assert_eq!(
            answer["HyperParameters"]["_tuning_objective_metric"],
            "validation:rmse"
        );
        let metrics = answer["FinalMetricDataList"].as_array().unwrap();
        let objective = metrics
            .iter()
            .find(|m| m["MetricName"] == "validation:rmse")
            .unwrap();
        assert_eq!(
            objective["Value"],
            best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        );
        assert_eq!(answer["ResourceConfig"]["InstanceType"], "ml.m5.xlarge");
        assert_eq!(
            answer["AlgorithmSpecification"]["TrainingImage"],
            "xgboost:1"
        );
    }

    #[test]
    fn a_job_past_the_fifty_listed_is_found_and_a_made_up_one_is_not() {
        let tuning = tuning_answer();
        let search = TuningSearch::of(&tuning, "0xexec-Tune-0a1b2c3d");
        let last = search.training_job_name(59);
        assert!(training_job(&tuning, &last).is_some());
        // One past the job count, a wrong hash, another tuning job's name.
        assert!(training_job(&tuning, &search.training_job_name(60)).is_none());
        let best = search.training_job_name(0);
        let flipped = if best.ends_with('0') { '1' } else { '0' };
        let wrong_hash = format!("{}{flipped}", &best[..best.len() - 1]);
        assert!(training_job(&tuning, &wrong_hash).is_none());
        assert!(training_job(&tuning, "other-001-12345678").is_none());
        let not_tuning = json!({"TrainingJobName": "x"});
        assert!(training_job(&not_tuning, &last).is_none());
    }
}
