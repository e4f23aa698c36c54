//! Pipeline definitions end to end on the emulator, driven through its SageMaker
//! endpoint with aws-sdk-sagemaker, with infra/template.yaml deployed.

use std::time::Duration;

use aws_sdk_sagemaker::types::{ParallelismConfiguration, PipelineExecutionStatus, StepStatus};
use integration_tests::{
    create_and_start, definition, deployed_stack, emr_callback_step, fixture, pipeline_file,
    sagemaker_client, step_status, wait_for_newest_step, wait_until, LAMBDA_ARN, QUEUE_URL,
};
use pipelines_emulator::Emulator;
use pipelines_emulator::STANDING_CLUSTER_ID;
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(60);

async fn finished(stack: &Emulator, arn: &str) -> pipelines_emulator::ExecutionRecord {
    stack
        .sagemaker
        .pipelines()
        .wait_until_done(arn, DEADLINE)
        .await
        .unwrap_or_else(|| panic!("{arn} did not finish"))
}

#[tokio::test]
async fn the_demo_runs_lambda_condition_and_emr_callback_to_success() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let arn = create_and_start(&client, "demo", &pipeline_file("demo.json"), &[]).await;
    finished(&stack, &arn).await;

    let described = client
        .describe_pipeline_execution()
        .pipeline_execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.pipeline_execution_status,
        Some(PipelineExecutionStatus::Succeeded)
    );
    let steps = client
        .list_pipeline_execution_steps()
        .pipeline_execution_arn(&arn)
        .send()
        .await
        .unwrap()
        .pipeline_execution_steps
        .unwrap();
    let names: Vec<&str> = steps.iter().filter_map(|s| s.step_name()).collect();
    assert_eq!(
        names,
        ["BuildFeatures", "ClusterReady", "CheckCluster"],
        "newest first"
    );
    assert!(steps
        .iter()
        .all(|s| s.step_status() == Some(&StepStatus::Succeeded)));
    let callback = steps[0]
        .metadata()
        .and_then(|m| m.callback())
        .expect("Callback metadata");
    assert_eq!(callback.callback_token().map(str::len), Some(10));
    assert_eq!(callback.sqs_queue_url(), Some(QUEUE_URL));
    let outputs: Vec<(&str, &str)> = callback
        .output_parameters()
        .iter()
        .map(|o| (o.name().unwrap_or_default(), o.value().unwrap_or_default()))
        .collect();
    assert!(
        outputs.contains(&("ClusterId", STANDING_CLUSTER_ID)),
        "{outputs:?}"
    );
    assert!(outputs.contains(&("State", "COMPLETED")), "{outputs:?}");
    let lambda = steps[2]
        .metadata()
        .and_then(|m| m.lambda())
        .expect("Lambda metadata");
    assert!(lambda
        .output_parameters()
        .iter()
        .any(|o| o.name() == Some("Ready") && o.value() == Some("true")));
    let condition = steps[1]
        .metadata()
        .and_then(|m| m.condition())
        .expect("Condition metadata");
    assert_eq!(condition.outcome().map(|o| o.as_str()), Some("True"));
}

#[tokio::test]
async fn the_demo_fails_fast_with_a_joined_message_when_the_cluster_is_not_ready() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let arn = create_and_start(
        &client,
        "demo",
        &pipeline_file("demo.json"),
        &[("ClusterId", "j-NOSUCHCLUSTER")],
    )
    .await;
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Failed");
    let reason = integration_tests::ending(&execution).1.unwrap();
    assert!(reason.starts_with("EMR cluster j-NOSUCHCLUSTER cannot take the step: cluster j-NOSUCHCLUSTER cannot be used"), "{reason}");
    assert_eq!(
        step_status(&stack, &arn, "BuildFeatures"),
        None,
        "the If branch never ran"
    );
}

#[tokio::test]
async fn stop_during_a_callback_reaches_the_handler_and_the_execution_ends_stopped() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let steps = json!([emr_callback_step("LongJob", &["sleep", "30"])]);
    let arn = create_and_start(&client, "long", &definition(json!([]), steps), &[]).await;
    wait_for_newest_step(&stack, STANDING_CLUSTER_ID, "RUNNING").await;

    client
        .stop_pipeline_execution()
        .pipeline_execution_arn(&arn)
        .client_request_token("stop-long-000000000000000000000000")
        .send()
        .await
        .unwrap();
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Stopped");
    let step = &execution.steps[0];
    assert_eq!(step.status, "Stopped");
    let reason = step.failure_reason.as_deref().unwrap();
    assert!(
        reason.contains("pipeline stopped") && reason.contains("step cancelled"),
        "{reason}"
    );
    wait_for_newest_step(&stack, STANDING_CLUSTER_ID, "CANCELLED").await;
}

