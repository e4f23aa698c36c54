//! The emr task, emr-events and emr-preflight as binaries, against the local EMR whose
//! steps are real processes, with EMR's events routed to emr-events as in AWS.

use std::time::Duration;

use integration_tests::{
    batch_item_failures, callback_event, fixture, moto_config, reported, wait_for_newest_step,
    wait_until,
};
use pipelines_emulator::CallbackState;
use pipelines_emulator::Emulator;
use pipelines_emulator::InvokeError;
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(30);

async fn stack() -> (Emulator, String) {
    let mut stack = Emulator::start().await.expect("emulator");
    stack
        .add_function(
            "callback-queue",
            "callback-queue",
            &[("EMR_ALLOW_CREATE_CLUSTERS", "true")],
        )
        .await
        .expect("callback-queue");
    stack
        .add_function("emr-events", "emr-events", &[])
        .await
        .expect("emr-events");
    stack.route_emr_events_to("emr-events");
    let cluster = stack.emr.engine().create_cluster(
        "shared cluster",
        Some("s3://logs/emr/".into()),
        true,
        Vec::new(),
        Vec::new(),
    );
    let engine = stack.emr.engine().clone();
    wait_until("the cluster is WAITING", DEADLINE, || {
        engine.cluster(&cluster).is_ok_and(|c| c.state == "WAITING")
    })
    .await;
    (stack, cluster)
}

fn on_cluster(cluster: &str, command: &[&str]) -> Value {
    json!({"task": "emr", "cluster_id": cluster, "args": serde_json::to_string(command).unwrap(), "step_name": "features"})
}

async fn start(stack: &Emulator, token: &str, arguments: Value) {
    stack.sagemaker.callbacks().register(token);
    let response = stack
        .function("callback-queue")
        .unwrap()
        .invoke(&callback_event(token, arguments, false))
        .await
        .unwrap();
    assert!(batch_item_failures(&response).is_empty(), "{response}");
}

#[tokio::test]
async fn a_step_that_exits_0_completes_its_callback_with_outputs() {
    let (stack, cluster) = stack().await;
    start(
        &stack,
        "ExitZero01",
        on_cluster(&cluster, &["sh", "-c", "echo features built"]),
    )
    .await;
    let CallbackState::Succeeded { outputs, .. } = reported(&stack, "ExitZero01").await else {
        panic!("not a success")
    };
    let steps = stack.emr.engine().steps(&cluster).unwrap();
    assert_eq!(steps.len(), 1);
    let step = &steps[0];
    assert_eq!(step.name, "features [sm-callback:ExitZero01]");
    let outputs: std::collections::HashMap<_, _> = outputs.into_iter().collect();
    assert_eq!(outputs["ClusterId"], cluster);
    assert_eq!(outputs["StepId"], step.id);
    assert_eq!(outputs["State"], "COMPLETED");
    assert_eq!(
        outputs["LogUri"],
        format!("s3://logs/emr/{cluster}/steps/{}/", step.id)
    );
    let stdout = std::fs::read_to_string(step.log_dir.join("stdout")).unwrap();
    assert_eq!(stdout, "features built\n");
}

#[tokio::test]
async fn a_step_that_exits_1_fails_its_callback_with_emr_details() {
    let (stack, cluster) = stack().await;
    start(
        &stack,
        "ExitOne001",
        on_cluster(&cluster, &["sh", "-c", "echo boom >&2; exit 1"]),
    )
    .await;
    let CallbackState::Failed { reason, .. } = reported(&stack, "ExitOne001").await else {
        panic!("not a failure")
    };
    let step = &stack.emr.engine().steps(&cluster).unwrap()[0];
    assert!(
        reason.starts_with(&format!(
            "EMR step {} on cluster {cluster} FAILED: Unknown Error.: Command exited with status 1",
            step.id
        )),
        "{reason}"
    );
    assert!(reason.contains("stderr"), "{reason}");
}

#[tokio::test]
async fn a_redelivered_message_runs_the_step_once() {
    let (stack, cluster) = stack().await;
    let arguments = on_cluster(&cluster, &["sleep", "1"]);
    start(&stack, "Duplicate1", arguments.clone()).await;
    start(&stack, "Duplicate1", arguments).await;
    reported(&stack, "Duplicate1").await;
    assert_eq!(stack.emr.engine().steps(&cluster).unwrap().len(), 1);
}

#[tokio::test]
async fn stop_cancels_a_running_step_and_fails_the_callback() {
    let (stack, cluster) = stack().await;
    let arguments = on_cluster(&cluster, &["sleep", "30"]);
    start(&stack, "StopMe0001", arguments.clone()).await;
    wait_for_newest_step(&stack, &cluster, "RUNNING").await;

    let response = stack
        .function("callback-queue")
        .unwrap()
        .invoke(&callback_event("StopMe0001", arguments, true))
        .await
        .unwrap();
    assert!(batch_item_failures(&response).is_empty());
    let CallbackState::Failed { reason, .. } = reported(&stack, "StopMe0001").await else {
        panic!("not a failure")
    };
    assert!(
        reason.contains("pipeline stopped") && reason.contains("step cancelled"),
        "{reason}"
    );
    wait_for_newest_step(&stack, &cluster, "CANCELLED").await;
}

