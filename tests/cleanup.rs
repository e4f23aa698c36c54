//! The Cleanup step as SDK 3.x writes it (tests/sdk/definitions/v3/cleanup.json): after
//! the Processing step `Prep`, it deletes the object its S3Uris name under Prep's output
//! location, and nothing else; a URI outside that location fails the step, naming it,
//! and deletes nothing.

use integration_tests::{
    create_and_start, deployed_stack, execution_steps, finished, listed, sagemaker_client,
    sdk_definition,
};
use pipelines_emulator::Emulator;

const BUCKET: &str = "jobs-local";

fn definition() -> String {
    sdk_definition("v3", "cleanup")
}

async fn stack_with_outputs(keys: &[&str]) -> Emulator {
    let stack = deployed_stack(&[], None).await;
    let s3 = stack.s3_client();
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    for key in keys {
        s3.put_object()
            .bucket(BUCKET)
            .key(*key)
            .body(b"1,2,3\n".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    stack
}

async fn exists(stack: &Emulator, key: &str) -> bool {
    stack
        .s3_client()
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn cleanup_deletes_the_objects_it_names_under_the_steps_output() {
    let stack = stack_with_outputs(&["scratch/part-0.csv", "scratch/part-1.csv"]).await;
    let client = sagemaker_client(&stack);
    let arn = create_and_start(&client, "cleanup", &definition(), &[]).await;
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Succeeded", "{:?}", execution.failed_step);
    assert!(!exists(&stack, "scratch/part-0.csv").await, "deleted");
    assert!(
        exists(&stack, "scratch/part-1.csv").await,
        "not named, kept"
    );
    let steps = execution_steps(&client, &arn).await;
    let clean = listed(&steps, "Clean");
    let metadata = clean
        .metadata()
        .unwrap()
        .cleanup()
        .expect("Cleanup metadata");
    assert_eq!(metadata.cleaned_steps(), ["Prep"]);
    assert!(metadata.failed_steps().is_empty() && metadata.skipped_steps().is_empty());
}

#[tokio::test]
async fn a_uri_outside_the_steps_output_fails_the_cleanup_and_deletes_nothing() {
    let stack = stack_with_outputs(&["scratch/part-0.csv", "elsewhere.csv"]).await;
    let client = sagemaker_client(&stack);
    let outside: serde_json::Value = {
        let mut d: serde_json::Value = serde_json::from_str(&definition()).unwrap();
        d["Steps"][1]["Arguments"]["Resources"]["S3"][0]["S3Uris"] =
            serde_json::json!(["s3://jobs-local/elsewhere.csv"]);
        d
    };
    let arn = create_and_start(&client, "cleanup-outside", &outside.to_string(), &[]).await;
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Failed");
    let clean = execution.steps.iter().find(|s| s.name == "Clean").unwrap();
    let reason = clean.failure_reason.as_deref().unwrap();
    assert!(
        reason.contains("s3://jobs-local/elsewhere.csv is not under an output location of step 'Prep' (s3://jobs-local/scratch)"),
        "{reason}"
    );
    assert_eq!(
        clean.metadata["Cleanup"]["FailedSteps"][0]["ErrorCode"],
        "ClientError"
    );
    assert!(exists(&stack, "elsewhere.csv").await && exists(&stack, "scratch/part-0.csv").await);
}
