//! Describe* of the jobs pipeline steps ran, mocked or real: the answer their step's
//! properties come from, as the SDK's `execution.result()` and users' code read it.

use serde_json::Value;

use super::api::Api;
use crate::aws_json::{self, AwsError};

/// The Describe operations served, with the member that names the job.
const DESCRIBES: [(&str, &str); 3] = [
    ("DescribeProcessingJob", "ProcessingJobName"),
    ("DescribeTrainingJob", "TrainingJobName"),
    ("DescribeTransformJob", "TransformJobName"),
];

pub fn handle(api: &Api, operation: &str, request: &Value) -> Option<Result<Value, AwsError>> {
    let (_, member) = DESCRIBES.iter().find(|(op, _)| *op == operation)?;
    Some(aws_json::required_str(request, member).and_then(|name| {
        api.pipelines
            .find_job(member, name)
            // What SageMaker answers for a job it does not have.
            .ok_or_else(|| AwsError::validation("Requested resource not found."))
    }))
}
