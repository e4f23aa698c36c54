//! The Describe* answer of a mocked job step, derived from its own Arguments (the
//! Create* request, which the answer largely repeats) as SageMaker would fill it in: job
//! name and ARN, a terminal status, times, and what the service computes (a training
//! job's model artifacts, a registered model package's ARN).

use serde_json::{json, Map, Value};

use super::searches;
use crate::pipeline::store::{ACCOUNT, REGION};

/// What SageMaker names the job of a pipeline step of `step_type`:
/// `pipelines-<execution id>-<step>-<suffix>`, within the 63 characters job names take; a
/// tuning or AutoML job's name takes 32, so it is `<execution id>-<step>-<suffix>`, cut.
pub fn job_name(step_type: &str, execution_id: &str, step: &str) -> String {
    let hash = fnv(&format!("{execution_id}/{step}"));
    let clean: String = step
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let (mut name, suffix, max) = match step_type {
        "Tuning" | "AutoML" => (
            format!("{execution_id}-{clean}"),
            format!("{:08x}", hash & 0xffff_ffff),
            32,
        ),
        _ => (
            format!("pipelines-{execution_id}-{clean}"),
            format!("{:010x}", hash & 0xff_ffff_ffff),
            63,
        ),
    };
    name.truncate(max - suffix.len() - 1);
    format!("{name}-{suffix}")
}

/// The member of a job step's request that names its job.
pub fn name_member(step_type: &str) -> Option<&'static str> {
    Some(match step_type {
        "Processing" | "ClarifyCheck" | "QualityCheck" => "ProcessingJobName",
        "Training" => "TrainingJobName",
        "Transform" => "TransformJobName",
        "Tuning" => "HyperParameterTuningJobName",
        "AutoML" => "AutoMLJobName",
        "Job" => "JobName",
        _ => return None,
    })
}

/// The name of a step's job: SageMaker's own (`job_name`), or, when the definition
/// carries one (a NotebookJob step, `use_custom_job_prefix`), that name as its prefix
/// with the same suffix, so each execution's job has a name of its own.
pub fn job_name_of(step_type: &str, execution_id: &str, step: &str, request: &Value) -> String {
    let carried = name_member(step_type)
        .and_then(|member| request[member].as_str())
        .filter(|name| !name.is_empty());
    let Some(prefix) = carried else {
        return job_name(step_type, execution_id, step);
    };
    let ours = job_name(step_type, execution_id, step);
    let suffix = ours.rsplit('-').next().unwrap_or_default();
    let max = if matches!(step_type, "Tuning" | "AutoML") {
        32
    } else {
        63
    };
    let mut name: String = prefix.chars().take(max - suffix.len() - 1).collect();
    name = name.trim_end_matches('-').to_owned();
    format!("{name}-{suffix}")
}

pub(super) fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

pub(crate) fn arn(resource: &str, name: &str) -> String {
    format!(
        "arn:aws:sagemaker:{REGION}:{ACCOUNT}:{resource}/{}",
        name.to_lowercase()
    )
}

