//! The pipeline operations of the SageMaker endpoint: CreatePipeline, UpdatePipeline,
//! DescribePipeline, DeletePipeline, ListPipelines, with the service model's fields
//! and error codes (botocore's SageMaker `service-2.json`).

use serde_json::{json, Value};

use super::api::Api;
use super::listing;
use crate::aws_json::{self, AwsError};
use crate::pipeline::store::{epoch, PipelineRecord};
use crate::pipeline::PipelineSpec;

pub fn max_parallel(request: &Value) -> Option<usize> {
    request["ParallelismConfiguration"]["MaxParallelExecutionSteps"]
        .as_u64()
        .map(|n| n as usize)
}

fn optional_str(request: &Value, member: &str) -> Option<String> {
    request
        .get(member)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The definition a request gives: inline, or the object PipelineDefinitionS3Location
/// names in the local S3 (the SDK uploads definitions of 100 KB and more).
async fn definition_text(api: &Api, request: &Value) -> Result<String, AwsError> {
    match (
        request.get("PipelineDefinition"),
        request.get("PipelineDefinitionS3Location"),
    ) {
        (Some(Value::String(text)), None) => Ok(text.clone()),
        (None, Some(location)) => {
            let bucket = aws_json::required_str(location, "Bucket")?;
            let key = aws_json::required_str(location, "ObjectKey")?;
            let uri = format!("s3://{bucket}/{key}");
            let runner = api.pipelines.runner().ok_or_else(|| {
                AwsError::validation("PipelineDefinitionS3Location needs the emulator's S3")
            })?;
            runner.read_s3_object(&uri).await.map_err(|e| {
                AwsError::validation(format!(
                    "Unable to read the pipeline definition from PipelineDefinitionS3Location {uri}: {e}"
                ))
            })
        }
        (Some(_), Some(_)) => Err(AwsError::validation(
            "Specify either PipelineDefinition or PipelineDefinitionS3Location, not both",
        )),
        _ => Err(AwsError::validation(
            "Either PipelineDefinition or PipelineDefinitionS3Location is required",
        )),
    }
}

async fn put(api: &Api, request: &Value, replace: bool) -> Result<Value, AwsError> {
    let name = aws_json::required_str(request, "PipelineName")?;
    if !replace {
        aws_json::required_str(request, "RoleArn")?;
    }
    let existing = api.pipelines.find_pipeline(name);
    let definition_text = match (&existing, replace) {
        // UpdatePipeline may change the description or parallelism alone.
        (Some(p), true)
            if request.get("PipelineDefinition").is_none()
                && request.get("PipelineDefinitionS3Location").is_none() =>
        {
            p.definition_text.clone()
        }
        _ => definition_text(api, request).await?,
    };
    let spec = PipelineSpec {
        name: name.to_owned(),
        definition_text,
        display_name: optional_str(request, "PipelineDisplayName"),
        description: optional_str(request, "PipelineDescription"),
        role_arn: optional_str(request, "RoleArn"),
        max_parallel: max_parallel(request),
    };
    let arn = api.pipelines.put_pipeline(spec, replace).map_err(|e| {
        if e.contains("does not exist") {
            AwsError::not_found(e)
        } else if e.contains("already exists") {
            // What the service answers, and what the SDK's Pipeline.upsert() looks for.
            AwsError::validation(e)
        } else {
            AwsError::validation(format!("Unable to parse pipeline definition. {e}"))
        }
    })?;
    if !replace {
        api.tags.add(&arn, request)?;
        return Ok(json!({"PipelineArn": arn}));
    }
    let version = api
        .pipelines
        .pipeline(name)
        .map_or(1, |p| p.latest_version());
    Ok(json!({"PipelineArn": arn, "PipelineVersionId": version}))
}

/// DescribePipeline: the latest version, or the one PipelineVersionId names.
fn describe(p: &PipelineRecord, request: &Value) -> Result<Value, AwsError> {
    let id = request["PipelineVersionId"]
        .as_u64()
        .unwrap_or(p.latest_version());
    let version = p
        .version(id)
        .ok_or_else(|| AwsError::not_found(format!("Pipeline {} has no version {id}", p.name)))?;
    let mut answer = json!({
        "PipelineArn": p.arn, "PipelineName": p.name, "PipelineDisplayName": p.display_name,
        "PipelineDefinition": version.definition_text, "PipelineStatus": "Active",
        "CreationTime": epoch(p.created), "LastModifiedTime": epoch(p.modified),
    });
    if let Some(name) = &version.display_name {
        answer["PipelineVersionDisplayName"] = json!(name);
    }
    if let Some(description) = &version.description {
        answer["PipelineVersionDescription"] = json!(description);
    }
    if let Some(description) = &p.description {
        answer["PipelineDescription"] = json!(description);
    }
    if let Some(role) = &p.role_arn {
        answer["RoleArn"] = json!(role);
    }
    if let Some(t) = p.last_execution {
        answer["LastRunTime"] = json!(epoch(t));
    }
    if let Some(n) = p.max_parallel {
        answer["ParallelismConfiguration"] = json!({"MaxParallelExecutionSteps": n});
    }
    Ok(answer)
}

fn summary(p: &PipelineRecord) -> Value {
    let mut summary = json!({
        "PipelineArn": p.arn, "PipelineName": p.name, "PipelineDisplayName": p.display_name,
        "CreationTime": epoch(p.created), "LastModifiedTime": epoch(p.modified),
    });
    for (member, value) in [
        ("PipelineDescription", &p.description),
        ("RoleArn", &p.role_arn),
    ] {
        if let Some(value) = value {
            summary[member] = json!(value);
        }
    }
    if let Some(t) = p.last_execution {
        summary["LastExecutionTime"] = json!(epoch(t));
    }
    summary
}

fn list(api: &Api, request: &Value) -> Result<Value, AwsError> {
    let prefix = request["PipelineNamePrefix"].as_str().unwrap_or_default();
    let (after, before) = (
        listing::time_filter(request, "CreatedAfter"),
        listing::time_filter(request, "CreatedBefore"),
    );
    // Summaries are made in place: a listing never copies a definition.
    let mut pipelines: Vec<(String, std::time::SystemTime, Value)> = api
        .pipelines
        .map_pipelines(|p| {
            let wanted = p.name.starts_with(prefix)
                && after.is_none_or(|t| epoch(p.created) > t)
                && before.is_none_or(|t| epoch(p.created) < t);
            wanted.then(|| (p.name.clone(), p.created, summary(p)))
        })
        .into_iter()
        .flatten()
        .collect();
    match request["SortBy"].as_str() {
        None | Some("CreationTime") => pipelines.sort_by_key(|p| p.1),
        Some("Name") => pipelines.sort_by(|a, b| a.0.cmp(&b.0)),
        Some(other) => {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{other}' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [Name, CreationTime]"
            )))
        }
    }
    if !listing::ascending(request)? {
        pipelines.reverse();
    }
    listing::page(
        pipelines.into_iter().map(|p| p.2).collect(),
        request,
        "PipelineSummaries",
    )
}

/// Answers a pipeline operation, or None when `operation` is not one.
pub async fn handle(
    api: &Api,
    operation: &str,
    request: &Value,
) -> Option<Result<Value, AwsError>> {
    let find = || {
        let name = aws_json::required_str(request, "PipelineName")?;
        api.pipelines
            .find_pipeline(name)
            .ok_or_else(|| AwsError::not_found(format!("Pipeline {name} does not exist")))
    };
    let answer = match operation {
        "CreatePipeline" => {
            api.idempotency
                .once(operation, request, || put(api, request, false))
                .await
        }
        "UpdatePipeline" => put(api, request, true).await,
        "DescribePipeline" => find().and_then(|p| describe(&p, request)),
        "DeletePipeline" => {
            api.idempotency
                .once(operation, request, || async {
                    let p = find()?;
                    api.pipelines.delete_pipeline(&p.name);
                    Ok(json!({"PipelineArn": p.arn}))
                })
                .await
        }
        "ListPipelines" => list(api, request),
        _ => return None,
    };
    Some(answer)
}
