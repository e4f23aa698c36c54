//! ForEach, as SDK 3.x writes it (tests/sdk/definitions/v3/for-each*.json): one child
//! of every body step per item, named `<bodyStep>-<index>` and listed with its
//! IterationContext, at most MaxConcurrency at once, and the aggregate properties,
//! per-iteration outputs and selector later steps read. The body's Lambda steps run the
//! template's function for real; its job steps run on their mocks.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sagemaker::types::PipelineExecutionStep;
use integration_tests::{
    create_and_start, deployed_stack, execution_steps, finished, sagemaker_client, sdk_definition,
    start_again,
};
use pipelines_emulator::Mocks;
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(60);

fn definition(name: &str) -> String {
    sdk_definition("v3", name)
}

fn by_name(steps: &[PipelineExecutionStep]) -> BTreeMap<String, &PipelineExecutionStep> {
    steps
        .iter()
        .map(|s| (s.step_name().unwrap().to_owned(), s))
        .collect()
}

/// for-each.json: `Fan` echoes "a", "b", "c" through the Lambda function, and the Fail
/// step after it reports InputItemCount and SucceededStepCount.
#[tokio::test]
async fn a_foreach_runs_a_child_per_item_and_later_steps_read_its_counts() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let arn = create_and_start(&client, "for-each", &definition("for-each"), &[]).await;
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Failed");
    assert_eq!(
        execution.failed_step.as_deref(),
        Some("items 3 succeeded 3"),
        "the Fail step read the ForEach step's counts"
    );
    let steps = execution_steps(&client, &arn).await;
    let steps = by_name(&steps);
    for (index, item) in ["a", "b", "c"].iter().enumerate() {
        let child = steps[&format!("Echo-{index}")];
        assert_eq!(child.step_status().unwrap().as_str(), "Succeeded");
        let context = child.iteration_context().expect("IterationContext");
        assert_eq!(context.parent_step_name(), Some("Fan"));
        assert_eq!(context.index(), Some(index as i32));
        assert_eq!(context.item(), Some(*item));
        let record = execution
            .steps
            .iter()
            .find(|s| s.name == format!("Echo-{index}"))
            .unwrap();
        assert_eq!(
            record.properties.as_ref().unwrap()["OutputParameters"]["item"],
            json!(item),
            "each child read its own item"
        );
    }
    let fan = steps["Fan"]
        .metadata()
        .unwrap()
        .for_each()
        .expect("ForEach metadata");
    assert_eq!(fan.status().unwrap().as_str(), "Succeeded");
    assert_eq!(
        (
            fan.input_item_count(),
            fan.total_step_count(),
            fan.succeeded_step_count(),
            fan.failed_step_count()
        ),
        (Some(3), Some(3), Some(3), Some(0))
    );
    assert!(
        !steps.contains_key("Echo"),
        "the body step itself does not run"
    );
}

/// for-each-select.json: items from a parameter holding a JSON list of objects, fields
/// read with `CurrentItem().name` and `CurrentItem()["score"]`; the selector picks the
/// highest score; `Best` reads Selected and IterationOutputs[0]. An item with no score
/// fails its child, naming the field, and the ForEach step with it.
#[tokio::test]
async fn the_selector_picks_an_iteration_and_a_missing_field_fails_its_child() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let items = r#"[{"name": "x", "score": 4}, {"name": "y", "score": 12}, {"name": "z", "score": 7}, {"name": "w", "score": 12}]"#;
    let arn = create_and_start(
        &client,
        "for-each-select",
        &definition("for-each-select"),
        &[("Items", items)],
    )
    .await;
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Succeeded", "{:?}", execution.failed_step);
    let best = execution.steps.iter().find(|s| s.name == "Best").unwrap();
    assert_eq!(
        best.properties.as_ref().unwrap()["OutputParameters"],
        json!({"best": "y", "first": "x", "count": 4}),
        "MaxBy takes the first of equal scores"
    );
    let steps = execution_steps(&client, &arn).await;
    let rank = by_name(&steps)["Rank"]
        .metadata()
        .unwrap()
        .for_each()
        .unwrap();
    let selected = rank.selector().expect("the selector's pick");
    assert_eq!(
        (selected.step_name(), selected.index()),
        (Some("Score-1"), Some(1))
    );

    let missing = r#"[{"name": "x", "score": 4}, {"name": "nameless"}]"#;
    let arn = start_again(&client, "for-each-select", &[("Items", missing)]).await;
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Failed");
    let child = execution
        .steps
        .iter()
        .find(|s| s.name == "Score-1")
        .unwrap();
    assert_eq!(child.status, "Failed");
    assert!(
        child
            .failure_reason
            .as_deref()
            .unwrap()
            .contains("ForEach.CurrentItem['score'] has no value"),
        "{:?}",
        child.failure_reason
    );
    let rank = execution.steps.iter().find(|s| s.name == "Rank").unwrap();
    assert!(
        rank.failure_reason
            .as_deref()
            .unwrap()
            .starts_with("1 of 2 child steps failed; the first, Score-1:"),
        "{:?}",
        rank.failure_reason
    );
    assert_eq!(rank.metadata["ForEach"]["SucceededStepCount"], 1);
    assert!(
        execution.steps.iter().all(|s| s.name != "Best"),
        "nothing after a failed ForEach runs"
    );
}

