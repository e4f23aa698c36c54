//! The newest SDK's step types beyond ForEach and Cleanup, as SDK 3.x writes them
//! (tests/sdk/definitions/v3): a Lineage step records its entities and associations,
//! whose ARNs later steps read; EndpointConfig, Endpoint and InferenceComponent steps run
//! on their mocks, each answering with the resource its request names. An association
//! to an entity the Lineage step does not create is refused at create.

use integration_tests::{
    create_and_start, create_pipeline, deployed_stack, execution_steps, finished, listed,
    sagemaker_client, sdk_definition,
};

fn definition(name: &str) -> String {
    sdk_definition("v3", name)
}

#[tokio::test]
async fn a_lineage_step_gives_the_arns_of_what_it_records_and_associates() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let arn = create_and_start(&client, "lineage", &definition("lineage"), &[]).await;
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Succeeded", "{:?}", execution.failed_step);
    let steps = execution_steps(&client, &arn).await;
    let record = listed(&steps, "Record");
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
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Succeeded", "{:?}", execution.failed_step);
    let steps = execution_steps(&client, &arn).await;
    // The service appends an execution-unique suffix to the names these steps create,
    // so later steps read the created name from the step's properties (the SDK's
    // integration test of these steps says so).
    let created = |name: &str, member: &str| -> String {
        let step = execution.steps.iter().find(|s| s.name == name).unwrap();
        step.properties.as_ref().unwrap()[member]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let config = created("Config", "EndpointConfigName");
    let endpoint = created("Endpoint", "EndpointName");
    let component = created("Component", "InferenceComponentName");
    for (name, requested) in [
        (&config, "abalone-config-"),
        (&endpoint, "abalone-"),
        (&component, "abalone-model-"),
    ] {
        assert!(
            name.starts_with(requested) && name.len() > requested.len(),
            "{name}"
        );
    }
    let metadata = |name: &str| listed(&steps, name).metadata().unwrap().clone();
    assert!(metadata("Config")
        .endpoint_config()
        .unwrap()
        .arn()
        .unwrap()
        .ends_with(&format!(":endpoint-config/{config}")));
    assert!(metadata("Endpoint")
        .endpoint()
        .unwrap()
        .arn()
        .unwrap()
        .ends_with(&format!(":endpoint/{endpoint}")));
    assert!(metadata("Component")
        .inference_component()
        .unwrap()
        .arn()
        .unwrap()
        .ends_with(&format!(":inference-component/{component}")));
    assert_eq!(
        created("Endpoint", "EndpointConfigName"),
        config,
        "read from the Config step"
    );
    assert_eq!(
        created("Component", "EndpointName"),
        endpoint,
        "read from the Endpoint step"
    );
    assert_eq!(created("Endpoint", "EndpointStatus"), "InService");
}

fn ported(name: &str) -> String {
    sdk_definition("v2", name)
}

/// The SDK's integration test of LineageStep, ported (integ-lineage.json): what it
/// asserts of SageMaker's answer, asserted of the emulator's.
#[tokio::test]
async fn the_sdks_lineage_integration_test_passes() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let arn = create_and_start(&client, "integ-lineage", &ported("integ-lineage"), &[]).await;
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Succeeded");
    let steps = execution_steps(&client, &arn).await;
    let step = listed(&steps, "RecordLineage");
    assert_eq!(step.step_status().unwrap().as_str(), "Succeeded");
    let lineage = step.metadata().unwrap().lineage().unwrap();
    let (action, artifact, context) = (
        "lineage-integ-action-0a1b2c3d",
        "lineage-integ-artifact-0a1b2c3d",
        "lineage-integ-context-0a1b2c3d",
    );
    assert!(lineage.action_arns().unwrap()[action].ends_with(&format!(":action/{action}")));
    assert!(lineage.artifact_arns().unwrap()[artifact].contains(":artifact/"));
    assert!(lineage.context_arns().unwrap()[context].ends_with(&format!(":context/{context}")));
    assert_eq!(lineage.associations().len(), 2);
}

/// The SDK's integration test of the deployment steps, ported (integ-deploy.json): the
/// created names carry the service's suffix, the endpoint is InService, and the
/// inference component is on the endpoint the Endpoint step created.
#[tokio::test]
async fn the_sdks_deployment_steps_integration_test_passes() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let arn = create_and_start(&client, "integ-deploy", &ported("integ-deploy"), &[]).await;
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Succeeded");
    let answer = |step: &str| {
        execution
            .steps
            .iter()
            .find(|s| s.name == step)
            .unwrap()
            .properties
            .clone()
            .unwrap()
    };
    let endpoint = answer("CreateEndpoint");
    assert_eq!(endpoint["EndpointStatus"], "InService");
    let actual_endpoint = endpoint["EndpointName"].as_str().unwrap();
    assert!(actual_endpoint.starts_with("integ-deploy-ep-0a1b2c3d-"));
    assert_eq!(answer("CreateComponent")["EndpointName"], actual_endpoint);
    assert_eq!(
        endpoint["EndpointConfigName"],
        answer("CreateConfig")["EndpointConfigName"]
    );
}
