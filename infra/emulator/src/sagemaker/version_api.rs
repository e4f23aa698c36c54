//! Pipeline versions: ListPipelineVersions and UpdatePipelineVersion. CreatePipeline
//! makes version 1, each UpdatePipeline that changes the definition the next;
//! DescribePipeline and StartPipelineExecution take a `PipelineVersionId`.

use serde_json::{json, Value};

use super::api::Api;
use super::listing;
use crate::aws_json::{self, AwsError};
use crate::pipeline::store::{epoch, PipelineRecord, PipelineVersion};

fn summary(pipeline: &PipelineRecord, version: &PipelineVersion) -> Value {
    let mut summary = json!({
        "PipelineArn": pipeline.arn,
        "PipelineVersionId": version.id,
        "CreationTime": epoch(version.created),
    });
    for (member, value) in [
        ("PipelineVersionDisplayName", &version.display_name),
        ("PipelineVersionDescription", &version.description),
        (
            "LastExecutionPipelineExecutionArn",
            &version.last_execution_arn,
        ),
    ] {
        if let Some(value) = value {
            summary[member] = json!(value);
        }
    }
    summary
}

fn pipeline(api: &Api, name_or_arn: &str) -> Result<PipelineRecord, AwsError> {
    api.pipelines
        .find_pipeline(name_or_arn)
        .ok_or_else(|| AwsError::not_found(format!("Pipeline {name_or_arn} does not exist")))
}

fn list(api: &Api, request: &Value) -> Result<Value, AwsError> {
    let p = pipeline(api, aws_json::required_str(request, "PipelineName")?)?;
    let (after, before) = (
        listing::time_filter(request, "CreatedAfter"),
        listing::time_filter(request, "CreatedBefore"),
    );
    let mut versions: Vec<Value> = p
        .versions
        .iter()
        .filter(|v| after.is_none_or(|t| epoch(v.created) > t))
        .filter(|v| before.is_none_or(|t| epoch(v.created) < t))
        .map(|v| summary(&p, v))
        .collect();
    // Newest first unless asked otherwise, as the service lists them.
    if !listing::ascending(request)? {
        versions.reverse();
    }
    listing::page(versions, request, "PipelineVersionSummaries")
}

fn update(api: &Api, request: &Value) -> Result<Value, AwsError> {
    let p = pipeline(api, aws_json::required_str(request, "PipelineArn")?)?;
    let id = request["PipelineVersionId"]
        .as_u64()
        .ok_or_else(|| AwsError::validation("PipelineVersionId is required"))?;
    let text = |member: &str| request[member].as_str().map(str::to_owned);
    api.pipelines
        .update_version(
            &p.name,
            id,
            text("PipelineVersionDisplayName"),
            text("PipelineVersionDescription"),
        )
        .map_err(AwsError::not_found)?;
    Ok(json!({"PipelineArn": p.arn, "PipelineVersionId": id}))
}

/// Answers a version operation, or None when `operation` is not one.
pub fn handle(api: &Api, operation: &str, request: &Value) -> Option<Result<Value, AwsError>> {
    Some(match operation {
        "ListPipelineVersions" => list(api, request),
        "UpdatePipelineVersion" => update(api, request),
        _ => return None,
    })
}
