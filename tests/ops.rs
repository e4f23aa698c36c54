//! `pipeline-steps`, the operations CLI, as the person on call runs it against the
//! emulator (its client environment, as `pipelines-emulator up` exports it).

use std::time::Duration;

use integration_tests::{
    callback_event, create_and_start, definition, deployed_stack, emr_callback_step, reported,
    sagemaker_client, step_status, wait_until, LAMBDA_ARN, QUEUE_URL,
};
use pipelines_emulator::binary_dir;
use pipelines_emulator::Emulator;
use pipelines_emulator::LOCAL_PIPELINE_ROLE;
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(60);
const RULES: [&str; 2] = ["local-emr-step-status", "local-emr-cluster-state"];

/// Runs the CLI with the stack's environment; answers the exit code, stdout, stderr.
async fn pipeline_steps(stack: &Emulator, args: &[&str]) -> (i32, String, String) {
    let output = tokio::process::Command::new(binary_dir().join("pipeline-steps"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(stack.client_env())
        .output()
        .await
        .expect("run pipeline-steps");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn waiting_lists_the_tokens_and_succeed_and_fail_finish_the_steps() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let steps = json!([
        {"Name": "Approval", "Type": "Callback", "Arguments": {"task": "event"}, "SqsQueueUrl": QUEUE_URL,
         "OutputParameters": [{"OutputName": "Approved", "OutputType": "Boolean"}]},
        emr_callback_step("Build", &["sleep", "30"]),
        {"Name": "After", "Type": "Lambda", "FunctionArn": LAMBDA_ARN,
         "Arguments": {"function": "flatten-json", "json": {"Std:Join": {"On": "",
            "Values": ["{\"approved\": ", {"Get": "Steps.Approval.OutputParameters['Approved']"}, "}"]}}},
         "OutputParameters": [{"OutputName": "approved", "OutputType": "Boolean"}]}
    ]);
    let arn = create_and_start(&client, "on-call", &definition(json!([]), steps), &[]).await;
    let engine = stack.emr.engine().clone();
    wait_until("the EMR step runs", DEADLINE, || {
        engine
            .steps("j-LOCALCLUSTER1")
            .is_ok_and(|s| s.iter().any(|s| s.state == "RUNNING"))
    })
    .await;

    let (code, out, err) = pipeline_steps(&stack, &["waiting", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let waiting: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(waiting.len(), 2, "{out}");
    let by_step = |name: &str| waiting.iter().find(|w| w["step"] == name).unwrap().clone();
    let (approval, build) = (by_step("Approval"), by_step("Build"));
    assert_eq!(approval["pipeline"], "on-call");
    assert_eq!(approval["execution_arn"], arn);
    assert_eq!(approval["task"], "event");
    assert_eq!(approval["queue_url"], QUEUE_URL);
    assert!(approval["emr_step"].is_null());
    assert_eq!(build["task"], "emr");
    assert_eq!(build["emr_step"]["cluster_id"], "j-LOCALCLUSTER1");
    assert_eq!(build["emr_step"]["state"], "RUNNING");
    let approval_token = approval["token"].as_str().unwrap().to_owned();
    let build_token = build["token"].as_str().unwrap().to_owned();

    let (code, table, _) = pipeline_steps(&stack, &["waiting", "--pipeline", "on-call"]).await;
    assert_eq!(code, 0);
    assert!(table.starts_with("PIPELINE\tEXECUTION\tSTEP"), "{table}");
    assert!(
        table.contains(&approval_token) && table.contains("RUNNING"),
        "{table}"
    );

    // Throttled reports are retried.
    stack.sagemaker.faults().throttle_next(2);
    let (code, out, err) = pipeline_steps(
        &stack,
        &["succeed", &approval_token, "--output", "Approved=true"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&arn), "{out}");
    // The execution goes on: the step after the approval reads its output.
    wait_until("the step after the approval succeeded", DEADLINE, || {
        step_status(&stack, &arn, "After").as_deref() == Some("Succeeded")
    })
    .await;
    let after = stack.sagemaker.pipelines().execution(&arn).unwrap();
    let after = after.steps.iter().find(|s| s.name == "After").unwrap();
    assert_eq!(
        after.metadata["Lambda"]["OutputParameters"],
        json!([{"Name": "approved", "Value": "true"}])
    );

    let (code, _, err) = pipeline_steps(&stack, &["succeed", &approval_token]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "the step with token {approval_token} is not waiting"
        )),
        "{err}"
    );

    let (code, _, err) = pipeline_steps(
        &stack,
        &[
            "fail",
            &build_token,
            "--reason",
            "cancelled by on-call: bad input",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let execution = stack
        .sagemaker
        .pipelines()
        .wait_until_done(&arn, DEADLINE)
        .await
        .unwrap();
    assert_eq!(
        integration_tests::ending(&execution),
        (
            "Failed".to_owned(),
            Some("Step 'Build' failed: cancelled by on-call: bad input".to_owned())
        )
    );

    let (code, _, err) = pipeline_steps(&stack, &["succeed", "short"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("'short' is not a callback token"), "{err}");
    let long_reason = "x".repeat(300);
    let (code, _, err) =
        pipeline_steps(&stack, &["fail", &build_token, "--reason", &long_reason]).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("the reason is 300 characters; SageMaker takes 1 to 256"),
        "{err}"
    );
    let outputs: Vec<String> = (0..51)
        .flat_map(|i| ["--output".to_owned(), format!("o{i}=1")])
        .collect();
    let mut args = vec!["succeed", &build_token];
    args.extend(outputs.iter().map(String::as_str));
    let (code, _, err) = pipeline_steps(&stack, &args).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("51 output parameters; SageMaker accepts at most 50"),
        "{err}"
    );
}

fn doctor_args(queue_url: &str, role: &str) -> Vec<String> {
    let mut args = vec![
        "doctor".to_owned(),
        "--queue-url".to_owned(),
        queue_url.to_owned(),
        "--pipeline-role".to_owned(),
        role.to_owned(),
    ];
    for rule in RULES {
        args.extend(["--rule".to_owned(), rule.to_owned()]);
    }
    args
}

async fn doctor(stack: &Emulator, role: &str) -> (i32, String) {
    let args = doctor_args(stack.queue_url("CallbackQueue").unwrap(), role);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, _) = pipeline_steps(stack, &args).await;
    (code, out)
}

#[tokio::test]
async fn missing_credentials_are_a_clear_error() {
    let stack = deployed_stack(&[], None).await;
    let home = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(binary_dir().join("pipeline-steps"))
        .arg("waiting")
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_REGION", "us-east-1")
        // No instance metadata: nothing but the emulator is asked.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_SAGEMAKER", stack.sagemaker.endpoint())
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("no AWS credentials found") && err.contains("AWS_PROFILE"),
        "{err}"
    );
}

#[tokio::test]
async fn doctor_passes_on_the_stack_and_names_each_broken_part_and_its_fix() {
    let stack = deployed_stack(&[], None).await;
    let (code, out) = doctor(&stack, LOCAL_PIPELINE_ROLE).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 4 + 2 * RULES.len(), "{out}");
    assert!(out.lines().all(|l| l.starts_with("ok")), "{out}");

    let (code, out) = doctor(&stack, "arn:aws:iam::123456789012:role/other").await;
    assert_eq!(code, 1);
    assert!(
        out.contains(
            "fail  the queue policy does not let arn:aws:iam::123456789012:role/other send"
        ) && out.contains("PipelineExecutionRoleArns"),
        "{out}"
    );

    let sqs = stack.sqs_client();
    sqs.send_message()
        .queue_url(stack.queue_url("CallbackDeadLetterQueue").unwrap())
        .message_body("{}")
        .send()
        .await
        .unwrap();
    let (code, out) = doctor(&stack, LOCAL_PIPELINE_ROLE).await;
    assert_eq!(code, 1);
    assert!(
        out.contains("fail  the dead-letter queue CallbackDeadLetterQueue holds 1 message(s)")
            && out.contains("pipeline-steps redrive --queue-url"),
        "{out}"
    );

    let events = stack.eventbridge_client();
    events.disable_rule().name(RULES[0]).send().await.unwrap();
    let (code, out) = doctor(&stack, LOCAL_PIPELINE_ROLE).await;
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!("fail  rule {} is DISABLED", RULES[0]))
            && out.contains(&format!("aws events enable-rule --name {}", RULES[0])),
        "{out}"
    );

    let targets = events
        .list_targets_by_rule()
        .rule(RULES[1])
        .send()
        .await
        .unwrap();
    let ids: Vec<String> = targets
        .targets()
        .iter()
        .map(|t| t.id().to_owned())
        .collect();
    events
        .remove_targets()
        .rule(RULES[1])
        .set_ids(Some(ids))
        .send()
        .await
        .unwrap();
    events.delete_rule().name(RULES[1]).send().await.unwrap();
    let (code, out) = doctor(&stack, LOCAL_PIPELINE_ROLE).await;
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!("fail  rule {} cannot be read", RULES[1]))
            && out.contains("redeploy the stack, which creates it"),
        "{out}"
    );
}