/// for-each-jobs.json: three mocked EMR Serverless jobs of a second each under
/// MaxConcurrency 2: never more than two run at once, and the third starts when one
/// ends. A Stop stops the running children; those not started never run.
#[tokio::test]
async fn max_concurrency_caps_the_children_running_at_once_and_a_stop_ends_them() {
    let stack = deployed_stack(&[], None).await;
    let pipelines = stack.sagemaker.pipelines();
    pipelines
        .jobs()
        .set_mocks(Mocks::parse(&json!({"Steps": {"Run": {"Seconds": 1}}}).to_string()).unwrap());
    let client = sagemaker_client(&stack);
    let arn = create_and_start(&client, "for-each-jobs", &definition("for-each-jobs"), &[]).await;
    let mut changes = pipelines.subscribe();
    let mut most = 0;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (running, done) = pipelines
            .read_execution(&arn, |e| {
                let children = e.steps.iter().filter(|s| s.name.starts_with("Run-"));
                let running = children.clone().filter(|s| s.status == "Executing").count();
                (running, e.status != "Executing")
            })
            .unwrap();
        most = most.max(running);
        if done {
            break;
        }
        tokio::time::timeout_at(deadline, changes.changed())
            .await
            .expect("the execution ends")
            .unwrap();
    }
    assert_eq!(most, 2, "two children at once, never three");
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Succeeded");
    let runs: Vec<_> = execution
        .steps
        .iter()
        .filter(|s| s.name.starts_with("Run-"))
        .collect();
    assert_eq!(runs.len(), 3);
    let third = runs.iter().find(|s| s.name == "Run-2").unwrap();
    assert!(
        runs.iter()
            .filter(|s| s.name != "Run-2")
            .any(|s| s.ended.unwrap() <= third.started),
        "the third started once one of the first two ended"
    );

    // Stopped while the first two run for a minute: they stop, the third never starts.
    pipelines
        .jobs()
        .set_mocks(Mocks::parse(&json!({"Steps": {"Run": {"Seconds": 60}}}).to_string()).unwrap());
    let arn = start_again(&client, "for-each-jobs", &[]).await;
    integration_tests::wait_until("two children running", DEADLINE, || {
        pipelines
            .read_execution(&arn, |e| {
                e.steps
                    .iter()
                    .filter(|s| s.name.starts_with("Run-"))
                    .count()
                    == 2
            })
            .unwrap_or(false)
    })
    .await;
    client
        .stop_pipeline_execution()
        .pipeline_execution_arn(&arn)
        .send()
        .await
        .unwrap();
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Stopped");
    let spark = execution.steps.iter().find(|s| s.name == "Spark").unwrap();
    assert_eq!(spark.status, "Stopped");
    assert_eq!(spark.metadata["ForEach"]["StoppedStepCount"], 2);
    assert!(execution.steps.iter().all(|s| s.name != "Run-2"));
}

/// for-each-jobs.json with `Run-1`'s own mock failing: the ForEach step fails naming
/// it while `Run-0` and `Run-2` succeed. RetryPipelineExecution, the failure fixed in the
/// mock file, runs `Run-1` again and keeps the two that succeeded, not running them twice.
#[tokio::test]
async fn a_retry_runs_again_only_the_children_that_failed() {
    let stack = deployed_stack(&[], None).await;
    let pipelines = stack.sagemaker.pipelines();
    let mocks =
        |steps: serde_json::Value| Mocks::parse(&json!({ "Steps": steps }).to_string()).unwrap();
    pipelines.jobs().set_mocks(mocks(
        json!({"Run-1": {"Fail": "SageMaker.JOB_INTERNAL_ERROR: the node went away"}}),
    ));
    let client = sagemaker_client(&stack);
    let arn = create_and_start(&client, "for-each-jobs", &definition("for-each-jobs"), &[]).await;
    let first = finished(&stack, &arn).await;
    assert_eq!(first.status, "Failed");
    let spark = first.steps.iter().find(|s| s.name == "Spark").unwrap();
    assert!(
        spark
            .failure_reason
            .as_deref()
            .unwrap()
            .contains("the first, Run-1: SageMaker.JOB_INTERNAL_ERROR"),
        "{:?}",
        spark.failure_reason
    );
    let started = |e: &pipelines_emulator::ExecutionRecord, name: &str| {
        e.steps
            .iter()
            .find(|s| s.name == name)
            .map(|s| (s.status.clone(), s.started))
    };

    pipelines.jobs().set_mocks(mocks(json!({})));
    client
        .retry_pipeline_execution()
        .pipeline_execution_arn(&arn)
        .client_request_token("retry-for-each-jobs-00000000000000000")
        .send()
        .await
        .unwrap();
    integration_tests::wait_until("the retry ends", DEADLINE, || {
        pipelines
            .read_execution(&arn, |e| {
                e.status != "Executing"
                    && e.steps
                        .iter()
                        .any(|s| s.name == "Spark" && s.status == "Succeeded")
            })
            .unwrap_or(false)
    })
    .await;
    let retried = finished(&stack, &arn).await;
    assert_eq!(retried.status, "Succeeded", "{:?}", retried.failed_step);
    for kept in ["Run-0", "Run-2"] {
        assert_eq!(
            started(&retried, kept),
            started(&first, kept),
            "{kept} was not run again"
        );
    }
    assert_eq!(started(&retried, "Run-1").unwrap().0, "Succeeded");
    assert_eq!(
        retried
            .steps
            .iter()
            .filter(|s| s.name.starts_with("Run-"))
            .count(),
        3
    );
}

