//! What the SageMaker endpoint does with each member of the requests it serves, checked
//! against SageMaker's service model (`requests.json`, written from botocore's
//! `service-2.json` by scripts/request-shapes) before a request is answered.

use serde_json::Value;

use crate::aws_json::AwsError;
use crate::service_model::ServiceModel;

/// The request members each served operation honours, every one with a test; together
/// with `UNSUPPORTED` they are every member the model defines (a unit test holds them to
/// it), so a member a newer model adds is refused until it is honoured here.
pub const HONOURED: [(&str, &[&str]); 29] = [
    ("AddTags", &["ResourceArn", "Tags"]),
    (
        "CreatePipeline",
        &[
            "ClientRequestToken",
            "ParallelismConfiguration",
            "PipelineDefinition",
            "PipelineDefinitionS3Location",
            "PipelineDescription",
            "PipelineDisplayName",
            "PipelineName",
            "RoleArn",
            "Tags",
        ],
    ),
    ("DeletePipeline", &["ClientRequestToken", "PipelineName"]),
    ("DeleteTags", &["ResourceArn", "TagKeys"]),
    ("DescribePipeline", &["PipelineName", "PipelineVersionId"]),
    (
        "DescribePipelineDefinitionForExecution",
        &["PipelineExecutionArn"],
    ),
    ("DescribePipelineExecution", &["PipelineExecutionArn"]),
    ("DescribeAutoMLJob", &["AutoMLJobName"]),
    (
        "DescribeHyperParameterTuningJob",
        &["HyperParameterTuningJobName"],
    ),
    ("DescribeJob", &["JobCategory", "JobName"]),
    ("DescribeModel", &["ModelName"]),
    (
        "DescribeModelPackage",
        &["IncludedData", "ModelPackageName"],
    ),
    ("DescribeProcessingJob", &["ProcessingJobName"]),
    ("DescribeTrainingJob", &["TrainingJobName"]),
    ("DescribeTransformJob", &["TransformJobName"]),
    (
        "ListPipelineExecutionSteps",
        &[
            "MaxResults",
            "NextToken",
            "PipelineExecutionArn",
            "SortOrder",
        ],
    ),
    (
        "ListPipelineExecutions",
        &[
            "CreatedAfter",
            "CreatedBefore",
            "MaxResults",
            "NextToken",
            "PipelineName",
            "SortBy",
            "SortOrder",
        ],
    ),
    (
        "ListPipelineParametersForExecution",
        &["MaxResults", "NextToken", "PipelineExecutionArn"],
    ),
    (
        "ListPipelineVersions",
        &[
            "CreatedAfter",
            "CreatedBefore",
            "MaxResults",
            "NextToken",
            "PipelineName",
            "SortOrder",
        ],
    ),
    (
        "ListPipelines",
        &[
            "CreatedAfter",
            "CreatedBefore",
            "MaxResults",
            "NextToken",
            "PipelineNamePrefix",
            "SortBy",
            "SortOrder",
        ],
    ),
    ("ListTags", &["MaxResults", "NextToken", "ResourceArn"]),
    (
        "RetryPipelineExecution",
        &[
            "ClientRequestToken",
            "ParallelismConfiguration",
            "PipelineExecutionArn",
        ],
    ),
    (
        "SendPipelineExecutionStepFailure",
        &["CallbackToken", "ClientRequestToken", "FailureReason"],
    ),
    (
        "SendPipelineExecutionStepSuccess",
        &["CallbackToken", "ClientRequestToken", "OutputParameters"],
    ),
    (
        "StartPipelineExecution",
        &[
            "ClientRequestToken",
            "MlflowExperimentName",
            "ParallelismConfiguration",
            "PipelineExecutionDescription",
            "PipelineExecutionDisplayName",
            "PipelineName",
            "PipelineParameters",
            "PipelineVersionId",
            "RoleArn",
            "SelectiveExecutionConfig",
        ],
    ),
    (
        "StopPipelineExecution",
        &["ClientRequestToken", "PipelineExecutionArn"],
    ),
    (
        "UpdatePipeline",
        &[
            "ParallelismConfiguration",
            "PipelineDefinition",
            "PipelineDefinitionS3Location",
            "PipelineDescription",
            "PipelineDisplayName",
            "PipelineName",
            "RoleArn",
        ],
    ),
    (
        "UpdatePipelineExecution",
        &[
            "ParallelismConfiguration",
            "PipelineExecutionArn",
            "PipelineExecutionDescription",
            "PipelineExecutionDisplayName",
        ],
    ),
    (
        "UpdatePipelineVersion",
        &[
            "PipelineArn",
            "PipelineVersionDescription",
            "PipelineVersionDisplayName",
            "PipelineVersionId",
        ],
    ),
];

