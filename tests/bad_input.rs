//! The emulator probed as a careless client would: every refusal is in AWS's JSON
//! shape and names what is wrong; the service model's limits are enforced as the
//! service enforces them.

use integration_tests::{create_pipeline, deployed_stack, sagemaker_client};
use pipelines_emulator::Emulator;
use serde_json::{json, Value};

/// POSTs an AWS JSON 1.1 request with a raw body, signed with the stack's keys; answers
/// the status and the JSON body.
async fn post(stack: &Emulator, endpoint: &str, target: &str, body: &[u8]) -> (u16, Value) {
    let keys = stack.credentials();
    let service = if target.starts_with("SageMaker.") {
        "sagemaker"
    } else {
        "elasticmapreduce"
    };
    let (status, body) = integration_tests::raw::post_json(
        endpoint,
        service,
        target,
        body,
        Some((&keys.access_key_id, &keys.secret_access_key)),
    )
    .await;
    let body = body.trim();
    let json = serde_json::from_str(body)
        .unwrap_or_else(|_| panic!("not AWS's JSON shape: {status}\n{body}"));
    (status, json)
}

#[tokio::test]
async fn a_body_over_the_limit_is_answered_413_in_aws_shape() {
    let stack = deployed_stack(&[], None).await;
    let big = vec![b' '; 5 * 1024 * 1024];
    for (endpoint, target) in [
        (stack.sagemaker.endpoint(), "SageMaker.ListPipelines"),
        (stack.emr.endpoint(), "ElasticMapReduce.ListClusters"),
    ] {
        let (status, body) = post(&stack, &endpoint, target, &big).await;
        assert_eq!(status, 413, "{target}");
        assert_eq!(body["__type"], "RequestEntityTooLargeException", "{body}");
    }
}

#[tokio::test]
async fn the_models_limits_on_names_and_definitions_are_enforced() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let steps = |name: &str| {
        json!({"Version": "2020-12-01", "Steps": [
            {"Name": name, "Type": "Fail", "Arguments": {"ErrorMessage": "x"}}]})
        .to_string()
    };
    let good = steps("ok");
    let refused = |name: String, definition: String| {
        let client = client.clone();
        async move {
            let (code, message) = create_pipeline(&client, &name, &definition)
                .await
                .unwrap_err();
            assert_eq!(code, "ValidationException", "{message}");
            message
        }
    };
    let message = refused("a".repeat(10_000), good.clone()).await;
    assert!(
        message.contains("'createPipeline.pipelineName'") && message.contains("256"),
        "{message}"
    );
    let message = refused("bad name/../x".into(), good.clone()).await;
    assert!(message.contains("regular expression pattern"), "{message}");
    let padded = format!("{good}{}", " ".repeat(1_500_000));
    let message = refused("large".into(), padded).await;
    assert!(
        message.contains("less than or equal to 1048576"),
        "{message}"
    );
    let message = refused("empty-step".into(), steps("")).await;
    assert!(message.contains("must be 1 to 64 characters"), "{message}");
    let message = refused("long-step".into(), steps(&"s".repeat(65))).await;
    assert!(message.contains("must be 1 to 64 characters"), "{message}");
    create_pipeline(&client, "fine", &good).await.unwrap();
}

#[tokio::test]
async fn emr_refuses_args_that_are_not_a_list() {
    let stack = deployed_stack(&[], None).await;
    let request = json!({"JobFlowId": pipelines_emulator::STANDING_CLUSTER_ID, "Steps": [{
        "Name": "s", "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": "echo hello"}}]});
    let (status, body) = post(
        &stack,
        &stack.emr.endpoint(),
        "ElasticMapReduce.AddJobFlowSteps",
        request.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "ValidationException");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("'addJobFlowSteps.steps.1.hadoopJarStep.args'"),
        "{body}"
    );
}
