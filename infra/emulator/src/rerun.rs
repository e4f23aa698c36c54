//! `pipelines-emulator rerun`: the inner loop from the command line. Reruns the named steps of
//! a pipeline on the running stack as a selective execution, on the results of the
//! latest ended execution (or the one `--from` names), and follows it to its end.

use std::time::Duration;

use aws_sdk_sagemaker::types::{SelectedStep, SelectiveExecutionConfig, SortOrder};
use aws_sdk_sagemaker::Client;

/// How often the execution's status is read while it runs.
const POLL: Duration = Duration::from_millis(200);

fn service_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: aws_sdk_sagemaker::error::SdkError<E, R>,
) -> String {
    match e.as_service_error() {
        Some(service) => service.to_string(),
        None => format!("{e:?}"),
    }
}

/// The newest execution of the pipeline that ended Succeeded or Failed: what a
/// selective execution may reference.
async fn latest_ended(client: &Client, pipeline: &str) -> Result<String, String> {
    let listed = client
        .list_pipeline_executions()
        .pipeline_name(pipeline)
        .sort_order(SortOrder::Descending)
        .max_results(100)
        .send()
        .await
        .map_err(service_error)?;
    listed
        .pipeline_execution_summaries()
        .iter()
        .find(|e| {
            matches!(
                e.pipeline_execution_status().map(|s| s.as_str()),
                Some("Succeeded" | "Failed")
            )
        })
        .and_then(|e| e.pipeline_execution_arn().map(str::to_owned))
        .ok_or_else(|| {
            format!("pipeline {pipeline} has no Succeeded or Failed execution to rerun steps of")
        })
}

/// Runs the selective execution and follows it; answers the exit code (0 Succeeded,
/// 1 Failed, 2 Stopped).
pub async fn rerun(
    sagemaker_endpoint: &str,
    credentials: &crate::auth::Credentials,
    pipeline: &str,
    steps: &[String],
    from: Option<String>,
) -> Result<i32, String> {
    let client = Client::new(&crate::stack::sdk_config(sagemaker_endpoint, credentials));
    let source = match from {
        Some(arn) => arn,
        None => latest_ended(&client, pipeline).await?,
    };
    let mut config = SelectiveExecutionConfig::builder().source_pipeline_execution_arn(&source);
    for step in steps {
        config = config.selected_steps(SelectedStep::builder().step_name(step).build());
    }
    let arn = client
        .start_pipeline_execution()
        .pipeline_name(pipeline)
        .selective_execution_config(config.build())
        .send()
        .await
        .map_err(service_error)?
        .pipeline_execution_arn
        .unwrap_or_default();
    println!("execution {arn}");
    println!("  on the results of {source}");
    let status = loop {
        let described = client
            .describe_pipeline_execution()
            .pipeline_execution_arn(&arn)
            .send()
            .await
            .map_err(service_error)?;
        let status = described
            .pipeline_execution_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        if matches!(status.as_str(), "Succeeded" | "Failed" | "Stopped") {
            break (status, described.failure_reason().map(str::to_owned));
        }
        tokio::time::sleep(POLL).await;
    };
    let listed = client
        .list_pipeline_execution_steps()
        .pipeline_execution_arn(&arn)
        .sort_order(SortOrder::Ascending)
        .send()
        .await
        .map_err(service_error)?;
    for step in listed.pipeline_execution_steps() {
        let how = match step
            .selective_execution_result()
            .and_then(|r| r.source_pipeline_execution_arn())
        {
            Some(_) => "reused".to_owned(),
            None => step.failure_reason().unwrap_or("ran").to_owned(),
        };
        println!(
            "  {:<32} {:<10} {how}",
            step.step_name().unwrap_or_default(),
            step.step_status().map(|s| s.as_str()).unwrap_or_default(),
        );
    }
    let (status, reason) = status;
    match reason {
        Some(reason) => println!("execution {status}: {reason}"),
        None => println!("execution {status}"),
    }
    Ok(match status.as_str() {
        "Succeeded" => 0,
        "Stopped" => 2,
        _ => 1,
    })
}