/// A selective execution of `Best` alone reuses the ForEach step `Rank` of its source,
/// properties and all, so `Best` reads the same Selected and IterationOutputs; a child
/// (`Score-1`) is not a step a selection can name.
#[tokio::test]
async fn a_selective_execution_reuses_a_foreach_and_its_outputs() {
    use aws_sdk_sagemaker::types::{SelectedStep, SelectiveExecutionConfig};
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let source = create_and_start(
        &client,
        "for-each-select",
        &definition("for-each-select"),
        &[],
    )
    .await;
    assert_eq!(finished(&stack, &source).await.status, "Succeeded");
    let select = |step: &str| {
        SelectiveExecutionConfig::builder()
            .source_pipeline_execution_arn(&source)
            .selected_steps(SelectedStep::builder().step_name(step).build())
            .build()
    };
    let arn = client
        .start_pipeline_execution()
        .pipeline_name("for-each-select")
        .selective_execution_config(select("Best"))
        .send()
        .await
        .unwrap()
        .pipeline_execution_arn
        .unwrap();
    let execution = finished(&stack, &arn).await;
    assert_eq!(execution.status, "Succeeded", "{:?}", execution.failed_step);
    let rank = execution.steps.iter().find(|s| s.name == "Rank").unwrap();
    assert_eq!(rank.selective_source.as_deref(), Some(source.as_str()));
    let best = execution.steps.iter().find(|s| s.name == "Best").unwrap();
    assert_eq!(
        best.properties.as_ref().unwrap()["OutputParameters"],
        json!({"best": "b", "first": "a", "count": 3})
    );
    assert!(
        execution
            .steps
            .iter()
            .all(|s| !s.name.starts_with("Score-")),
        "no child ran"
    );

    let refused = client
        .start_pipeline_execution()
        .pipeline_name("for-each-select")
        .selective_execution_config(select("Score-1"))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a ForEach child is not a step of the pipeline"
    );
}

/// for-each-cached.json: a body Processing step with a CacheConfig, its output under the
/// item's prefix. A second execution reuses each child of the first (`PrepPart-0`,
/// `PrepPart-1`, each with its own item's arguments), showing CacheHitResult.
#[tokio::test]
async fn a_cached_body_step_reuses_its_child_of_an_earlier_execution() {
    let stack = deployed_stack(&[], None).await;
    let client = sagemaker_client(&stack);
    let first = create_and_start(
        &client,
        "for-each-cached",
        &definition("for-each-cached"),
        &[],
    )
    .await;
    let earlier = finished(&stack, &first).await;
    assert_eq!(earlier.status, "Succeeded");
    for (index, item) in ["east", "west"].iter().enumerate() {
        let child = earlier
            .steps
            .iter()
            .find(|s| s.name == format!("PrepPart-{index}"))
            .unwrap();
        assert_eq!(child.cache_hit, None);
        let outputs = &child.properties.as_ref().unwrap()["ProcessingOutputConfig"]["Outputs"][0];
        assert_eq!(
            outputs["S3Output"]["S3Uri"],
            format!("s3://jobs-local/parts/{item}")
        );
    }
    let second = start_again(&client, "for-each-cached", &[]).await;
    let later = finished(&stack, &second).await;
    assert_eq!(later.status, "Succeeded");
    for index in 0..2 {
        let child = later
            .steps
            .iter()
            .find(|s| s.name == format!("PrepPart-{index}"))
            .unwrap();
        assert_eq!(
            child.cache_hit.as_deref(),
            Some(first.as_str()),
            "PrepPart-{index}"
        );
    }
}
