//! The newest SDK's step types beyond ForEach and Cleanup, as SDK 3.x writes them
//! (tests/sdk/definitions/v3): a Lineage step records its entities and associations,
//! whose ARNs later steps read; EndpointConfig, Endpoint and InferenceComponent steps run
//! on their mocks, each answering with the resource its request names. An association
//! to an entity the Lineage step does not create is refused at create.

use std::time::Duration;

use integration_tests::{
    create_and_start, create_pipeline, deployed_stack, execution_steps, sagemaker_client,
};

const DEADLINE: Duration = Duration::from_secs(60);

fn definition(name: &str) -> String {
    let path = format!(
        "{}/sdk/definitions/v3/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn a_lineage_step_gives_the_arns_of_what_it_records_and_associates() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let arn = create_and_start(&client, "lineage", &definition("lineage"), &[]).await;
    let execution = stack
        .sagemaker
        .pipelines()
        .wait_until_done(&arn, DEADLINE)
        .await
        .unwrap();
    assert_eq!(execution.status, "Succeeded", "{:?}", execution.failed_step);
    let steps = execution_steps(&client, &arn).await;
    let record = steps
        .iter()
        .find(|s| s.step_name() == Some("Record"))
        .unwrap();
    let lineage = record
        .metadata()
        .unwrap()
        .lineage()
        .expect("Lineage metadata");
    let artifact = lineage.artifact_arns().unwrap()["trained-model"].clone();
    let action = lineage.action_arns().unwrap()["training-run"].clone();
    assert!(
        artifact.starts_with("arn:aws:sagemaker:us-east-1:123456789012:artifact/"),
        "{artifact}"
    );
    assert!(action.ends_with(":action/training-run"), "{action}");
    let association = &lineage.associations()[0];
    assert_eq!(
        (association.source_arn(), association.destination_arn()),
        (Some(action.as_str()), Some(artifact.as_str()))
    );
    let read = execution
        .steps
        .iter()
        .find(|s| s.name == "ReadLineage")
        .unwrap();
    assert_eq!(
        read.properties.as_ref().unwrap()["OutputParameters"]["artifact"],
        artifact.as_str()
    );

    let mut dangling: serde_json::Value = serde_json::from_str(&definition("lineage")).unwrap();
    dangling["Steps"][0]["Arguments"]["Associations"][0]["Destination"]["Name"] =
        "no-such-model".into();
    let refused = create_pipeline(&client, "lineage-dangling", &dangling.to_string())
        .await
        .unwrap_err();
    assert!(
        refused.1.contains("the destination of an association is Artifact \"no-such-model\", which this step does not create"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn endpoint_steps_answer_with_the_resources_their_requests_name() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let arn = create_and_start(&client, "endpoint", &definition("endpoint"), &[]).await;
    let execution = stack
        .sagemaker
        .pipelines()
        .wait_until_done(&arn, DEADLINE)
        .await
        .unwrap();
    assert_eq!(execution.status, "Succeeded", "{:?}", execution.failed_step);
    let steps = execution_steps(&client, &arn).await;
    let metadata = |name: &str| {
        steps
            .iter()
            .find(|s| s.step_name() == Some(name))
            .unwrap()
            .metadata()
            .unwrap()
            .clone()
    };
    assert!(metadata("Config")
        .endpoint_config()
        .unwrap()
        .arn()
        .unwrap()
        .ends_with(":endpoint-config/abalone-config"));
    assert!(metadata("Endpoint")
        .endpoint()
        .unwrap()
        .arn()
        .unwrap()
        .ends_with(":endpoint/abalone"));
    assert!(metadata("Component")
        .inference_component()
        .unwrap()
        .arn()
        .unwrap()
        .ends_with(":inference-component/abalone-model"));
    let endpoint = execution
        .steps
        .iter()
        .find(|s| s.name == "Endpoint")
        .unwrap();
    let properties = endpoint.properties.as_ref().unwrap();
    assert_eq!(
        properties["EndpointConfigName"], "abalone-config",
        "read from the Config step"
    );
    assert_eq!(properties["EndpointStatus"], "InService");
}