#[tokio::test]
async fn parallelism_configuration_caps_the_steps_running_at_once() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let emr_step = |name: &str| {
        json!({"Name": name, "Type": "EMR", "Arguments": {
            "ClusterConfig": {"ReleaseLabel": "emr-7.5.0", "Instances": {"InstanceCount": 1}},
            "StepConfig": {"HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["sleep", "0.5"]}}}})
    };
    let steps = json!([emr_step("a"), emr_step("b"), emr_step("c"), emr_step("d")]);
    client
        .create_pipeline()
        .pipeline_name("wide")
        .pipeline_definition(definition(json!([]), steps))
        .role_arn("arn:aws:iam::123456789012:role/pipeline")
        .parallelism_configuration(
            ParallelismConfiguration::builder()
                .max_parallel_execution_steps(2)
                .build(),
        )
        .client_request_token("create-wide-000000000000000000000000")
        .send()
        .await
        .unwrap();
    let arn = client
        .start_pipeline_execution()
        .pipeline_name("wide")
        .client_request_token("start-wide-0000000000000000000000000")
        .send()
        .await
        .unwrap()
        .pipeline_execution_arn
        .unwrap();
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Succeeded");
    // The most steps whose [start, end] overlap at any moment.
    let mut edges: Vec<(std::time::SystemTime, i32)> = execution
        .steps
        .iter()
        .flat_map(|s| [(s.started, 1), (s.ended.unwrap(), -1)])
        .collect();
    edges.sort();
    let peak = edges
        .iter()
        .scan(0, |running, (_, d)| {
            *running += d;
            Some(*running)
        })
        .max()
        .unwrap();
    assert_eq!(peak, 2, "at most two at once, and two did run together");
}

#[tokio::test]
async fn a_crashing_handler_gets_its_message_again_then_the_dlq_keeps_it() {
    // RECORD_CONCURRENCY=abc stops callback-queue at init: every invocation fails.
    let stack = deployed_stack(
        &[("RecordConcurrency", "abc"), ("MaxReceiveCount", "2")],
        Some(Duration::from_secs(1)),
    )
    .await;
    let sqs = stack.sqs_client();
    let body = json!({"token": "CrashTok01", "pipelineExecutionArn":
        "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/x1", "arguments": {"task": "event"}}).to_string();
    sqs.send_message()
        .queue_url(stack.queue_url("CallbackQueue").unwrap())
        .message_body(&body)
        .send()
        .await
        .unwrap();

    let dlq = stack
        .queue_url("CallbackDeadLetterQueue")
        .unwrap()
        .to_owned();
    let mut moved = None;
    let end = std::time::Instant::now() + DEADLINE;
    while moved.is_none() && std::time::Instant::now() < end {
        let answer = sqs
            .receive_message()
            .queue_url(&dlq)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        moved = answer.messages.unwrap_or_default().into_iter().next();
    }
    assert_eq!(
        moved.expect("the message reached the DLQ").body(),
        Some(body.as_str())
    );
    let logs = stack
        .function("CallbackQueueFunction")
        .unwrap()
        .logs()
        .join("\n");
    assert!(
        logs.contains("RECORD_CONCURRENCY"),
        "the init error is logged: {logs}"
    );
    assert!(
        stack
            .function("CallbackQueueFunction")
            .unwrap()
            .logs()
            .len()
            >= 2,
        "tried more than once"
    );
}

#[tokio::test]
async fn throttling_and_server_errors_on_reports_delay_but_do_not_lose_the_step() {
    let stack = deployed_stack(&[], Some(Duration::from_secs(1))).await;
    // More errors than the SDK retries (3 attempts), so the message goes back to the queue.
    stack.sagemaker.faults().throttle_next(4);
    stack.sagemaker.faults().fail_next(4);
    let client = sagemaker_client(&stack);
    let steps = json!([emr_callback_step("Quick", &["true"])]);
    let arn = create_and_start(&client, "faulty", &definition(json!([]), steps), &[]).await;
    let execution = finished(&stack, &arn).await;
    assert_eq!(
        execution.status, "Succeeded",
        "{:?}",
        execution.failure_reason
    );
    assert_eq!(
        stack.emr.engine().steps(STANDING_CLUSTER_ID).unwrap().len(),
        1,
        "one EMR step despite retries"
    );
    // 8 injected errors, then the report that got through: the message came back twice.
    assert!(
        stack.sagemaker.requests_received() >= 9,
        "{}",
        stack.sagemaker.requests_received()
    );
}

#[tokio::test]
async fn an_emr_step_that_exits_1_fails_the_pipeline_with_emr_details() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let steps = json!([emr_callback_step("Broken", &["sh", "-c", "exit 1"])]);
    let arn = create_and_start(&client, "broken", &definition(json!([]), steps), &[]).await;
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Failed");
    let reason = integration_tests::ending(&execution).1.unwrap();
    assert!(
        reason.contains("FAILED: Unknown Error.: Command exited with status 1"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_cluster_terminated_under_the_step_fails_the_pipeline_with_its_reason() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let steps = json!([emr_callback_step("Doomed", &["sleep", "30"])]);
    let arn = create_and_start(&client, "doomed", &definition(json!([]), steps), &[]).await;
    let engine = stack.emr.engine().clone();
    wait_for_newest_step(&stack, STANDING_CLUSTER_ID, "RUNNING").await;
    engine.terminate(STANDING_CLUSTER_ID).unwrap();
    let execution = finished(&stack, &arn).await;
    let (status, reason) = integration_tests::ending(&execution);
    assert_eq!(status, "Failed");
    assert!(reason
        .unwrap()
        .contains("USER_REQUEST: Terminated by user request"));
}

#[tokio::test]
async fn a_dropped_emr_event_is_caught_by_the_reconcile_schedule() {
    let stack = deployed_stack(&[], None).await;
    let faults = stack.emr.engine().event_faults();
    faults.drop_next("COMPLETED", 1);
    let client = sagemaker_client(&stack);
    let steps = json!([emr_callback_step("Quiet", &["true"])]);
    let arn = create_and_start(&client, "quiet", &definition(json!([]), steps), &[]).await;
    wait_until("the completion event is dropped", DEADLINE, || {
        faults.dropped() == 1
    })
    .await;
    assert_eq!(
        step_status(&stack, &arn, "Quiet").as_deref(),
        Some("Executing")
    );

    // What the template's schedule sends; fired now rather than in five minutes.
    let answer = stack
        .function("EmrEventsFunction")
        .unwrap()
        .invoke(&fixture("scheduled-reconcile.json"))
        .await
        .unwrap();
    assert_eq!(answer["reported"], 1, "{answer}");
    assert_eq!(finished(&stack, &arn).await.status, "Succeeded");

    // The report reconcile made is counted: each is an event EventBridge never delivered.
    let function = stack.function("EmrEventsFunction").unwrap();
    let reconcile_reports = || {
        function
            .logs()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|l| l.get("ReconcileReports").and_then(Value::as_u64))
            .sum::<u64>()
    };
    wait_until("the EMF line of the reconcile", DEADLINE, || {
        reconcile_reports() == 1
    })
    .await;
}

#[tokio::test]
async fn bad_definitions_are_refused_with_what_is_wrong() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let lambda = |name: &str, depends: Value| json!({"Name": name, "Type": "Lambda", "Arguments": {}, "FunctionArn": LAMBDA_ARN, "DependsOn": depends});
    let cases = [
        (
            json!([lambda("a", json!(["b"])), lambda("b", json!(["a"]))]),
            "form a cycle",
        ),
        (
            json!([{"Name": "t", "Type": "Training", "Arguments": {}},
                   {"Name": "r", "Type": "Lambda", "FunctionArn": LAMBDA_ARN,
                    "Arguments": {"x": {"Get": "Steps.t.ModelArtifacts.S3Uri"}}}]),
            "step 'r' reads 'ModelArtifacts.S3Uri' of Training step 't', which is not a property of a Training step",
        ),
        (
            json!([lambda("a", json!(["ghost"]))]),
            "depends on 'ghost', which is not a step",
        ),
    ];
    for (i, (steps, expected)) in cases.into_iter().enumerate() {
        let err = client
            .create_pipeline()
            .pipeline_name(format!("bad{i}"))
            .pipeline_definition(definition(json!([]), steps))
            .role_arn("arn:aws:iam::123456789012:role/pipeline")
            .client_request_token(format!("create-bad{i}-00000000000000000000000000"))
            .send()
            .await
            .unwrap_err();
        let service = err.into_service_error();
        let message = aws_sdk_sagemaker::error::ProvideErrorMetadata::message(&service)
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains(expected), "{message}");
    }
}

#[tokio::test]
async fn boto3_drives_the_sagemaker_endpoint() {
    let stack = deployed_stack(&[], None).await;
    let python = pipelines_emulator::workspace_root().join(".venv/bin/python");
    let script = pipelines_emulator::workspace_root().join("tests/boto3_client.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .envs(stack.client_env())
        .output()
        .await
        .expect("run the boto3 client");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).expect("the client prints JSON");
    assert_eq!(summary["approved"]["status"], "Succeeded");
    assert_eq!(
        summary["approved"]["outputs"],
        json!([{"Name": "Approved", "Value": "true"}])
    );
    assert_eq!(summary["rejected"]["status"], "Failed");
    assert!(summary["rejected"]["step_failure"]
        .as_str()
        .unwrap()
        .contains("rejected by the reviewer"));
    assert_eq!(summary["stopped"]["status"], "Stopped");
    assert_eq!(summary["executions"], 3);
}