/// The request members the model defines that the emulator refuses by name.
pub const UNSUPPORTED: [(&str, &str); 7] = [
    ("CreatePipeline", "PipelineVersionAliases"),
    ("UpdatePipeline", "PipelineVersionAliases"),
    ("DescribePipeline", "PipelineVersionAlias"),
    ("StartPipelineExecution", "PipelineVersionAlias"),
    ("ListPipelineExecutions", "PipelineVersionAlias"),
    ("UpdatePipelineVersion", "PipelineVersionAliasOperations"),
    ("ListPipelines", "ManagedBy"),
];

/// SageMaker's request shapes with the lists above.
pub static MODEL: ServiceModel =
    ServiceModel::new(include_str!("requests.json"), &HONOURED, &UNSUPPORTED);

/// Checks a request; an operation the model does not list here is left to its handler.
pub fn check(operation: &str, request: &Value) -> Result<(), AwsError> {
    MODEL
        .check(operation, request)
        .map_err(AwsError::validation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(operation: &str, request: Value) -> String {
        check(operation, &request).unwrap_err().message
    }

    #[test]
    fn names_and_lengths_are_checked_as_the_service_checks_them() {
        let ok = json!({"PipelineName": "abalone-1", "PipelineDefinition": "{}",
            "RoleArn": "arn:aws:iam::123456789012:role/pipeline", "ClientRequestToken": "x".repeat(36)});
        assert!(check("CreatePipeline", &ok).is_ok());
        let mut long = ok.clone();
        long["PipelineName"] = json!("a".repeat(10_000));
        assert!(refused("CreatePipeline", long).contains("'createPipeline.pipelineName'"));
        let mut bad = ok.clone();
        bad["PipelineName"] = json!("bad name/../x");
        assert!(refused("CreatePipeline", bad).contains("regular expression pattern"));
        let mut large = ok.clone();
        large["PipelineDefinition"] = json!("x".repeat(1_048_577));
        assert!(refused("CreatePipeline", large).contains("less than or equal to 1048576"));
        assert!(refused("CreatePipeline", json!({"PipelineName": "p"}))
            .contains("Member must not be null"));
    }

    #[test]
    fn members_outside_the_model_or_not_honoured_are_refused_by_name() {
        let message = refused(
            "DescribePipeline",
            json!({"PipelineName": "p", "PipelineVersionAlias": "prod"}),
        );
        assert!(
            message.contains("PipelineVersionAlias is not supported by the emulator"),
            "{message}"
        );
        let message = refused(
            "DescribePipeline",
            json!({"PipelineName": "p", "Colour": "red"}),
        );
        assert!(
            message.contains("'describePipeline.colour' is not a member"),
            "{message}"
        );
        let message = refused(
            "StartPipelineExecution",
            json!({"PipelineName": "p",
            "ClientRequestToken": "x".repeat(36), "SelectiveExecutionConfig": {"SelectedSteps": []}}),
        );
        assert!(
            message.contains("length greater than or equal to 1"),
            "{message}"
        );
        let message = refused("ListPipelines", json!({"SortOrder": "Sideways"}));
        assert!(message.contains("enum value set"), "{message}");
    }

    #[test]
    fn every_member_of_the_model_is_honoured_or_refused() {
        MODEL.assert_complete();
    }
}
