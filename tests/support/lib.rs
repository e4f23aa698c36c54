//! What the integration tests share: fixtures from events/, SDK clients pointed at the
//! emulator, and a capture of the events published on the bus.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use pipelines_emulator::Emulator;
use serde_json::{json, Value};

pub mod cli;
pub mod code_runs;
pub mod raw;
pub mod readme;

/// A file of events/, parsed.
pub fn fixture(name: &str) -> Value {
    let path = pipelines_emulator::workspace_root()
        .join("events")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The tokens of the callback messages in an SQS fixture.
pub fn tokens_in(sqs_event: &Value) -> Vec<String> {
    sqs_event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| serde_json::from_str::<Value>(r["body"].as_str()?).ok())
        .filter_map(|body| body["token"].as_str().map(str::to_owned))
        .collect()
}

/// The message ids of the records a batch response asks to retry.
pub fn batch_item_failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("not a batch response: {response}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

/// An SDK configuration for moto server.
pub fn moto_config(stack: &Emulator) -> SdkConfig {
    pipelines_emulator::sdk_config(&stack.moto.endpoint(), stack.credentials())
}

/// Every event on the default bus with a given source, delivered by an EventBridge
/// rule into an SQS queue of moto's, as a real subscriber would receive them.
pub struct BusCapture {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl BusCapture {
    pub async fn new(stack: &Emulator, source: &str) -> Self {
        let config = moto_config(stack);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let events = aws_sdk_eventbridge::Client::new(&config);
        let queue_url = sqs
            .create_queue()
            .queue_name("bus-capture")
            .send()
            .await
            .expect("create capture queue")
            .queue_url
            .unwrap();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("capture queue arn")
            .attributes
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        events
            .put_rule()
            .name("bus-capture")
            .event_pattern(json!({"source": [source]}).to_string())
            .send()
            .await
            .expect("put rule");
        events
            .put_targets()
            .rule("bus-capture")
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("capture")
                    .arn(queue_arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("put targets");
        Self { sqs, queue_url }
    }

    /// Waits until `count` events have arrived, or panics at the deadline.
    pub async fn expect(&self, count: usize, deadline: Duration) -> Vec<Value> {
        let mut received = self.take(count, deadline).await;
        assert_eq!(
            received.len(),
            count,
            "events received before the deadline: {received:?}"
        );
        received.sort_by_key(|e| e["detail"]["token"].as_str().unwrap_or_default().to_owned());
        received
    }

    /// Receives for `deadline` and returns whatever arrived (to prove that nothing did).
    pub async fn take(&self, at_most: usize, deadline: Duration) -> Vec<Value> {
        let end = Instant::now() + deadline;
        let mut received = Vec::new();
        while received.len() < at_most && Instant::now() < end {
            let answer = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receive");
            for message in answer.messages.unwrap_or_default() {
                received.push(serde_json::from_str(message.body().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .expect("delete");
            }
        }
        received
    }
}

/// Waits until `condition` holds, checking every 20 ms, or panics at the deadline.
pub async fn wait_until(what: &str, deadline: Duration, mut condition: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !condition() {
        assert!(Instant::now() < end, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An SQS event of one Callback step message, as Lambda receives it from the queue.
pub fn callback_event(token: &str, arguments: Value, stopping: bool) -> Value {
    let mut body = json!({
        "token": token,
        "pipelineExecutionArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/demo/execution/local0001",
        "arguments": arguments,
    });
    if stopping {
        body["status"] = json!("Stopping");
    }
    json!({"Records": [{
        "messageId": format!("msg-{token}-{}", if stopping { "stop" } else { "start" }),
        "receiptHandle": "local",
        "body": body.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:callback-queue",
        "awsRegion": "us-east-1"
    }]})
}

/// A stack with infra/template.yaml deployed and the standing cluster started.
pub async fn deployed_stack(
    parameters: &[(&str, &str)],
    visibility_timeout: Option<Duration>,
) -> Emulator {
    let mut stack = Emulator::start().await.expect("emulator");
    let options = pipelines_emulator::DeployOptions {
        parameters: parameters
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        visibility_timeout,
        ..Default::default()
    };
    stack.deploy(&options).await.expect("deploy the template");
    stack.start_standing_cluster();
    stack
}

/// The name an ARN ends with: what a Describe* call takes for a job a step's metadata
/// names.
pub fn name_in_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// aws-sdk-sagemaker pointed at the stack's SageMaker endpoint.
pub fn sagemaker_client(stack: &Emulator) -> aws_sdk_sagemaker::Client {
    aws_sdk_sagemaker::Client::new(&pipelines_emulator::sdk_config(
        &stack.sagemaker.endpoint(),
        stack.credentials(),
    ))
}

/// A definition file of infra/pipelines/, as text.
pub fn pipeline_file(name: &str) -> String {
    let path = pipelines_emulator::workspace_root()
        .join("infra/pipelines")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A Version 2020-12-01 definition of these steps.
pub fn definition(parameters: Value, steps: Value) -> String {
    json!({"Version": "2020-12-01", "Metadata": {}, "Parameters": parameters, "Steps": steps})
        .to_string()
}

pub const QUEUE_URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/CallbackQueue";
pub const LAMBDA_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:LambdaStepFunction";

/// A Callback step of task `emr` on the standing cluster running `command`.
pub fn emr_callback_step(name: &str, command: &[&str]) -> Value {
    json!({"Name": name, "Type": "Callback",
           "Arguments": {"task": "emr", "cluster_id": pipelines_emulator::STANDING_CLUSTER_ID,
                         "args": serde_json::to_string(command).unwrap(), "step_name": name},
           "SqsQueueUrl": QUEUE_URL,
           "OutputParameters": [{"OutputName": "StepId", "OutputType": "String"},
                                {"OutputName": "State", "OutputType": "String"}]})
}

/// Creates a pipeline through the SageMaker API and starts an execution of it.
pub async fn create_and_start(
    client: &aws_sdk_sagemaker::Client,
    name: &str,
    definition: &str,
    parameters: &[(&str, &str)],
) -> String {
    client
        .create_pipeline()
        .pipeline_name(name)
        .pipeline_definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/pipeline")
        .client_request_token(format!("create-{name}-0000000000000000000000"))
        .send()
        .await
        .expect("create pipeline");
    client
        .start_pipeline_execution()
        .pipeline_name(name)
        .set_pipeline_parameters(Some(
            parameters
                .iter()
                .map(|(n, v)| {
                    aws_sdk_sagemaker::types::Parameter::builder()
                        .name(*n)
                        .value(*v)
                        .build()
                })
                .collect(),
        ))
        .client_request_token(format!("start-{name}-00000000000000000000000"))
        .send()
        .await
        .expect("start execution")
        .pipeline_execution_arn
        .unwrap()
}

/// Waits for the report on a callback step's token, or panics at the deadline.
pub async fn reported(stack: &Emulator, token: &str) -> pipelines_emulator::CallbackState {
    stack
        .sagemaker
        .callbacks()
        .wait_for_report(token, Duration::from_secs(30))
        .await
        .unwrap_or_else(|| panic!("no report for {token}"))
}

/// Waits until the newest EMR step on `cluster` of the local EMR is in `state`.
pub async fn wait_for_newest_step(stack: &Emulator, cluster: &str, state: &str) {
    let engine = stack.emr.engine();
    wait_until(
        &format!("the newest step on {cluster} is {state}"),
        Duration::from_secs(60),
        || {
            engine
                .steps(cluster)
                .ok()
                .and_then(|steps| steps.first().map(|s| s.state == state))
                .unwrap_or(false)
        },
    )
    .await;
}

/// The status of a step of an execution, as the stack holds it.
pub fn step_status(stack: &Emulator, arn: &str, step: &str) -> Option<String> {
    stack
        .sagemaker
        .pipelines()
        .execution(arn)?
        .steps
        .iter()
        .find(|s| s.name == step)
        .map(|s| s.status.clone())
}

/// CreatePipeline through the SageMaker API; the service's error code and message, if
/// refused.
pub async fn create_pipeline(
    client: &aws_sdk_sagemaker::Client,
    name: &str,
    definition: &str,
) -> Result<(), (String, String)> {
    client
        .create_pipeline()
        .pipeline_name(name)
        .pipeline_definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/pipeline")
        .send()
        .await
        .map(drop)
        .map_err(|e| {
            let e = e.into_service_error();
            (
                e.meta().code().unwrap_or_default().to_owned(),
                e.meta().message().unwrap_or_default().to_owned(),
            )
        })
}

/// ListPipelineExecutionSteps of an execution, newest first.
pub async fn execution_steps(
    client: &aws_sdk_sagemaker::Client,
    arn: &str,
) -> Vec<aws_sdk_sagemaker::types::PipelineExecutionStep> {
    client
        .list_pipeline_execution_steps()
        .pipeline_execution_arn(arn)
        .send()
        .await
        .unwrap()
        .pipeline_execution_steps
        .unwrap_or_default()
}

/// How an execution ended: its status and what its first failed step said (a Fail
/// step's message, or `Step 'X' failed: ...`, as the live view ends with it). A failed
/// execution's own FailureReason is checked to be SageMaker's words, whatever the step
/// said.
pub fn ending(execution: &pipelines_emulator::ExecutionRecord) -> (String, Option<String>) {
    if execution.status == "Failed" {
        assert_eq!(
            execution.failure_reason.as_deref(),
            Some(pipelines_emulator::STEP_FAILURE),
            "a failed execution's FailureReason"
        );
    }
    (execution.status.clone(), execution.failed_step.clone())
}

/// A definition the SageMaker SDK wrote (`tests/sdk/definitions/<major>/<name>.json`).
pub fn sdk_definition(major: &str, name: &str) -> String {
    let path = format!(
        "{}/sdk/definitions/{major}/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Starts an execution of an existing pipeline with these parameters.
pub async fn start_again(
    client: &aws_sdk_sagemaker::Client,
    pipeline: &str,
    parameters: &[(&str, &str)],
) -> String {
    let mut start = client.start_pipeline_execution().pipeline_name(pipeline);
    for (name, value) in parameters {
        start = start.pipeline_parameters(
            aws_sdk_sagemaker::types::Parameter::builder()
                .name(*name)
                .value(*value)
                .build(),
        );
    }
    start
        .send()
        .await
        .expect("start execution")
        .pipeline_execution_arn
        .unwrap()
}

/// The execution once it ended (within a minute).
pub async fn finished(stack: &Emulator, arn: &str) -> pipelines_emulator::ExecutionRecord {
    stack
        .sagemaker
        .pipelines()
        .wait_until_done(arn, Duration::from_secs(60))
        .await
        .unwrap_or_else(|| panic!("{arn} did not end"))
}

/// The step named `name` of a ListPipelineExecutionSteps answer.
pub fn listed<'a>(
    steps: &'a [aws_sdk_sagemaker::types::PipelineExecutionStep],
    name: &str,
) -> &'a aws_sdk_sagemaker::types::PipelineExecutionStep {
    steps
        .iter()
        .find(|s| s.step_name() == Some(name))
        .unwrap_or_else(|| panic!("no step {name} listed"))
}
