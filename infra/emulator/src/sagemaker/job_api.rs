//! Describe* of the jobs pipeline steps ran, mocked or real: the answer their step's
//! properties come from, as the SDK's `execution.result()` and users' code read it.

use serde_json::Value;

use super::api::Api;
use crate::aws_json::{self, AwsError};
use crate::pipeline::jobs::{describe, tuned};

/// A Describe operation served: the member that names the job, where else a job of the
/// kind is found than in a step's own answer, and what SageMaker answers when it has no
/// such job.
struct Describe {
    operation: &'static str,
    member: &'static str,
    /// The answer of a job that another step's job ran, from that job's answer and the
    /// name asked for (a tuning job's training jobs).
    ran_by_another: Option<fn(&Value, &str) -> Option<Value>>,
    not_found: fn(&str) -> AwsError,
}

const DESCRIBES: [Describe; 7] = [
    Describe {
        operation: "DescribeJob",
        member: "JobName",
        ran_by_another: None,
        not_found: requested_resource,
    },
    Describe {
        operation: "DescribeProcessingJob",
        member: "ProcessingJobName",
        ran_by_another: None,
        not_found: requested_resource,
    },
    Describe {
        operation: "DescribeTrainingJob",
        member: "TrainingJobName",
        ran_by_another: Some(tuned::training_job),
        not_found: requested_resource,
    },
    Describe {
        operation: "DescribeTransformJob",
        member: "TransformJobName",
        ran_by_another: None,
        not_found: requested_resource,
    },
    Describe {
        operation: "DescribeHyperParameterTuningJob",
        member: "HyperParameterTuningJobName",
        ran_by_another: None,
        not_found: |name| {
            AwsError::not_found(format!(
                "Amazon SageMaker can't find a tuning job with name {name}"
            ))
        },
    },
    Describe {
        operation: "DescribeAutoMLJob",
        member: "AutoMLJobName",
        ran_by_another: None,
        not_found: |name| {
            AwsError::not_found(format!(
                "Amazon SageMaker can't find an AutoML job called {name}."
            ))
        },
    },
    Describe {
        operation: "DescribeModel",
        member: "ModelName",
        ran_by_another: None,
        not_found: |name| {
            AwsError::validation(format!(
                "Could not find model \"{}\".",
                describe::arn("model", name)
            ))
        },
    },
];

/// What the processing, training and transform Describe calls answer for a job that
/// does not exist (a ValidationException, whatever the model's errors say).
fn requested_resource(_: &str) -> AwsError {
    AwsError::validation("Requested resource not found.")
}

pub fn handle(api: &Api, operation: &str, request: &Value) -> Option<Result<Value, AwsError>> {
    if operation == "DescribeModelPackage" {
        return Some(model_package(api, request));
    }
    let describe = DESCRIBES.iter().find(|d| d.operation == operation)?;
    Some(
        aws_json::required_str(request, describe.member).and_then(|name| {
            api.pipelines
                .find_job(describe.member, name)
                .or_else(|| {
                    let ran = describe.ran_by_another?;
                    api.pipelines.find_in_jobs(|job| ran(job, name))
                })
                // A job of another category than the one asked for is not the one asked for.
                .filter(|job| {
                    request
                        .get("JobCategory")
                        .is_none_or(|category| job.get("JobCategory") == Some(category))
                })
                .ok_or_else(|| (describe.not_found)(name))
        }),
    )
}

/// DescribeModelPackage of a package a RegisterModel step registered, by its ARN, by
/// `<group>/<version>`, or (a package of no group) by its name.
fn model_package(api: &Api, request: &Value) -> Result<Value, AwsError> {
    let wanted = aws_json::required_str(request, "ModelPackageName")?;
    let answer = api
        .pipelines
        .find_in_jobs(|job| {
            let arn = job["ModelPackageArn"].as_str()?;
            let name = job["ModelPackageName"].as_str()?;
            let known_as = match job["ModelPackageVersion"].as_u64() {
                Some(version) => format!("{name}/{version}"),
                None => name.to_owned(),
            };
            (wanted.eq_ignore_ascii_case(arn) || wanted.eq_ignore_ascii_case(&known_as))
                .then(|| job.clone())
        })
        .ok_or_else(|| AwsError::validation(format!("ModelPackage {wanted} does not exist.")))?;
    // MetadataOnly differs from AllData only in a model card's content, which it
    // sanitizes to fields the emulator has no list of.
    if request["IncludedData"] == "MetadataOnly" && !answer["ModelCard"].is_null() {
        return Err(AwsError::validation(
            "DescribeModelPackage: IncludedData MetadataOnly of a package with a ModelCard (its sanitized ModelCardContent) is not supported by the emulator; leave it out",
        ));
    }
    Ok(answer)
}
