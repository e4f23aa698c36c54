//! The local stack's overhead per pipeline step, beyond the handler's own time, on a
//! 50-step pipeline of chained Lambda steps.

use std::time::{Duration, Instant};

use local_stack::pipeline::{start_execution, PipelineSpec, StartRequest};
use local_stack::LocalStack;
use serde_json::json;

pub const STEPS: usize = 50;

/// The overhead per step, with the wall time and the handlers' own time it comes from.
pub async fn overhead_per_step(stack: &LocalStack) -> (Duration, Duration, Duration) {
    let steps: Vec<_> = (0..STEPS)
        .map(|i| {
            let mut step = json!({"Name": format!("step{i:02}"), "Type": "Lambda",
                "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:LambdaStepFunction",
                "Arguments": {"function": "flatten-json", "json": "{\"auc\": 0.9}"},
                "OutputParameters": [{"OutputName": "auc", "OutputType": "Float"}]});
            if i > 0 {
                step["DependsOn"] = json!([format!("step{:02}", i - 1)]);
            }
            step
        })
        .collect();
    let definition = json!({"Version": "2020-12-01", "Parameters": [], "Steps": steps}).to_string();
    let pipelines = stack.sagemaker.pipelines().clone();
    pipelines
        .put_pipeline(
            PipelineSpec {
                name: "fifty".to_owned(),
                definition_text: definition,
                ..PipelineSpec::default()
            },
            false,
        )
        .expect("a valid definition");
    let function = stack.function("LambdaStepFunction").expect("deployed");
    function
        .invoke(&json!({"function": "flatten-json", "json": "{}"}))
        .await
        .expect("warm-up");

    let busy_before = function.busy_time();
    let started = Instant::now();
    let arn = start_execution(&pipelines, "fifty", &StartRequest::default()).expect("started");
    let execution = pipelines
        .wait_until_done(&arn, Duration::from_secs(120))
        .await
        .expect("finished");
    let wall = started.elapsed();
    assert_eq!(
        execution.status, "Succeeded",
        "{:?}",
        execution.failure_reason
    );
    let handler_time = function.busy_time() - busy_before;
    (
        wall.saturating_sub(handler_time) / STEPS as u32,
        wall,
        handler_time,
    )
}
