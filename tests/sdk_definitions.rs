//! The definitions the real SageMaker Python SDK wrote (tests/sdk/definitions, 2.x and
//! 3.x, by scripts/sdk-definitions) run unmodified on the emulator and end as
//! SageMaker ends them, driven through the SageMaker endpoint with aws-sdk-sagemaker.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sagemaker::types::{Parameter, PipelineExecutionStep};
use integration_tests::{
    create_pipeline as create, deployed_stack, execution_steps as steps, sagemaker_client,
};
use pipelines_emulator::Emulator;

const DEADLINE: Duration = Duration::from_secs(60);
const MAJORS: [&str; 2] = ["v2", "v3"];

fn sdk_definition(major: &str, name: &str) -> String {
    let path = format!(
        "{}/sdk/definitions/{major}/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn start(
    client: &aws_sdk_sagemaker::Client,
    name: &str,
    parameters: &[(&str, &str)],
) -> Result<String, String> {
    client
        .start_pipeline_execution()
        .pipeline_name(name)
        .set_pipeline_parameters(Some(
            parameters
                .iter()
                .map(|(n, v)| Parameter::builder().name(*n).value(*v).build())
                .collect(),
        ))
        .send()
        .await
        .map(|answer| answer.pipeline_execution_arn.unwrap())
        .map_err(|e| {
            e.into_service_error()
                .meta()
                .message()
                .unwrap_or_default()
                .to_owned()
        })
}

/// The execution's end, as DescribePipelineExecution tells it.
async fn ended(
    stack: &Emulator,
    client: &aws_sdk_sagemaker::Client,
    arn: &str,
) -> (String, String) {
    stack
        .sagemaker
        .pipelines()
        .wait_until_done(arn, DEADLINE)
        .await
        .unwrap_or_else(|| panic!("{arn} did not end"));
    let described = client
        .describe_pipeline_execution()
        .pipeline_execution_arn(arn)
        .send()
        .await
        .unwrap();
    let status = described.pipeline_execution_status().unwrap().as_str();
    if status == "Failed" {
        // SageMaker's words for the execution; the step's own are the step's.
        assert_eq!(
            described.failure_reason(),
            Some(pipelines_emulator::STEP_FAILURE)
        );
        let pipeline = described
            .pipeline_arn()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap();
        let listed = client
            .list_pipeline_executions()
            .pipeline_name(pipeline)
            .send()
            .await
            .unwrap();
        let summary = listed
            .pipeline_execution_summaries()
            .iter()
            .find(|e| e.pipeline_execution_arn() == Some(arn))
            .unwrap();
        // What SageMaker's own tests assert of the listing.
        assert!(summary
            .pipeline_execution_failure_reason()
            .unwrap()
            .contains("Step failure: One or multiple steps failed"));
    }
    let execution = stack.sagemaker.pipelines().execution(arn).unwrap();
    (status.to_owned(), execution.failed_step.unwrap_or_default())
}

/// A Lambda step's outputs, by name.
fn lambda_outputs(steps: &[PipelineExecutionStep], name: &str) -> BTreeMap<String, String> {
    let step = steps
        .iter()
        .find(|s| s.step_name() == Some(name))
        .unwrap_or_else(|| panic!("no step {name}"));
    step.metadata()
        .and_then(|m| m.lambda())
        .map(|l| {
            l.output_parameters()
                .iter()
                .map(|o| (o.name().unwrap().to_owned(), o.value().unwrap().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_condition_type_not_included_decides_the_branch() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    for major in MAJORS {
        let name = format!("conditions-{major}");
        create(&client, &name, &sdk_definition(major, "conditions"))
            .await
            .unwrap();

        let arn = start(&client, &name, &[]).await.unwrap();
        assert_eq!(ended(&stack, &client, &arn).await.0, "Succeeded", "{major}");
        let all = steps(&client, &arn).await;
        assert_eq!(lambda_outputs(&all, "AllHold")["mode"], "fast");
        let gate = all.iter().find(|s| s.step_name() == Some("Gate")).unwrap();
        assert_eq!(
            gate.metadata()
                .unwrap()
                .condition()
                .unwrap()
                .outcome()
                .unwrap()
                .as_str(),
            "True"
        );

        // Not(Mode == off) is false.
        let arn = start(&client, &name, &[("Mode", "off")]).await.unwrap();
        assert_eq!(
            ended(&stack, &client, &arn).await,
            ("Failed".into(), "a condition failed for mode off".into()),
            "{major}"
        );
        // Only Or is false: Count is not 0 and Mode is not fast.
        let arn = start(&client, &name, &[("Mode", "thorough")])
            .await
            .unwrap();
        assert_eq!(ended(&stack, &client, &arn).await.0, "Failed", "{major}");
        // LessThan(Count, 4) is false.
        let arn = start(&client, &name, &[("Count", "4")]).await.unwrap();
        assert_eq!(ended(&stack, &client, &arn).await.0, "Failed", "{major}");
    }
}

#[tokio::test]
async fn branch_steps_read_each_other_and_a_later_step_reads_the_outcome() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    for major in MAJORS {
        let name = format!("branch-chain-{major}");
        create(&client, &name, &sdk_definition(major, "branch-chain"))
            .await
            .unwrap();
        let arn = start(&client, &name, &[]).await.unwrap();
        assert_eq!(ended(&stack, &client, &arn).await.0, "Succeeded", "{major}");
        let all = steps(&client, &arn).await;
        assert_eq!(lambda_outputs(&all, "Second")["value"], "one-two");
        assert_eq!(lambda_outputs(&all, "After")["outcome"], "true");
        let started = |name: &str| {
            all.iter()
                .find(|s| s.step_name() == Some(name))
                .and_then(|s| s.start_time())
                .unwrap()
                .as_secs_f64()
        };
        let ended_at = |name: &str| {
            all.iter()
                .find(|s| s.step_name() == Some(name))
                .and_then(|s| s.end_time())
                .unwrap()
                .as_secs_f64()
        };
        assert!(
            started("Second") >= ended_at("First"),
            "Second waited for First"
        );
        assert!(
            started("After") >= ended_at("Gate"),
            "After waited for the condition"
        );
    }
}

#[tokio::test]
async fn a_nested_condition_is_refused_when_the_pipeline_is_created() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    for major in MAJORS {
        let (code, message) = create(
            &client,
            "nested",
            &sdk_definition(major, "nested-condition"),
        )
        .await
        .unwrap_err();
        assert_eq!(code, "ValidationException");
        assert!(
            message.contains("Condition step 'Inner' is inside a branch of Condition step 'Outer'; nested Condition steps are not supported"),
            "{major}: {message}"
        );
    }
}

#[tokio::test]
async fn emr_properties_experiment_config_and_execution_variables_resolve() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    for major in MAJORS {
        let name = format!("properties-{major}");
        create(&client, &name, &sdk_definition(major, "properties"))
            .await
            .unwrap();
        let arn = start(&client, &name, &[]).await.unwrap();
        assert_eq!(ended(&stack, &client, &arn).await.0, "Succeeded", "{major}");
        let all = steps(&client, &arn).await;
        let read = lambda_outputs(&all, "Read");
        let execution_id = arn.rsplit('/').next().unwrap();
        assert_eq!(read["state"], "COMPLETED");
        let prepare = all
            .iter()
            .find(|s| s.step_name() == Some("Prepare"))
            .unwrap();
        assert_eq!(
            Some(read["step_id"].as_str()),
            prepare.metadata().unwrap().emr().unwrap().step_id()
        );
        assert_eq!(prepare.step_display_name(), Some("Prepare the data"));
        assert_eq!(
            prepare.step_description(),
            Some("runs a command on the standing cluster")
        );
        assert_eq!(read["experiment"], name);
        assert_eq!(read["trial"], execution_id);
        assert_eq!(read["execution_id"], execution_id);
        assert_eq!(read["execution_arn"], arn);
        assert_eq!(read["pipeline_name"], name);
        assert!(arn.starts_with(&read["pipeline_arn"]));
        assert!(read["now"] >= read["start"], "{read:?}");
        let described = client
            .describe_pipeline_execution()
            .pipeline_execution_arn(&arn)
            .send()
            .await
            .unwrap();
        let experiment = described.pipeline_experiment_config().unwrap();
        assert_eq!(experiment.experiment_name(), Some(name.as_str()));
        assert_eq!(experiment.trial_name(), Some(execution_id));
    }
}

#[tokio::test]
async fn a_cached_emr_step_is_reused_by_the_next_execution() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    create(&client, "cached", &sdk_definition("v3", "properties"))
        .await
        .unwrap();
    let first = start(&client, "cached", &[]).await.unwrap();
    assert_eq!(ended(&stack, &client, &first).await.0, "Succeeded");
    let emr_steps_before = stack.emr.engine().steps("j-LOCALCLUSTER1").unwrap().len();

    let second = start(&client, "cached", &[]).await.unwrap();
    assert_eq!(ended(&stack, &client, &second).await.0, "Succeeded");
    let all = steps(&client, &second).await;
    let prepare = all
        .iter()
        .find(|s| s.step_name() == Some("Prepare"))
        .unwrap();
    assert_eq!(
        prepare
            .cache_hit_result()
            .and_then(|c| c.source_pipeline_execution_arn()),
        Some(first.as_str())
    );
    assert_eq!(
        stack.emr.engine().steps("j-LOCALCLUSTER1").unwrap().len(),
        emr_steps_before,
        "no EMR step ran again"
    );
    let first_step_id = lambda_outputs(&steps(&client, &first).await, "Read")["step_id"].clone();
    assert_eq!(lambda_outputs(&all, "Read")["step_id"], first_step_id);
    // The Lambda step is not cached: it ran again and saw the new execution.
    assert_eq!(lambda_outputs(&all, "Read")["execution_arn"], second,);
}

#[tokio::test]
async fn a_throttled_emr_step_is_retried_as_its_retry_policy_says() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    // 2.x writes RetryPolicies (THROTTLING, 3 retries); 3.x's EMRStep takes none.
    for (major, status, attempts) in [("v2", "Succeeded", 3), ("v3", "Failed", 1)] {
        let name = format!("retried-{major}");
        create(&client, &name, &sdk_definition(major, "properties"))
            .await
            .unwrap();
        stack.emr.engine().throttle_next_add_steps(2);
        let arn = start(&client, &name, &[]).await.unwrap();
        let (ended_as, reason) = ended(&stack, &client, &arn).await;
        assert_eq!(ended_as, status, "{major}: {reason}");
        let all = steps(&client, &arn).await;
        let prepare = all
            .iter()
            .find(|s| s.step_name() == Some("Prepare"))
            .unwrap();
        assert_eq!(prepare.attempt_count(), Some(attempts), "{major}");
        if status == "Failed" {
            assert!(reason.contains("ThrottlingException"), "{reason}");
        }
        stack.emr.engine().throttle_next_add_steps(0);
    }
}

