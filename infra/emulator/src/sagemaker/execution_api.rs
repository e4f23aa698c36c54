//! The execution operations of the SageMaker endpoint: StartPipelineExecution,
//! DescribePipelineExecution, ListPipelineExecutions, ListPipelineExecutionSteps,
//! StopPipelineExecution, RetryPipelineExecution, UpdatePipelineExecution,
//! DescribePipelineDefinitionForExecution and ListPipelineParametersForExecution.

use serde_json::{json, Value};

use super::api::Api;
use super::listing;
use super::pipeline_api::max_parallel;
use crate::aws_json::{self, AwsError};
use crate::pipeline::expressions::text;
use crate::pipeline::store::epoch;
use crate::pipeline::{
    retry_execution, start_execution, ExecutionRecord, SelectiveConfig, StartRequest,
};

fn execution(api: &Api, request: &Value) -> Result<ExecutionRecord, AwsError> {
    let arn = aws_json::required_str(request, "PipelineExecutionArn")?;
    api.pipelines
        .execution(arn)
        .ok_or_else(|| AwsError::not_found(format!("Pipeline execution {arn} does not exist")))
}

fn start(api: &Api, request: &Value) -> Result<Value, AwsError> {
    let name = aws_json::required_str(request, "PipelineName")?;
    let pipeline = api
        .pipelines
        .find_pipeline(name)
        .ok_or_else(|| AwsError::not_found(format!("Pipeline {name} does not exist")))?;
    let mut parameters = Vec::new();
    for p in request["PipelineParameters"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let name = aws_json::required_str(p, "Name")?;
        let value = aws_json::required_str(p, "Value")?;
        parameters.push((name.to_owned(), value.to_owned()));
    }
    let start = StartRequest {
        parameters,
        max_parallel: max_parallel(request),
        display_name: request["PipelineExecutionDisplayName"]
            .as_str()
            .map(str::to_owned),
        description: request["PipelineExecutionDescription"]
            .as_str()
            .map(str::to_owned),
        version_id: request["PipelineVersionId"].as_u64(),
        selective: selective_config(request)?,
        mlflow_experiment_name: request["MlflowExperimentName"].as_str().map(str::to_owned),
    };
    let arn = start_execution(&api.pipelines, &pipeline.name, &start).map_err(|e| {
        if e.starts_with("Pipeline execution") && e.ends_with("does not exist") {
            AwsError::not_found(e)
        } else {
            AwsError::validation(e)
        }
    })?;
    if let Some(role) = request["RoleArn"].as_str() {
        api.pipelines
            .update_execution(&arn, |e| e.role_arn = Some(role.to_owned()));
    }
    Ok(json!({"PipelineExecutionArn": arn}))
}

fn selective_config(request: &Value) -> Result<Option<SelectiveConfig>, AwsError> {
    let Some(config) = request.get("SelectiveExecutionConfig") else {
        return Ok(None);
    };
    let selected = config["SelectedSteps"]
        .as_array()
        .ok_or_else(|| AwsError::validation("SelectiveExecutionConfig needs SelectedSteps"))?
        .iter()
        .map(|step| aws_json::required_str(step, "StepName").map(str::to_owned))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(SelectiveConfig {
        source: config["SourcePipelineExecutionArn"]
            .as_str()
            .map(str::to_owned),
        selected,
    }))
}

fn retry(api: &Api, request: &Value) -> Result<Value, AwsError> {
    let arn = aws_json::required_str(request, "PipelineExecutionArn")?;
    retry_execution(&api.pipelines, arn, max_parallel(request)).map_err(|e| {
        if e.ends_with("does not exist") {
            AwsError::not_found(e)
        } else {
            AwsError::validation(e)
        }
    })?;
    Ok(json!({"PipelineExecutionArn": arn}))
}

fn update(api: &Api, request: &Value) -> Result<Value, AwsError> {
    let e = execution(api, request)?;
    api.pipelines.update_execution(&e.arn, |e| {
        if let Some(name) = request["PipelineExecutionDisplayName"].as_str() {
            e.display_name = name.to_owned();
        }
        if let Some(description) = request["PipelineExecutionDescription"].as_str() {
            e.description = Some(description.to_owned());
        }
        if let Some(n) = max_parallel(request) {
            e.max_parallel = n;
        }
    });
    Ok(json!({"PipelineExecutionArn": e.arn}))
}