/// The synthesized answer and the step's Metadata in ListPipelineExecutionSteps, from the
/// step's evaluated Arguments and its other members (`fields`: a check step's baselines
/// and flags).
pub fn describe(
    step_type: &str,
    arguments: &Value,
    fields: &Value,
    job: &str,
    now: f64,
) -> (Value, Value) {
    let mut answer: Map<String, Value> = arguments.as_object().cloned().unwrap_or_default();
    if let Some(member) = name_member(step_type) {
        // The job's name, whatever the request carried (it is the name's prefix).
        answer.insert(member.to_owned(), json!(job));
    }
    if let Some(key) = ["EndpointConfig", "Endpoint", "InferenceComponent"]
        .into_iter()
        .find(|k| *k == step_type)
    {
        let member = format!("{key}Name");
        let name = created_name(arguments[&member].as_str(), job);
        answer.insert(member, json!(name));
    }
    let mut set = |key: &str, value: Value| {
        answer.entry(key.to_owned()).or_insert(value);
    };
    let times = |set: &mut dyn FnMut(&str, Value), start: &str, end: &str| {
        set("CreationTime", json!(now));
        set("LastModifiedTime", json!(now));
        set(start, json!(now));
        set(end, json!(now));
    };
    let metadata = match step_type {
        "Job" => {
            let job_arn = arn("job", job);
            set("JobArn", json!(job_arn));
            set("JobStatus", json!("Completed"));
            set("SecondaryStatus", json!("Completed"));
            set("CreationTime", json!(now));
            set("LastModifiedTime", json!(now));
            set("EndTime", json!(now));
            json!({"Job": {"Arn": job_arn}})
        }
        "Processing" => {
            let job_arn = arn("processing-job", job);
            set("ProcessingJobName", json!(job));
            set("ProcessingJobArn", json!(job_arn));
            set("ProcessingJobStatus", json!("Completed"));
            set("ExitMessage", json!(""));
            times(&mut set, "ProcessingStartTime", "ProcessingEndTime");
            json!({"ProcessingJob": {"Arn": job_arn}})
        }
        "Training" => {
            let job_arn = arn("training-job", job);
            set("TrainingJobName", json!(job));
            set("TrainingJobArn", json!(job_arn));
            set("TrainingJobStatus", json!("Completed"));
            set("SecondaryStatus", json!("Completed"));
            set("ModelArtifacts", model_artifacts(arguments, job));
            set(
                "FinalMetricDataList",
                Value::Array(defined_metrics(arguments, now)),
            );
            set("TrainingTimeInSeconds", json!(0));
            set("BillableTimeInSeconds", json!(0));
            times(&mut set, "TrainingStartTime", "TrainingEndTime");
            json!({"TrainingJob": {"Arn": job_arn}})
        }
        "Transform" => {
            let job_arn = arn("transform-job", job);
            set("TransformJobName", json!(job));
            set("TransformJobArn", json!(job_arn));
            set("TransformJobStatus", json!("Completed"));
            times(&mut set, "TransformStartTime", "TransformEndTime");
            json!({"TransformJob": {"Arn": job_arn}})
        }
        "Tuning" => {
            let job_arn = arn("hyper-parameter-tuning-job", job);
            set("HyperParameterTuningJobName", json!(job));
            set("HyperParameterTuningJobArn", json!(job_arn));
            set("HyperParameterTuningJobStatus", json!("Completed"));
            let found = searches::tuning(arguments, job, |name| arn("training-job", name), now);
            for (key, value) in found {
                set(&key, value);
            }
            times(
                &mut set,
                "HyperParameterTuningEndTime",
                "HyperParameterTuningEndTime",
            );
            json!({"TuningJob": {"Arn": job_arn}})
        }
        "AutoML" => {
            let job_arn = arn("automl-job", job);
            set("AutoMLJobName", json!(job));
            set("AutoMLJobArn", json!(job_arn));
            set("AutoMLJobStatus", json!("Completed"));
            set("AutoMLJobSecondaryStatus", json!("Completed"));
            for (key, value) in searches::automl(arguments, job, now) {
                set(&key, value);
            }
            times(&mut set, "EndTime", "EndTime");
            json!({"AutoMLJob": {"Arn": job_arn}})
        }
        "Model" => {
            let model_arn = arn("model", job);
            set("ModelName", json!(job));
            set("ModelArn", json!(model_arn));
            set("CreationTime", json!(now));
            json!({"Model": {"Arn": model_arn}})
        }
        "RegisterModel" => {
            // A package in a group is versioned (the group's next version, which
            // `with_package_version` sets); one with a name of its own is not.
            let unversioned = arguments["ModelPackageGroupName"].is_null()
                && arguments["ModelPackageName"].is_string();
            let (name, package_arn) = if unversioned {
                let name = arguments["ModelPackageName"].as_str().unwrap_or_default();
                (name.to_owned(), arn("model-package", name))
            } else {
                let group = arguments["ModelPackageGroupName"]
                    .as_str()
                    .unwrap_or("model-package-group");
                set("ModelPackageGroupName", json!(group));
                set("ModelPackageVersion", json!(1));
                (
                    group.to_owned(),
                    arn("model-package", &format!("{group}/1")),
                )
            };
            set("ModelPackageName", json!(name));
            set("ModelPackageArn", json!(package_arn));
            set("ModelPackageStatus", json!("Completed"));
            set(
                "ModelPackageStatusDetails",
                json!({"ValidationStatuses": []}),
            );
            set("ModelApprovalStatus", json!("PendingManualApproval"));
            set("CreationTime", json!(now));
            set("LastModifiedTime", json!(now));
            json!({"RegisterModel": {"Arn": package_arn}})
        }
        "Lineage" => {
            let lineage = lineage(arguments);
            if let Value::Object(members) = &lineage {
                for (key, value) in members {
                    set(key, value.clone());
                }
            }
            json!({ "Lineage": lineage })
        }
        "EndpointConfig" | "Endpoint" | "InferenceComponent" => {
            let (resource, key) = match step_type {
                "EndpointConfig" => ("endpoint-config", "EndpointConfig"),
                "Endpoint" => ("endpoint", "Endpoint"),
                _ => ("inference-component", "InferenceComponent"),
            };
            let name = created_name(arguments[format!("{key}Name")].as_str(), job);
            let resource_arn = arn(resource, &name);
            set(&format!("{key}Name"), json!(name));
            set(&format!("{key}Arn"), json!(resource_arn));
            if step_type == "Endpoint" {
                set("EndpointStatus", json!("InService"));
            }
            set("CreationTime", json!(now));
            json!({ key: {"Arn": resource_arn} })
        }
        "EMRServerless" => {
            let application = arguments["ApplicationId"].as_str().unwrap_or("00local");
            let run_id = format!("{:016x}", fnv(job));
            set(
                "jobRun",
                json!({"applicationId": application, "jobRunId": run_id, "state": "SUCCESS",
                "arn": format!("arn:aws:emr-serverless:{REGION}:{ACCOUNT}:/applications/{application}/jobruns/{run_id}"),
                "createdAt": now, "updatedAt": now}),
            );
            json!({"EMRServerless": {"ApplicationId": application, "JobRunId": run_id}})
        }
        "ClarifyCheck" | "QualityCheck" => {
            // The check runs as a processing job, which DescribeProcessingJob answers.
            let job_arn = arn("processing-job", job);
            set("ProcessingJobName", json!(job));
            set("ProcessingJobArn", json!(job_arn));
            set("ProcessingJobStatus", json!("Completed"));
            times(&mut set, "ProcessingStartTime", "ProcessingEndTime");
            let mut metadata = check_baselines(step_type, arguments, fields);
            if let Value::Object(baselines) = &metadata {
                for (key, value) in baselines {
                    set(key, value.clone());
                }
            }
            metadata["CheckJobArn"] = json!(job_arn);
            for key in [
                "CheckType",
                "ModelPackageGroupName",
                "SkipCheck",
                "RegisterNewBaseline",
            ] {
                if let Some(value) = fields.get(key).filter(|v| !v.is_null()) {
                    metadata[key] = value.clone();
                }
            }
            json!({ step_type: metadata })
        }
        other => json!({ other: {} }),
    };
    (Value::Object(answer), metadata)
}