#[tokio::test]
async fn redrive_brings_a_dlq_message_back_and_the_handler_serves_it() {
    let stack = deployed_stack(&[], None).await;
    let token = "Redrive001";
    stack.sagemaker.callbacks().register(token);
    let event = callback_event(token, json!({"task": "no-such-task"}), false);
    let body = event["Records"][0]["body"].as_str().unwrap().to_owned();
    let dlq = stack
        .queue_url("CallbackDeadLetterQueue")
        .unwrap()
        .to_owned();
    stack
        .sqs_client()
        .send_message()
        .queue_url(&dlq)
        .message_body(body)
        .send()
        .await
        .unwrap();

    let journal = tempfile::tempdir().unwrap();
    let journal_file = journal.path().join("redrive.json");
    let queue = stack.queue_url("CallbackQueue").unwrap().to_owned();
    let (code, out, err) = pipeline_steps(
        &stack,
        &[
            "redrive",
            "--queue-url",
            &queue,
            "--journal",
            journal_file.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("moved 1 message(s) from CallbackDeadLetterQueue back to"),
        "{out}"
    );
    match reported(&stack, token).await {
        pipelines_emulator::CallbackState::Failed { reason, .. } => {
            assert!(reason.contains("no-such-task"), "{reason}")
        }
        other => panic!("the handler reported {other:?}"),
    }
    let left = stack
        .sqs_client()
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    assert_eq!(
        left.attributes().unwrap()
            [&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages],
        "0"
    );
}

/// The resources a deployed stack holds that doctor reads, as a CloudFormation
/// template moto can create: the queue and its DLQ, two rules targeting a function.
fn oncall_stack_template() -> String {
    json!({
        "Parameters": {"PipelineExecutionRoleArns": {"Type": "CommaDelimitedList"}},
        "Resources": {
            "CallbackDeadLetterQueue": {"Type": "AWS::SQS::Queue"},
            "CallbackQueue": {"Type": "AWS::SQS::Queue", "Properties": {"RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": ["CallbackDeadLetterQueue", "Arn"]}, "maxReceiveCount": 3}}},
            "EmrStepRule": {"Type": "AWS::Events::Rule", "Properties": {"Name": "oncall-emr-step-status",
                "EventPattern": {"source": ["aws.emr"]}, "State": "ENABLED",
                "Targets": [{"Id": "emr-events", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:oncall-EmrEvents"}]}},
            "EmrClusterRule": {"Type": "AWS::Events::Rule", "Properties": {"Name": "oncall-emr-cluster-state",
                "EventPattern": {"source": ["aws.emr"]}, "State": "DISABLED",
                "Targets": [{"Id": "emr-events", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:oncall-EmrEvents"}]}}
        },
        "Outputs": {"CallbackQueueUrl": {"Value": {"Ref": "CallbackQueue"}}}
    })
    .to_string()
}

#[tokio::test]
async fn doctor_reads_the_queue_rules_and_roles_of_a_cloudformation_stack() {
    let stack = deployed_stack(&[], None).await;
    let config = integration_tests::moto_config(&stack);
    let cloudformation = aws_sdk_cloudformation::Client::new(&config);
    cloudformation
        .create_stack()
        .stack_name("oncall")
        .template_body(oncall_stack_template())
        .parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key("PipelineExecutionRoleArns")
                .parameter_value(LOCAL_PIPELINE_ROLE)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let outputs = cloudformation
        .describe_stacks()
        .stack_name("oncall")
        .send()
        .await
        .unwrap();
    let queue_url = outputs.stacks()[0].outputs()[0]
        .output_value()
        .unwrap()
        .to_owned();
    // The queue policy of the stack, as the template's AWS::SQS::QueuePolicy sets it.
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": [LOCAL_PIPELINE_ROLE]}, "Action": "sqs:SendMessage", "Resource": "*"}]});
    stack
        .sqs_client()
        .set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::Policy,
            policy.to_string(),
        )
        .send()
        .await
        .unwrap();

    let (code, out, err) = pipeline_steps(&stack, &["doctor", "--stack", "oncall", "--json"]).await;
    assert_eq!(code, 1, "{out}{err}");
    let checks: Vec<Value> = serde_json::from_str(&out).unwrap();
    let verdict = |needle: &str| {
        checks
            .iter()
            .find(|c| c["what"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no check of {needle}: {out}"))["verdict"]
            .clone()
    };
    assert_eq!(verdict("oncall-CallbackQueue"), "ok");
    assert_eq!(verdict("the queue policy lets"), "ok");
    assert_eq!(
        verdict("rule oncall-emr-step-status exists and is ENABLED"),
        "ok"
    );
    assert_eq!(verdict("rule oncall-emr-cluster-state is DISABLED"), "fail");
    let (code, _, err) = pipeline_steps(&stack, &["doctor", "--stack", "nosuch"]).await;
    assert_eq!(code, 3);
    assert!(err.contains("nosuch"), "{err}");
}
