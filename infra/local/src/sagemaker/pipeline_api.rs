//! The pipeline operations of the SageMaker endpoint.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::aws_json::{self, AwsError};
use crate::pipeline::store::epoch;
use crate::pipeline::{start_execution, Pipelines};

fn max_parallel(request: &Value) -> Option<usize> {
    request["ParallelismConfiguration"]["MaxParallelExecutionSteps"]
        .as_u64()
        .map(|n| n as usize)
}

fn definition_text(request: &Value) -> Result<&str, AwsError> {
    request["PipelineDefinition"].as_str().ok_or_else(|| {
        AwsError::validation(
            "PipelineDefinition is required (PipelineDefinitionS3Location is not served locally)",
        )
    })
}

/// Answers a pipeline operation, or None when `operation` is not one.
pub fn handle(
    pipelines: &Arc<Pipelines>,
    operation: &str,
    request: &Value,
) -> Option<Result<Value, AwsError>> {
    let answer = match operation {
        "CreatePipeline" | "UpdatePipeline" => (|| {
            let name = aws_json::required_str(request, "PipelineName")?;
            let replace = operation == "UpdatePipeline";
            let arn = pipelines
                .put_pipeline(
                    name,
                    definition_text(request)?,
                    max_parallel(request),
                    replace,
                )
                .map_err(|e| {
                    if e.contains("already exists") || e.contains("does not exist") {
                        AwsError::new(axum::http::StatusCode::BAD_REQUEST, "ResourceInUse", e)
                    } else {
                        AwsError::validation(format!("invalid pipeline definition: {e}"))
                    }
                })?;
            Ok(json!({"PipelineArn": arn}))
        })(),
        "DescribePipeline" => (|| {
            let name = aws_json::required_str(request, "PipelineName")?;
            let p = pipelines
                .pipeline(name)
                .ok_or_else(|| AwsError::not_found(format!("Pipeline {name} does not exist")))?;
            let mut answer = json!({
                "PipelineArn": p.arn, "PipelineName": p.name, "PipelineDisplayName": p.name,
                "PipelineDefinition": p.definition_text, "PipelineStatus": "Active",
                "CreationTime": epoch(p.created), "LastModifiedTime": epoch(p.modified),
            });
            if let Some(n) = p.max_parallel {
                answer["ParallelismConfiguration"] = json!({"MaxParallelExecutionSteps": n});
            }
            Ok(answer)
        })(),
        "DeletePipeline" => (|| {
            let name = aws_json::required_str(request, "PipelineName")?;
            let p = pipelines
                .delete_pipeline(name)
                .ok_or_else(|| AwsError::not_found(format!("Pipeline {name} does not exist")))?;
            Ok(json!({"PipelineArn": p.arn}))
        })(),
        "StartPipelineExecution" => (|| {
            let name = aws_json::required_str(request, "PipelineName")?;
            if pipelines.pipeline(name).is_none() {
                return Err(AwsError::not_found(format!(
                    "Pipeline {name} does not exist"
                )));
            }
            let overrides: Vec<(String, String)> = request["PipelineParameters"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(|p| {
                    Some((
                        p["Name"].as_str()?.to_owned(),
                        p["Value"].as_str()?.to_owned(),
                    ))
                })
                .collect();
            let arn = start_execution(pipelines, name, &overrides, max_parallel(request))
                .map_err(AwsError::validation)?;
            Ok(json!({"PipelineExecutionArn": arn}))
        })(),
        "DescribePipelineExecution" => (|| {
            let arn = aws_json::required_str(request, "PipelineExecutionArn")?;
            let e = pipelines.execution(arn).ok_or_else(|| {
                AwsError::not_found(format!("Pipeline execution {arn} does not exist"))
            })?;
            let mut answer = json!({
                "PipelineArn": e.pipeline_arn, "PipelineExecutionArn": e.arn,
                "PipelineExecutionDisplayName": e.arn.rsplit('/').next().unwrap_or_default(),
                "PipelineExecutionStatus": e.status,
                "CreationTime": epoch(e.created), "LastModifiedTime": epoch(e.modified),
            });
            if let Some(reason) = &e.failure_reason {
                answer["FailureReason"] = json!(reason);
            }
            Ok(answer)
        })(),
        "ListPipelineExecutions" => (|| {
            let name = aws_json::required_str(request, "PipelineName")?;
            let summaries: Vec<Value> = pipelines
                .executions_of(name)
                .iter()
                .map(|e| json!({"PipelineExecutionArn": e.arn, "StartTime": epoch(e.created),
                                "PipelineExecutionStatus": e.status,
                                "PipelineExecutionDisplayName": e.arn.rsplit('/').next().unwrap_or_default()}))
                .collect();
            Ok(json!({"PipelineExecutionSummaries": summaries}))
        })(),
        "ListPipelineExecutionSteps" => (|| {
            let arn = aws_json::required_str(request, "PipelineExecutionArn")?;
            let e = pipelines.execution(arn).ok_or_else(|| {
                AwsError::not_found(format!("Pipeline execution {arn} does not exist"))
            })?;
            // Newest first, as the service lists them.
            let steps: Vec<Value> = e.steps.iter().rev().map(|s| s.to_json()).collect();
            Ok(json!({"PipelineExecutionSteps": steps}))
        })(),
        "StopPipelineExecution" => (|| {
            let arn = aws_json::required_str(request, "PipelineExecutionArn")?;
            pipelines.request_stop(arn).map_err(|e| {
                if e.contains("does not exist") {
                    AwsError::not_found(e)
                } else {
                    AwsError::conflict(e)
                }
            })?;
            Ok(json!({"PipelineExecutionArn": arn}))
        })(),
        _ => return None,
    };
    Some(answer)
}