/// The name of the resource an endpoint step creates: the requested name with the
/// execution-unique suffix the service appends (the job's), within 63 characters; the
/// job's own name when the request names none.
fn created_name(requested: Option<&str>, job: &str) -> String {
    let Some(requested) = requested else {
        return job.to_owned();
    };
    let suffix = job.rsplit('-').next().unwrap_or_default();
    let prefix: String = requested.chars().take(62 - suffix.len()).collect();
    format!("{}-{suffix}", prefix.trim_end_matches('-'))
}

/// What a Lineage step records, as its Metadata and properties give it: the ARN of each
/// action, artifact and context it creates, by name, and its associations between ARNs
/// (an endpoint named by name and type is the entity of that name the step creates).
fn lineage(arguments: &Value) -> Value {
    let kinds = [
        ("Actions", "ActionName", "action", "ActionArns"),
        ("Artifacts", "ArtifactName", "artifact", "ArtifactArns"),
        ("Contexts", "ContextName", "context", "ContextArns"),
    ];
    let mut out = Map::new();
    let mut by_name = Vec::new();
    for (list, name_member, resource, key) in kinds {
        let mut arns = Map::new();
        for entity in arguments[list].as_array().into_iter().flatten() {
            let Some(name) = entity[name_member].as_str() else {
                continue;
            };
            // An artifact's ARN ends with a hash, as SageMaker names artifacts.
            let id = match resource {
                "artifact" => format!(
                    "{:032x}",
                    u128::from(fnv(name)) << 64 | u128::from(fnv(&format!("artifact/{name}")))
                ),
                _ => name.to_owned(),
            };
            let entity_arn = arn(resource, &id);
            by_name.push((
                name.to_owned(),
                list.trim_end_matches('s').to_owned(),
                entity_arn.clone(),
            ));
            arns.insert(name.to_owned(), json!(entity_arn));
        }
        out.insert(key.to_owned(), Value::Object(arns));
    }
    let endpoint = |reference: &Value| -> Value {
        if let Some(given) = reference["Arn"].as_str() {
            return json!(given);
        }
        by_name
            .iter()
            .find(|(name, kind, _)| {
                reference["Name"] == name.as_str() && reference["Type"] == kind.as_str()
            })
            .map_or(Value::Null, |(_, _, arn)| json!(arn))
    };
    let associations: Vec<Value> = arguments["Associations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| json!({"SourceArn": endpoint(&a["Source"]), "DestinationArn": endpoint(&a["Destination"])}))
        .collect();
    out.insert("Associations".to_owned(), Value::Array(associations));
    Value::Object(out)
}

/// A training job's ModelArtifacts: `model.tar.gz` under its name in the S3OutputPath of
/// its request (or of the tuning job definition it ran).
pub(super) fn model_artifacts(request: &Value, job: &str) -> Value {
    let output = request["OutputDataConfig"]["S3OutputPath"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('/');
    json!({"S3ModelArtifacts": format!("{output}/{job}/output/model.tar.gz")})
}

/// One final value per metric a training job's algorithm defines, as the service
/// scrapes them (0: a mocked job prints nothing).
pub(super) fn defined_metrics(request: &Value, now: f64) -> Vec<Value> {
    request["AlgorithmSpecification"]["MetricDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["Name"].as_str())
        .map(|name| json!({"MetricName": name, "Value": 0.0, "Timestamp": now}))
        .collect()
}

/// A versioned model package's answer and step Metadata as the `version`th of its
/// group: its ModelPackageVersion and the ARN that ends with it. An unversioned
/// package's are left as they are.
pub fn with_package_version(answer: &mut Value, metadata: &mut Value, version: u64) {
    let Some(group) = answer["ModelPackageGroupName"].as_str().map(str::to_owned) else {
        return;
    };
    let package_arn = arn("model-package", &format!("{group}/{version}"));
    answer["ModelPackageVersion"] = json!(version);
    answer["ModelPackageArn"] = json!(package_arn);
    metadata["RegisterModel"]["Arn"] = json!(package_arn);
}

/// A check step's baselines, as SageMaker reports them: the check's processing job
/// writes what it calculated to its output (`constraints.json` and `statistics.json`
/// for a QualityCheck, `analysis.json` for a ClarifyCheck). The baseline the drift check
/// used is the supplied one, unless the step skips the check or registers a new
/// baseline (or none was supplied), when it is the calculated one.
fn check_baselines(step_type: &str, arguments: &Value, fields: &Value) -> Value {
    let output = arguments["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned();
    let flag =
        |key: &str| fields[key].as_bool().unwrap_or(false) || fields[key].as_str() == Some("true");
    let use_calculated = flag("SkipCheck") || flag("RegisterNewBaseline");
    let mut kinds = vec![(
        "Constraints",
        if step_type == "QualityCheck" {
            "constraints.json"
        } else {
            "analysis.json"
        },
    )];
    if step_type == "QualityCheck" {
        kinds.push(("Statistics", "statistics.json"));
    }
    let mut baselines = Map::new();
    for (kind, file) in kinds {
        let calculated = json!(format!("{output}/{file}"));
        let supplied = fields
            .get(format!("SuppliedBaseline{kind}"))
            .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()));
        let used = match supplied {
            Some(supplied) if !use_calculated => supplied.clone(),
            _ => calculated.clone(),
        };
        baselines.insert(format!("CalculatedBaseline{kind}"), calculated);
        baselines.insert(format!("BaselineUsedForDriftCheck{kind}"), used);
    }
    Value::Object(baselines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_carried_job_name_is_a_prefix_and_the_answer_names_the_job() {
        let request = json!({"TrainingJobName": "report-ipynb-2026-12-04-09-18-42-536"});
        let name = job_name_of("Training", "exec1", "Report", &request);
        assert!(
            name.starts_with("report-ipynb-2026-12-04-09-18-42-536-") && name.len() <= 63,
            "{name}"
        );
        assert_ne!(name, job_name_of("Training", "exec2", "Report", &request));
        let (answer, metadata) = describe("Training", &request, &json!({}), &name, 0.0);
        assert_eq!(answer["TrainingJobName"], name.as_str());
        assert!(metadata["TrainingJob"]["Arn"]
            .as_str()
            .unwrap()
            .ends_with(&name));
        let long =
            json!({"HyperParameterTuningJobName": "a-very-long-tuning-job-prefix-of-many-words"});
        assert!(job_name_of("Tuning", "e", "T", &long).len() <= 32);
        assert_eq!(
            job_name_of("Training", "e", "T", &json!({})),
            job_name("Training", "e", "T")
        );
    }

    #[test]
    fn a_training_jobs_artifacts_follow_its_output_path_and_name() {
        let job = job_name("Training", "0xcbnm2dexjf", "AbaloneTrain");
        assert!(
            job.starts_with("pipelines-0xcbnm2dexjf-AbaloneTrain-"),
            "{job}"
        );
        assert!(job.len() <= 63);
        let (answer, metadata) = describe(
            "Training",
            &json!({"OutputDataConfig": {"S3OutputPath": "s3://b/AbaloneTrain"}}),
            &json!({}),
            &job,
            1.0,
        );
        assert_eq!(
            answer["ModelArtifacts"]["S3ModelArtifacts"],
            json!(format!("s3://b/AbaloneTrain/{job}/output/model.tar.gz"))
        );
        assert_eq!(answer["TrainingJobStatus"], "Completed");
        assert_eq!(metadata["TrainingJob"]["Arn"], answer["TrainingJobArn"]);
    }

    #[test]
    fn a_processing_jobs_outputs_are_the_ones_it_asked_for() {
        let request = json!({"ProcessingOutputConfig": {"Outputs": [
            {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train", "LocalPath": "/opt/ml/processing/train"}}]}});
        let (answer, _) = describe("Processing", &request, &json!({}), "job", 1.0);
        assert_eq!(
            answer["ProcessingOutputConfig"],
            request["ProcessingOutputConfig"]
        );
        let (answer, metadata) = describe(
            "RegisterModel",
            &json!({"ModelPackageGroupName": "Abalone"}),
            &json!({}),
            "job",
            1.0,
        );
        assert_eq!(
            answer["ModelPackageArn"],
            json!("arn:aws:sagemaker:us-east-1:123456789012:model-package/abalone/1")
        );
        assert_eq!(metadata["RegisterModel"]["Arn"], answer["ModelPackageArn"]);
        let (mut answer, mut metadata) = (answer, metadata);
        with_package_version(&mut answer, &mut metadata, 3);
        assert_eq!(answer["ModelPackageVersion"], 3);
        assert!(metadata["RegisterModel"]["Arn"]
            .as_str()
            .unwrap()
            .ends_with("model-package/abalone/3"));
        let (answer, _) = describe(
            "RegisterModel",
            &json!({"ModelPackageName": "Churn-Model"}),
            &json!({}),
            "job",
            1.0,
        );
        assert_eq!(
            answer["ModelPackageArn"],
            json!("arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model")
        );
        assert!(answer.get("ModelPackageVersion").is_none());
        let long = job_name("Processing", "abc", &"x".repeat(100));
        assert_eq!(long.len(), 63);
        // DescribeHyperParameterTuningJob and DescribeAutoMLJob take 32 characters.
        for kind in ["Tuning", "AutoML"] {
            let short = job_name(kind, "0xcbnm2dexjf", "HyperParameterTuning");
            assert_eq!(short.len(), 32, "{short}");
            assert!(short.starts_with("0xcbnm2dexjf-Hyper"), "{short}");
        }
    }

    #[test]
    fn a_check_uses_the_supplied_baseline_unless_it_registers_a_new_one() {
        let request = json!({"ProcessingOutputConfig": {"Outputs": [{"S3Output": {"S3Uri": "s3://b/check/"}}]}});
        let supplied = json!({"SuppliedBaselineConstraints": "s3://b/old/constraints.json",
            "SuppliedBaselineStatistics": "s3://b/old/statistics.json", "RegisterNewBaseline": false});
        let (answer, metadata) = describe("QualityCheck", &request, &supplied, "job", 1.0);
        assert_eq!(
            answer["CalculatedBaselineConstraints"],
            "s3://b/check/constraints.json"
        );
        assert_eq!(
            answer["BaselineUsedForDriftCheckConstraints"],
            "s3://b/old/constraints.json"
        );
        assert_eq!(
            answer["BaselineUsedForDriftCheckStatistics"],
            "s3://b/old/statistics.json"
        );
        assert_eq!(metadata["QualityCheck"]["RegisterNewBaseline"], false);
        assert_eq!(
            answer["ProcessingJobArn"],
            metadata["QualityCheck"]["CheckJobArn"]
        );
        let mut register = supplied.clone();
        register["RegisterNewBaseline"] = json!(true);
        let (answer, _) = describe("QualityCheck", &request, &register, "job", 1.0);
        assert_eq!(
            answer["BaselineUsedForDriftCheckStatistics"],
            "s3://b/check/statistics.json"
        );
        let (answer, _) = describe("ClarifyCheck", &request, &json!({}), "job", 1.0);
        assert_eq!(
            answer["BaselineUsedForDriftCheckConstraints"],
            "s3://b/check/analysis.json"
        );
        assert!(answer.get("CalculatedBaselineStatistics").is_none());
    }
}
