//! The emulator's overhead per pipeline step, beyond the handler's own time, on a
//! 50-step pipeline of chained Lambda steps.

use std::time::{Duration, Instant};

use pipelines_emulator::Emulator;
use pipelines_emulator::{start_execution, PipelineSpec, StartRequest};
use serde_json::json;

pub const STEPS: usize = 50;

/// The overhead per step, with the wall time and the handlers' own time it comes from.
pub async fn overhead_per_step(stack: &Emulator) -> (Duration, Duration, Duration) {
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
    let (_, wall) = run_to_success(&pipelines, "fifty").await;
    let handler_time = function.busy_time() - busy_before;
    (
        wall.saturating_sub(handler_time) / STEPS as u32,
        wall,
        handler_time,
    )
}

/// Mocked job steps in the 100-step pipeline.
pub const JOB_STEPS: usize = 100;

/// The wall time of a pipeline of `JOB_STEPS` mocked SageMaker job steps (Processing,
/// Training, Transform in turn, each reading the previous one's properties), from
/// StartPipelineExecution to the execution's end.
pub async fn mocked_jobs(stack: &Emulator) -> Duration {
    let steps: Vec<_> = (0..JOB_STEPS)
        .map(|i| {
            let previous = |path: &str| {
                if i == 0 {
                    json!("s3://bench/input")
                } else {
                    json!({"Get": format!("Steps.job{:03}.{path}", i - 1)})
                }
            };
            match i % 3 {
                0 => json!({"Name": format!("job{i:03}"), "Type": "Processing", "Arguments": {
                    "ProcessingInputs": [{"InputName": "in", "S3Input": {"S3Uri": previous("TransformOutput.S3OutputPath")}}],
                    "ProcessingOutputConfig": {"Outputs": [{"OutputName": "out",
                        "S3Output": {"S3Uri": format!("s3://bench/job{i:03}"), "LocalPath": "/opt/ml/processing/out"}}]}}}),
                1 => json!({"Name": format!("job{i:03}"), "Type": "Training", "Arguments": {
                    "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                        "S3Uri": previous("ProcessingOutputConfig.Outputs['out'].S3Output.S3Uri")}}}],
                    "OutputDataConfig": {"S3OutputPath": "s3://bench/models"}}}),
                _ => json!({"Name": format!("job{i:03}"), "Type": "Transform", "Arguments": {
                    "ModelName": "bench",
                    "TransformInput": {"DataSource": {"S3DataSource": {"S3Uri": previous("ModelArtifacts.S3ModelArtifacts")}}},
                    "TransformOutput": {"S3OutputPath": format!("s3://bench/job{i:03}")}}}),
            }
        })
        .collect();
    let definition = json!({"Version": "2020-12-01", "Parameters": [], "Steps": steps}).to_string();
    let pipelines = stack.sagemaker.pipelines().clone();
    pipelines
        .put_pipeline(
            PipelineSpec {
                name: "hundred-jobs".to_owned(),
                definition_text: definition,
                ..PipelineSpec::default()
            },
            false,
        )
        .expect("a valid definition");
    let (execution, wall) = run_to_success(&pipelines, "hundred-jobs").await;
    assert_eq!(execution.steps.len(), JOB_STEPS);
    wall
}

/// Steps in the large pipelines whose shape the executor's cost must not depend on.
pub const LARGE_STEPS: usize = 1_000;

/// How the steps of a large pipeline wait for each other.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// Each step depends on the one before it.
    Chain,
    /// Each step depends on every step before it (n²/2 edges).
    Dense,
}