#[tokio::test]
async fn enum_values_are_enforced_when_the_execution_starts() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    for major in MAJORS {
        let name = format!("enum-{major}");
        create(&client, &name, &sdk_definition(major, "enum-parameter"))
            .await
            .unwrap();
        let refused = start(&client, &name, &[("Env", "staging")])
            .await
            .unwrap_err();
        assert!(
            refused.contains(
                "parameter 'Env': \"staging\" is not one of its EnumValues [\"dev\",\"prod\"]"
            ),
            "{refused}"
        );
        let arn = start(&client, &name, &[("Env", "prod")]).await.unwrap();
        assert_eq!(ended(&stack, &client, &arn).await.0, "Succeeded");
        assert_eq!(
            lambda_outputs(&steps(&client, &arn).await, "Deploy")["env"],
            "prod"
        );
    }
}

#[tokio::test]
async fn json_get_reads_a_json_document_from_local_s3() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let s3 = stack.s3_client();
    s3.create_bucket()
        .bucket("local-metrics")
        .send()
        .await
        .unwrap();
    for (prefix, auc) in [("run-1", "0.91"), ("run-2", "0.5")] {
        s3.put_object()
            .bucket("local-metrics")
            .key(format!("{prefix}/metrics.json"))
            .body(
                format!(r#"{{"metrics": {{"auc": {{"value": {auc}}}}}}}"#)
                    .into_bytes()
                    .into(),
            )
            .send()
            .await
            .unwrap();
    }
    for major in MAJORS {
        let name = format!("json-get-{major}");
        create(&client, &name, &sdk_definition(major, "json-get-s3"))
            .await
            .unwrap();

        let arn = start(&client, &name, &[]).await.unwrap();
        assert_eq!(ended(&stack, &client, &arn).await.0, "Succeeded", "{major}");
        assert_eq!(
            lambda_outputs(&steps(&client, &arn).await, "Promote")["auc"],
            "0.91"
        );

        let arn = start(&client, &name, &[("MetricsPrefix", "run-2")])
            .await
            .unwrap();
        assert_eq!(
            ended(&stack, &client, &arn).await,
            ("Failed".into(), "auc too low: 0.5".into())
        );

        let arn = start(&client, &name, &[("MetricsPrefix", "run-9")])
            .await
            .unwrap();
        let (status, reason) = ended(&stack, &client, &arn).await;
        assert_eq!(status, "Failed");
        assert!(
            reason.contains("Step 'AucHighEnough' failed: Std:JsonGet could not read s3://local-metrics/run-9/metrics.json"),
            "{reason}"
        );
    }
}