fn describe(e: &ExecutionRecord) -> Value {
    let mut answer = json!({
        "PipelineArn": e.pipeline_arn, "PipelineExecutionArn": e.arn,
        "PipelineExecutionDisplayName": e.display_name,
        "PipelineExecutionStatus": e.status,
        "CreationTime": epoch(e.created), "LastModifiedTime": epoch(e.modified),
        "ParallelismConfiguration": {"MaxParallelExecutionSteps": e.max_parallel},
        "PipelineVersionId": e.version_id,
    });
    for (member, value) in [
        ("SelectiveExecutionConfig", &e.selective_config),
        ("MLflowConfig", &e.mlflow_config),
    ] {
        if let Some(value) = value {
            answer[member] = value.clone();
        }
    }
    if let Some(role) = &e.role_arn {
        answer["RoleArn"] = json!(role);
    }
    if let Some(description) = &e.description {
        answer["PipelineExecutionDescription"] = json!(description);
    }
    if let Some(config) = &e.experiment_config {
        answer["PipelineExperimentConfig"] = config.clone();
    }
    if let Some(reason) = &e.failure_reason {
        answer["FailureReason"] = json!(reason);
    }
    answer
}

fn summary(e: &ExecutionRecord) -> Value {
    let mut summary = json!({"PipelineExecutionArn": e.arn, "StartTime": epoch(e.created),
        "PipelineExecutionStatus": e.status, "PipelineExecutionDisplayName": e.display_name});
    if let Some(description) = &e.description {
        summary["PipelineExecutionDescription"] = json!(description);
    }
    if let Some(reason) = &e.failure_reason {
        summary["PipelineExecutionFailureReason"] = json!(reason);
    }
    summary
}

fn list_executions(api: &Api, request: &Value) -> Result<Value, AwsError> {
    let name = aws_json::required_str(request, "PipelineName")?;
    let pipeline = api
        .pipelines
        .find_pipeline(name)
        .ok_or_else(|| AwsError::not_found(format!("Pipeline {name} does not exist")))?;
    let (after, before) = (
        listing::time_filter(request, "CreatedAfter"),
        listing::time_filter(request, "CreatedBefore"),
    );
    let mut executions: Vec<ExecutionRecord> = api
        .pipelines
        .executions_of(&pipeline.name)
        .into_iter()
        .filter(|e| after.is_none_or(|t| epoch(e.created) > t))
        .filter(|e| before.is_none_or(|t| epoch(e.created) < t))
        .collect();
    match request["SortBy"].as_str() {
        None | Some("CreationTime") => executions.sort_by_key(|e| e.created),
        Some("PipelineExecutionArn") => executions.sort_by(|a, b| a.arn.cmp(&b.arn)),
        Some(other) => {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{other}' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [CreationTime, PipelineExecutionArn]"
            )))
        }
    }
    if !listing::ascending(request)? {
        executions.reverse();
    }
    listing::page(
        executions.iter().map(summary).collect(),
        request,
        "PipelineExecutionSummaries",
    )
}

fn list_steps(api: &Api, request: &Value) -> Result<Value, AwsError> {
    let e = execution(api, request)?;
    // Newest first by default, as the service lists them.
    let mut steps: Vec<Value> = e.steps.iter().map(|s| s.to_json()).collect();
    if !listing::ascending(request)? {
        steps.reverse();
    }
    listing::page(steps, request, "PipelineExecutionSteps")
}

fn list_parameters(api: &Api, request: &Value) -> Result<Value, AwsError> {
    let e = execution(api, request)?;
    let parameters = e
        .parameters
        .iter()
        .map(|(name, value)| json!({"Name": name, "Value": text(value)}))
        .collect();
    listing::page(parameters, request, "PipelineParameters")
}

fn stop(api: &Api, request: &Value) -> Result<Value, AwsError> {
    let arn = aws_json::required_str(request, "PipelineExecutionArn")?;
    api.pipelines.request_stop(arn).map_err(|e| {
        if e.contains("does not exist") {
            AwsError::not_found(e)
        } else {
            AwsError::conflict(e)
        }
    })?;
    Ok(json!({"PipelineExecutionArn": arn}))
}

/// Answers an execution operation, or None when `operation` is not one.
pub async fn handle(
    api: &Api,
    operation: &str,
    request: &Value,
) -> Option<Result<Value, AwsError>> {
    let answer = match operation {
        "StartPipelineExecution" => {
            api.idempotency
                .once(operation, request, || async { start(api, request) })
                .await
        }
        "StopPipelineExecution" => {
            api.idempotency
                .once(operation, request, || async { stop(api, request) })
                .await
        }
        "RetryPipelineExecution" => {
            api.idempotency
                .once(operation, request, || async { retry(api, request) })
                .await
        }
        "UpdatePipelineExecution" => update(api, request),
        "DescribePipelineExecution" => execution(api, request).map(|e| describe(&e)),
        "ListPipelineExecutions" => list_executions(api, request),
        "ListPipelineExecutionSteps" => list_steps(api, request),
        "DescribePipelineDefinitionForExecution" => execution(api, request).map(
            |e| json!({"PipelineDefinition": e.definition_text, "CreationTime": epoch(e.created)}),
        ),
        "ListPipelineParametersForExecution" => list_parameters(api, request),
        _ => return None,
    };
    Some(answer)
}