/// The wall time of a `LARGE_STEPS`-step pipeline of mocked Processing steps of the
/// given shape, from StartPipelineExecution to the execution's end.
pub async fn large(stack: &Emulator, shape: Shape) -> Duration {
    let name = |i: usize| format!("s{i:04}");
    let steps: Vec<_> = (0..LARGE_STEPS)
        .map(|i| {
            let depends_on: Vec<String> = match shape {
                Shape::Chain => (i.saturating_sub(1)..i).map(name).collect(),
                Shape::Dense => (0..i).map(name).collect(),
            };
            json!({"Name": name(i), "Type": "Processing", "DependsOn": depends_on, "Arguments": {
                "ProcessingOutputConfig": {"Outputs": [{"OutputName": "out",
                    "S3Output": {"S3Uri": format!("s3://bench/{}", name(i)), "LocalPath": "/opt/ml/processing/out"}}]}}})
        })
        .collect();
    let definition = json!({"Version": "2020-12-01", "Parameters": [], "Steps": steps}).to_string();
    let pipeline = format!("large-{shape:?}").to_lowercase();
    let pipelines = stack.sagemaker.pipelines().clone();
    pipelines
        .put_pipeline(
            PipelineSpec {
                name: pipeline.clone(),
                definition_text: definition,
                ..PipelineSpec::default()
            },
            false,
        )
        .expect("a valid definition");
    let (execution, wall) = run_to_success(&pipelines, &pipeline).await;
    assert_eq!(execution.steps.len(), LARGE_STEPS);
    wall
}

/// Starts an execution of `pipeline` and waits for it to succeed; answers it and the
/// wall time from start to end.
async fn run_to_success(
    pipelines: &std::sync::Arc<pipelines_emulator::Pipelines>,
    pipeline: &str,
) -> (pipelines_emulator::ExecutionRecord, Duration) {
    let started = Instant::now();
    let arn = start_execution(pipelines, pipeline, &StartRequest::default()).expect("started");
    let execution = pipelines
        .wait_until_done(&arn, Duration::from_secs(600))
        .await
        .expect("finished");
    let wall = started.elapsed();
    assert_eq!(
        execution.status, "Succeeded",
        "{:?}",
        execution.failure_reason
    );
    (execution, wall)
}

/// Pipelines stored for the listing figure, each a `LARGE_STEPS`-step chain.
pub const LISTED_PIPELINES: usize = 24;

/// The median time of ListPipelines through the SageMaker endpoint with
/// `LISTED_PIPELINES` large pipelines stored, for MaxResults 1 and 100: a listing reads
/// names and dates, never the definitions, so neither grows with their size.
pub async fn list_pipelines(stack: &Emulator) -> (Duration, Duration) {
    let pipelines = stack.sagemaker.pipelines().clone();
    let steps: Vec<_> = (0..LARGE_STEPS)
        .map(|i| {
            json!({"Name": format!("s{i:04}"), "Type": "Processing",
            "DependsOn": (i.saturating_sub(1)..i).map(|j| format!("s{j:04}")).collect::<Vec<_>>(),
            "Arguments": {"AppSpecification": {"ImageUri": "image"}}})
        })
        .collect();
    let definition = json!({"Version": "2020-12-01", "Parameters": [], "Steps": steps}).to_string();
    for n in 0..LISTED_PIPELINES {
        pipelines
            .put_pipeline(
                PipelineSpec {
                    name: format!("listed-{n:02}"),
                    definition_text: definition.clone(),
                    ..PipelineSpec::default()
                },
                false,
            )
            .expect("a valid definition");
    }
    let client = aws_sdk_sagemaker::Client::new(&pipelines_emulator::sdk_config(
        &stack.sagemaker.endpoint(),
        stack.credentials(),
    ));
    let median = |max: i32| {
        let client = client.clone();
        async move {
            let mut times = Vec::new();
            for _ in 0..21 {
                let started = Instant::now();
                let listed = client
                    .list_pipelines()
                    .max_results(max)
                    .send()
                    .await
                    .expect("ListPipelines");
                times.push(started.elapsed());
                assert!(!listed.pipeline_summaries().is_empty());
            }
            times.sort();
            times[times.len() / 2]
        }
    };
    let one = median(1).await;
    let hundred = median(100).await;
    (one, hundred)
}
