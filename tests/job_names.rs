//! A job's identity agrees with itself when the definition carries the job's name
//! (SDK-written: notebook-job.json, whose NotebookJob step keeps its TrainingJobName, and
//! custom-prefix.json, written with `use_custom_job_prefix=True`): the name the job runs
//! under starts with the carried name, and the ARN in the step's Metadata, the name in
//! the step's properties and the Describe answer all name that one job, a new one for
//! each execution.

use aws_sdk_sagemaker::types::JobCategory;
use integration_tests::{
    create_and_start, deployed_stack, execution_steps, finished, listed, name_in_arn,
    sagemaker_client, sdk_definition, start_again,
};

fn definition(name: &str) -> String {
    sdk_definition("v2", name)
}

#[tokio::test]
async fn a_carried_job_name_is_the_prefix_of_the_one_job_every_answer_names() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let carried = |name: &str, member: &str| -> String {
        let d: serde_json::Value = serde_json::from_str(&definition(name)).unwrap();
        d["Steps"][0]["Arguments"][member]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let mut trainings = Vec::new();
    for run in 0..2 {
        let arn = if run == 0 {
            create_and_start(&client, "notebook-job", &definition("notebook-job"), &[]).await
        } else {
            start_again(&client, "notebook-job", &[]).await
        };
        let execution = finished(&stack, &arn).await;
        assert_eq!(execution.status, "Succeeded", "{:?}", execution.failed_step);
        let steps = execution_steps(&client, &arn).await;
        let job_arn = steps[0]
            .metadata()
            .unwrap()
            .training_job()
            .unwrap()
            .arn()
            .unwrap()
            .to_owned();
        let described = client
            .describe_training_job()
            .training_job_name(name_in_arn(&job_arn))
            .send()
            .await
            .expect("the job the Metadata names is described");
        let name = described.training_job_name().unwrap().to_owned();
        assert_eq!(described.training_job_arn(), Some(job_arn.as_str()));
        assert!(
            name.starts_with(&carried("notebook-job", "TrainingJobName")),
            "{name}"
        );
        let properties = execution.steps[0].properties.as_ref().unwrap();
        assert_eq!(properties["TrainingJobName"], name.as_str());
        trainings.push(name);
    }
    assert_ne!(
        trainings[0], trainings[1],
        "each execution runs a job of its own"
    );

    let arn = create_and_start(&client, "custom-prefix", &definition("custom-prefix"), &[]).await;
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Succeeded");
    let steps = execution_steps(&client, &arn).await;
    let job_arn = steps[0]
        .metadata()
        .unwrap()
        .processing_job()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let described = client
        .describe_processing_job()
        .processing_job_name(name_in_arn(&job_arn))
        .send()
        .await
        .unwrap();
    let name = described.processing_job_name().unwrap();
    assert!(name.starts_with("nightly-prep-"), "{name}");
    assert_eq!(
        carried("custom-prefix", "ProcessingJobName"),
        "nightly-prep"
    );
    assert_eq!(described.processing_job_arn(), Some(job_arn.as_str()));
}

/// job-step.json (SDK 3.x): a Job step (CreateJob, category AgentRFT) runs on its mock,
/// answers DescribeJob by the name its Metadata's ARN ends with, with its category and
/// the JobConfigDocument its request gave; a later step reads its JobStatus. Asked for
/// as another category, the job is not found.
#[tokio::test]
async fn a_job_step_is_described_by_describe_job_as_its_metadata_names_it() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let path = format!(
        "{}/sdk/definitions/v3/job-step.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let definition = std::fs::read_to_string(path).unwrap();
    let arn = create_and_start(&client, "job-step", &definition, &[]).await;
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Succeeded", "{:?}", execution.failed_step);
    let read = execution
        .steps
        .iter()
        .find(|s| s.name == "ReadJob")
        .unwrap();
    assert_eq!(
        read.properties.as_ref().unwrap()["OutputParameters"]["status"],
        "Completed"
    );
    let steps = execution_steps(&client, &arn).await;
    let agent = listed(&steps, "Agent");
    let job_arn = agent
        .metadata()
        .unwrap()
        .job()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let name = name_in_arn(&job_arn);
    let described = client
        .describe_job()
        .job_name(name)
        .job_category(JobCategory::AgentRft)
        .send()
        .await
        .unwrap();
    assert_eq!(described.job_arn(), Some(job_arn.as_str()));
    assert_eq!(described.job_category(), Some(&JobCategory::AgentRft));
    let id = arn.rsplit('/').next().unwrap();
    assert!(
        described
            .job_config_document()
            .unwrap()
            .contains(&format!("s3://jobs-local/agent/{id}/")),
        "the document as its request gave it, scoped to the execution"
    );
    let other = client
        .describe_job()
        .job_name(name)
        .job_category(JobCategory::AgentRftEvaluation)
        .send()
        .await;
    assert!(
        other.is_err(),
        "another category's job of that name does not exist"
    );
}
