//! The abalone pipeline of AWS's Pipeline Steps guide, as the SageMaker Python SDK wrote
//! it (tests/sdk/definitions/v2/abalone.json): SageMaker's job steps on mocks, with a
//! Lambda step and a Callback step of this project, on one machine.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sagemaker::types::PipelineExecutionStep;
use integration_tests::{
    create_pipeline, deployed_stack, execution_steps, sagemaker_client, wait_until,
};
use pipelines_emulator::Emulator;
use pipelines_emulator::Mocks;
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(60);

fn abalone() -> String {
    std::fs::read_to_string(format!(
        "{}/sdk/definitions/v2/abalone.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A mock file of these steps' mocks.
fn mocks(steps: Value) -> Mocks {
    Mocks::parse(&json!({ "Steps": steps }).to_string()).unwrap()
}

fn mse(value: f64) -> Value {
    json!({"AbaloneEval": {"PropertyFiles": {"EvaluationReport": {"regression_metrics": {"mse": {"value": value}}}}}})
}

async fn start(stack: &Emulator, name: &str, definition: &str) -> String {
    let client = sagemaker_client(stack);
    create_pipeline(&client, name, definition)
        .await
        .expect("the SDK's definition is accepted");
    client
        .start_pipeline_execution()
        .pipeline_name(name)
        .send()
        .await
        .unwrap()
        .pipeline_execution_arn
        .unwrap()
}

async fn steps(stack: &Emulator, arn: &str) -> BTreeMap<String, PipelineExecutionStep> {
    execution_steps(&sagemaker_client(stack), arn)
        .await
        .into_iter()
        .map(|s| (s.step_name().unwrap().to_owned(), s))
        .collect()
}

async fn ended(stack: &Emulator, arn: &str) -> (String, Option<String>) {
    let e = stack
        .sagemaker
        .pipelines()
        .wait_until_done(arn, DEADLINE)
        .await
        .unwrap_or_else(|| panic!("{arn} did not end"));
    integration_tests::ending(&e)
}

/// Completes the Callback step once it waits, with aws-sdk-sagemaker.
async fn approve(stack: &Emulator, arn: &str) {
    let pipelines = stack.sagemaker.pipelines().clone();
    let token = || {
        pipelines.execution(arn).and_then(|e| {
            e.steps
                .iter()
                .find(|s| s.name == "AbaloneApprove")
                .and_then(|s| {
                    s.metadata["Callback"]["CallbackToken"]
                        .as_str()
                        .map(str::to_owned)
                })
        })
    };
    wait_until("the approval step waits", DEADLINE, || token().is_some()).await;
    sagemaker_client(stack)
        .send_pipeline_execution_step_success()
        .callback_token(token().unwrap())
        .output_parameters(
            aws_sdk_sagemaker::types::OutputParameter::builder()
                .name("Approved")
                .value("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn under_the_threshold_it_registers_creates_transforms_and_waits_for_approval() {
    let stack = deployed_stack(&[], None).await;
    stack
        .sagemaker
        .pipelines()
        .jobs()
        .set_mocks(mocks(mse(4.2)));
    let arn = start(&stack, "abalone", &abalone()).await;
    approve(&stack, &arn).await;
    assert_eq!(ended(&stack, &arn).await, ("Succeeded".into(), None));

    let all = steps(&stack, &arn).await;
    let metadata = |name: &str| all[name].metadata().unwrap().clone();
    let train_arn = metadata("AbaloneTrain")
        .training_job()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    assert!(
        train_arn.starts_with("arn:aws:sagemaker:us-east-1:123456789012:training-job/pipelines-"),
        "{train_arn}"
    );
    assert!(metadata("AbaloneProcess")
        .processing_job()
        .unwrap()
        .arn()
        .is_some());
    assert!(metadata("AbaloneTransform")
        .transform_job()
        .unwrap()
        .arn()
        .is_some());
    assert!(metadata("AbaloneCreateModel-CreateModel")
        .model()
        .unwrap()
        .arn()
        .is_some());
    let package = metadata("AbaloneRegister-RegisterModel")
        .register_model()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    assert_eq!(
        package,
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/abalonemodelpackagegroup/1"
    );
    let notify = metadata("AbaloneNotify");
    let outputs = notify.lambda().unwrap().output_parameters();
    assert_eq!(
        outputs[0].value(),
        Some(package.as_str()),
        "the Lambda step read RegisterModel's ModelPackageArn"
    );
    assert!(!all.contains_key("AbaloneMSEFail"));
}

#[tokio::test]
async fn over_the_threshold_it_ends_with_the_fail_steps_message() {
    let stack = deployed_stack(&[], None).await;
    stack
        .sagemaker
        .pipelines()
        .jobs()
        .set_mocks(mocks(mse(7.5)));
    let arn = start(&stack, "abalone", &abalone()).await;
    assert_eq!(
        ended(&stack, &arn).await,
        (
            "Failed".into(),
            Some("Execution failed due to MSE > 6.0".into())
        )
    );
    let all = steps(&stack, &arn).await;
    assert!(!all.contains_key("AbaloneRegister-RegisterModel"));
    assert_eq!(
        all["AbaloneMSEFail"]
            .metadata()
            .unwrap()
            .fail()
            .unwrap()
            .error_message(),
        Some("Execution failed due to MSE > 6.0")
    );
}

#[tokio::test]
async fn a_failing_mock_fails_its_step_with_the_reason() {
    let stack = deployed_stack(&[], None).await;
    let mut value = mse(4.2);
    value["AbaloneRegister-RegisterModel"] =
        json!({"Fail": "ValidationException: model package group abalone not found"});
    stack.sagemaker.pipelines().jobs().set_mocks(mocks(value));
    let arn = start(&stack, "abalone", &abalone()).await;
    let (status, reason) = ended(&stack, &arn).await;
    assert_eq!(status, "Failed");
    assert_eq!(
        reason.unwrap(),
        "Step 'AbaloneRegister-RegisterModel' failed: ValidationException: model package group abalone not found"
    );
    let all = steps(&stack, &arn).await;
    assert_eq!(
        all["AbaloneRegister-RegisterModel"].failure_reason(),
        Some("ValidationException: model package group abalone not found")
    );
}

#[tokio::test]
async fn a_property_file_is_read_from_local_s3_when_no_mock_gives_it() {
    let stack = deployed_stack(&[], None).await;
    let arn = start(&stack, "missing", &abalone()).await;
    let (status, reason) = ended(&stack, &arn).await;
    assert_eq!(status, "Failed");
    let reason = reason.unwrap();
    assert!(
        reason.contains("property file 'EvaluationReport' of step 'AbaloneEval': no mock gives it")
            && reason.contains("s3://abalone-local/AbaloneEval/evaluation/evaluation.json"),
        "{reason}"
    );

    let s3 = stack.s3_client();
    s3.create_bucket()
        .bucket("abalone-local")
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("abalone-local")
        .key("AbaloneEval/evaluation/evaluation.json")
        .body(br#"{"regression_metrics": {"mse": {"value": 3.1}}}"#.to_vec().into())
        .send()
        .await
        .unwrap();
    let client = sagemaker_client(&stack);
    let arn = client
        .start_pipeline_execution()
        .pipeline_name("missing")
        .send()
        .await
        .unwrap()
        .pipeline_execution_arn
        .unwrap();
    approve(&stack, &arn).await;
    assert_eq!(ended(&stack, &arn).await, ("Succeeded".into(), None));
}

#[tokio::test]
async fn a_property_the_mocked_answer_lacks_fails_the_reading_step_naming_the_mock() {
    let stack = deployed_stack(&[], None).await;
    let mut definition: Value = serde_json::from_str(&abalone()).unwrap();
    let (process, train) = (
        definition["Steps"][0].clone(),
        definition["Steps"][1].clone(),
    );
    definition["Steps"] = json!([process, train, {
        "Name": "ReadRmse", "Type": "Lambda",
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:LambdaStepFunction",
        "Arguments": {"function": "flatten-json",
            "json": {"Std:Join": {"On": "", "Values": ["{\"rmse\": ", {"Get": "Steps.AbaloneTrain.FinalMetricDataList['rmse'].Value"}, "}"]}}},
        "OutputParameters": [{"OutputName": "rmse", "OutputType": "Float"}]}]);
    let arn = start(&stack, "rmse", &definition.to_string()).await;
    let (status, reason) = ended(&stack, &arn).await;
    assert_eq!(status, "Failed");
    let reason = reason.unwrap();
    assert!(
        reason.contains("step 'AbaloneTrain' has no property 'FinalMetricDataList['rmse'].Value' in its mocked answer")
            && reason.contains(r#"{"Steps": {"AbaloneTrain": {"Properties": {...}}}}"#),
        "{reason}"
    );

    stack.sagemaker.pipelines().jobs().set_mocks(mocks(
        json!({"AbaloneTrain": {"Properties": {"FinalMetricDataList": [{"MetricName": "rmse", "Value": 1.9}]}}}),
    ));
    let arn = sagemaker_client(&stack)
        .start_pipeline_execution()
        .pipeline_name("rmse")
        .send()
        .await
        .unwrap()
        .pipeline_execution_arn
        .unwrap();
    assert_eq!(ended(&stack, &arn).await, ("Succeeded".into(), None));
    let all = steps(&stack, &arn).await;
    let rmse = all["ReadRmse"]
        .metadata()
        .unwrap()
        .lambda()
        .unwrap()
        .output_parameters()[0]
        .clone();
    assert_eq!(rmse.value(), Some("1.9"));
}

#[tokio::test]
async fn stop_during_a_mocked_job_stops_it() {
    let stack = deployed_stack(&[], None).await;
    let mut value = mse(4.2);
    value["AbaloneTrain"] = json!({"Seconds": 600});
    stack.sagemaker.pipelines().jobs().set_mocks(mocks(value));
    let arn = start(&stack, "abalone", &abalone()).await;
    let pipelines = stack.sagemaker.pipelines().clone();
    wait_until("the training step runs", DEADLINE, || {
        pipelines
            .execution(&arn)
            .is_some_and(|e| e.steps.iter().any(|s| s.name == "AbaloneTrain"))
    })
    .await;
    sagemaker_client(&stack)
        .stop_pipeline_execution()
        .pipeline_execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(ended(&stack, &arn).await.0, "Stopped");
    let all = steps(&stack, &arn).await;
    assert_eq!(
        all["AbaloneTrain"].step_status().unwrap().as_str(),
        "Stopped"
    );
    assert!(all["AbaloneTrain"]
        .failure_reason()
        .unwrap()
        .contains("stopped"));
    assert!(!all.contains_key("AbaloneEval"));
}

#[tokio::test]
async fn every_job_step_type_the_sdk_writes_runs_on_its_mock() {
    let stack = deployed_stack(&[], None).await;
    let read = |major: &str, name: &str| {
        std::fs::read_to_string(format!(
            "{}/sdk/definitions/{major}/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let arn = start(&stack, "job-types", &read("v2", "job-types")).await;
    assert_eq!(ended(&stack, &arn).await, ("Succeeded".into(), None));
    let all = steps(&stack, &arn).await;
    let metadata = |name: &str| all[name].metadata().unwrap().clone();
    assert!(metadata("Tune").tuning_job().unwrap().arn().is_some());
    assert!(metadata("AutoPilot").auto_ml_job().unwrap().arn().is_some());
    let quality = metadata("DataQuality");
    let quality = quality.quality_check().unwrap();
    assert_eq!(
        quality.calculated_baseline_statistics(),
        Some("s3://jobs-local/quality/statistics.json")
    );
    assert!(metadata("DataBias")
        .clarify_check()
        .unwrap()
        .check_job_arn()
        .is_some());
    let outputs: BTreeMap<String, String> = metadata("ReadJobs")
        .lambda()
        .unwrap()
        .output_parameters()
        .iter()
        .map(|o| (o.name().unwrap().to_owned(), o.value().unwrap().to_owned()))
        .collect();
    let best = &outputs["best"];
    // A tuning job's training jobs are named after it, `<tuning job>-<NNN>-<hash>`.
    let tuning_arn = metadata("Tune")
        .tuning_job()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let tuning = integration_tests::name_in_arn(&tuning_arn);
    assert!(
        best.to_lowercase().starts_with(&format!("{tuning}-001-")),
        "{outputs:?} {tuning}"
    );
    assert_eq!(
        outputs["top_model"],
        format!("s3://jobs-local/tuning/{best}/output/model.tar.gz"),
        "the SDK's get_top_model_s3_uri reads TrainingJobSummaries[0]"
    );
    assert_eq!(outputs["automl"], "Completed");
    assert_eq!(outputs["constraints"], "s3://jobs-local/bias/analysis.json");

    let arn = start(&stack, "job-types-v3", &read("v3", "job-types-v3")).await;
    assert_eq!(ended(&stack, &arn).await, ("Succeeded".into(), None));
    let all = steps(&stack, &arn).await;
    let spark = all["SparkJob"]
        .metadata()
        .unwrap()
        .emr_serverless()
        .unwrap()
        .clone();
    assert_eq!(spark.application_id(), Some("00fabc123def"));
    assert!(spark.job_run_id().is_some());
    assert_eq!(
        all["SparkJob"].step_display_name(),
        Some("Spark on EMR Serverless")
    );
}