#[tokio::test]
async fn the_readme_pipeline_fails_fast_on_a_missing_cluster_and_runs_its_step_on_a_ready_one() {
    // The README's SageMaker SDK example (tests/readme.rs checks the README still shows it).
    let definition = sdk_definition("v2", "features");
    let parsed: serde_json::Value = serde_json::from_str(&definition).unwrap();
    let default_cluster = parsed["Parameters"][0]["DefaultValue"].as_str().unwrap();
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    create(&client, "features", &definition).await.unwrap();

    let arn = start(&client, "features", &[]).await.unwrap();
    let (status, reason) = ended(&stack, &client, &arn).await;
    assert_eq!(status, "Failed");
    assert!(
        reason.starts_with(&format!("EMR cluster {default_cluster} cannot take the step: cluster {default_cluster} cannot be used")),
        "{reason}"
    );
    let all = steps(&client, &arn).await;
    assert_eq!(lambda_outputs(&all, "CheckCluster")["Ready"], "false");
    assert!(all.iter().all(|s| s.step_name() != Some("BuildFeatures")));

    let arn = start(&client, "features", &[("ClusterId", "j-LOCALCLUSTER1")])
        .await
        .unwrap();
    let (status, reason) = ended(&stack, &client, &arn).await;
    let all = steps(&client, &arn).await;
    assert_eq!(lambda_outputs(&all, "CheckCluster")["Ready"], "true");
    // The example's job is spark-submit, which the local cluster does not have: the EMR
    // step really ran, failed, and failed the Callback step with EMR's reason.
    assert_eq!(status, "Failed");
    assert!(
        reason.starts_with("Step 'BuildFeatures' failed: EMR step")
            && reason.contains("cannot run spark-submit")
            && !reason.contains("(log: )"),
        "{reason}"
    );
}