#[tokio::test]
async fn a_cluster_terminated_under_a_running_step_fails_the_callback_with_its_reason() {
    let (stack, cluster) = stack().await;
    start(&stack, "Terminate1", on_cluster(&cluster, &["sleep", "30"])).await;
    wait_for_newest_step(&stack, &cluster, "RUNNING").await;
    stack.emr.engine().terminate(&cluster).unwrap();
    let CallbackState::Failed { reason, .. } = reported(&stack, "Terminate1").await else {
        panic!("not a failure")
    };
    assert!(
        reason.contains("USER_REQUEST: Terminated by user request"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_dropped_completion_event_is_caught_by_reconcile() {
    let (stack, cluster) = stack().await;
    let faults = stack.emr.engine().event_faults();
    faults.drop_next("COMPLETED", 1);
    start(&stack, "Dropped001", on_cluster(&cluster, &["true"])).await;
    wait_until("the completion event is dropped", DEADLINE, || {
        faults.dropped() == 1
    })
    .await;
    assert_eq!(
        stack.sagemaker.callbacks().state("Dropped001"),
        Some(CallbackState::Waiting)
    );

    let answer = stack
        .function("emr-events")
        .unwrap()
        .invoke(&fixture("scheduled-reconcile.json"))
        .await
        .unwrap();
    assert_eq!(answer["reported"], 1, "{answer}");
    assert!(matches!(
        reported(&stack, "Dropped001").await,
        CallbackState::Succeeded { .. }
    ));
}

#[tokio::test]
async fn a_created_cluster_runs_the_step_then_terminates() {
    let (stack, _) = stack().await;
    let arguments = json!({"task": "emr", "args": "[\"true\"]", "step_name": "one-off",
        "cluster_config": json!({"ReleaseLabel": "emr-7.5.0", "Applications": [{"Name": "Spark"}],
            "ServiceRole": "EMR_DefaultRole", "JobFlowRole": "EMR_EC2_DefaultRole", "VisibleToAllUsers": true,
            "Instances": {"InstanceCount": 1, "Ec2SubnetId": "subnet-0abc"}}).to_string()});
    start(&stack, "Created001", arguments).await;
    assert!(matches!(
        reported(&stack, "Created001").await,
        CallbackState::Succeeded { .. }
    ));
    let engine = stack.emr.engine().clone();
    wait_until("the created cluster terminates", DEADLINE, || {
        engine
            .clusters()
            .iter()
            .any(|c| c.name == "one-off [sm-callback:Created001]" && c.state == "TERMINATED")
    })
    .await;
    let created = engine
        .clusters()
        .into_iter()
        .find(|c| c.name.contains("Created001"))
        .unwrap();
    assert!(created
        .tags
        .contains(&("sagemaker-pipeline-steps".into(), "callback".into())));
    // DescribeCluster repeats the request's settings, as EMR does.
    let described = created.to_json();
    assert_eq!(described["ReleaseLabel"], "emr-7.5.0");
    assert_eq!(described["Applications"], json!([{"Name": "Spark"}]));
    assert_eq!(described["ServiceRole"], "EMR_DefaultRole");
    assert_eq!(described["VisibleToAllUsers"], true);
    assert_eq!(
        described["Ec2InstanceAttributes"],
        json!({"Ec2SubnetId": "subnet-0abc", "IamInstanceProfile": "EMR_EC2_DefaultRole"})
    );
}

#[tokio::test]
async fn emr_events_answers_the_recorded_events_and_ignores_what_is_not_ours() {
    let (stack, _) = stack().await;
    let function = stack.function("emr-events").unwrap();
    for name in [
        "emr-step-completed-no-token.json",
        "emr-step-running.json",
        "emr-cluster-terminated.json",
    ] {
        let answer = function.invoke(&fixture(name)).await.unwrap();
        assert_eq!(answer["reported"], 0, "{name}: {answer}");
        assert!(answer["ignored"].is_string(), "{name}: {answer}");
    }
    assert_eq!(stack.sagemaker.requests_received(), 0);
}

#[tokio::test]
async fn emr_preflight_reads_the_local_cluster_and_rules() {
    let (mut stack, cluster) = stack().await;
    let events = aws_sdk_eventbridge::Client::new(&moto_config(&stack));
    events
        .put_rule()
        .name("emr-step-status")
        .event_pattern(json!({"source": ["aws.emr"]}).to_string())
        .send()
        .await
        .unwrap();
    let preflight = stack
        .add_function(
            "lambda-step",
            "lambda-step",
            &[("EMR_EVENT_RULES", "emr-step-status")],
        )
        .await
        .unwrap();

    let mut inputs = fixture("lambda-step-emr-preflight.json");
    inputs["cluster_id"] = json!(cluster);
    let out = preflight.invoke(&inputs).await.unwrap();
    assert_eq!(
        out,
        json!({"Ready": true, "ClusterState": "WAITING", "PendingSteps": 0, "Reason": ""})
    );

    events
        .disable_rule()
        .name("emr-step-status")
        .send()
        .await
        .unwrap();
    let out = preflight.invoke(&inputs).await.unwrap();
    assert_eq!(out["Ready"], false);
    assert_eq!(
        out["Reason"],
        "EventBridge rule emr-step-status is DISABLED, not ENABLED"
    );

    match preflight
        .invoke(&json!({"function": "emr-preflight"}))
        .await
    {
        Err(InvokeError::Function { message, .. }) => {
            assert_eq!(message, "input 'cluster_id' is required")
        }
        other => panic!("{other:?}"),
    }
}
