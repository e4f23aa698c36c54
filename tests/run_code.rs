//! `--run-code`: the abalone pipeline as the SageMaker Python SDK wrote it
//! (tests/sdk/definitions/v2/abalone.json), its Processing step running a script of the
//! user's for real (tests/code/), on data in local S3, in its own `/opt/ml`. The scripts
//! use the standard library only, so python3 on PATH runs them.

use std::time::Duration;

use integration_tests::{
    create_and_start, create_pipeline, deployed_stack, sagemaker_client, wait_until,
};
use pipelines_emulator::Emulator;
use pipelines_emulator::{Mocks, StepRecord};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(60);
const BUCKET: &str = "abalone-local";

fn file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A stack whose job steps run their code in python3; the evaluation stays on its mock
/// (its MSE over the threshold, so the pipeline ends at its Fail step: no approval).
async fn stack() -> Emulator {
    let stack = deployed_stack(&[], None).await;
    stack
        .enable_code("python3", true)
        .await
        .expect("this machine runs a job's code in its own /opt/ml");
    let mocks = json!({"Steps": {"AbaloneEval": {"Run": "mock",
        "PropertyFiles": {"EvaluationReport": {"regression_metrics": {"mse": {"value": 7.5}}}}}}});
    stack
        .sagemaker
        .pipelines()
        .jobs()
        .set_mocks(Mocks::parse(&mocks.to_string()).unwrap());
    let s3 = stack.s3_client();
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    stack
}

async fn put(stack: &Emulator, key: &str, body: String) {
    stack
        .s3_client()
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(body.into_bytes().into())
        .send()
        .await
        .unwrap();
}

async fn get(stack: &Emulator, key: &str) -> Option<String> {
    let object = stack
        .s3_client()
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .ok()?;
    let bytes = object.body.collect().await.ok()?.into_bytes();
    Some(String::from_utf8(bytes.to_vec()).unwrap())
}

/// An abalone-shaped data set: `rows` rows of sex, seven measures and the rings.
fn abalone_rows(rows: usize) -> String {
    (0..rows)
        .map(|i| {
            let length = 0.2 + (i % 50) as f64 / 100.0;
            format!(
                "{},{length:.3},{:.3},{:.3},{:.4},{:.4},{:.4},{:.4},{}\n",
                ["M", "F", "I"][i % 3],
                length * 0.8,
                length * 0.3,
                length * 1.2,
                length * 0.5,
                length * 0.25,
                length * 0.35,
                5 + i % 15
            )
        })
        .collect()
}

async fn start(stack: &Emulator, name: &str) -> String {
    let client = sagemaker_client(stack);
    // Refused as already there when the test starts a second execution of it.
    let _ = create_pipeline(&client, name, &file("sdk/definitions/v2/abalone.json")).await;
    client
        .start_pipeline_execution()
        .pipeline_name(name)
        .send()
        .await
        .unwrap()
        .pipeline_execution_arn
        .unwrap()
}

async fn ended(stack: &Emulator, arn: &str) -> (String, Option<String>, Vec<StepRecord>) {
    let e = stack
        .sagemaker
        .pipelines()
        .wait_until_done(arn, DEADLINE)
        .await
        .unwrap_or_else(|| panic!("{arn} did not end"));
    let (status, reason) = integration_tests::ending(&e);
    (status, reason, e.steps)
}

/// A stack running abalone.json with `script` as its preprocessing, on `data`.
async fn abalone_with(script: &str, data: String) -> (Emulator, String) {
    let stack = stack().await;
    put(&stack, "code/preprocessing.py", file(script)).await;
    put(&stack, "abalone/abalone-dataset.csv", data).await;
    let arn = start(&stack, "abalone").await;
    (stack, arn)
}

fn step<'a>(steps: &'a [StepRecord], name: &str) -> &'a StepRecord {
    steps.iter().find(|s| s.name == name).unwrap()
}

#[tokio::test]
async fn the_processing_script_runs_on_local_s3_data_and_its_outputs_feed_the_pipeline() {
    let (stack, arn) = abalone_with("code/preprocessing.py", abalone_rows(100)).await;
    let (status, reason, steps) = ended(&stack, &arn).await;
    assert_eq!(
        (status.as_str(), reason.as_deref()),
        ("Failed", Some("Execution failed due to MSE > 6.0")),
        "the pipeline ran on past the real step to its Fail step"
    );
    let process = step(&steps, "AbaloneProcess");
    assert_eq!(process.status, "Succeeded");
    assert_eq!(
        process.code_run.as_deref(),
        Some("ran its code: python3 /opt/ml/processing/input/code/preprocessing.py")
    );
    // What the script wrote, where the step's outputs say.
    let lines = |text: Option<String>| text.map_or(0, |t| t.lines().count());
    assert_eq!(
        lines(get(&stack, "AbaloneProcess/train/train.csv").await),
        70
    );
    assert_eq!(
        lines(get(&stack, "AbaloneProcess/validation/validation.csv").await),
        15
    );
    assert_eq!(lines(get(&stack, "AbaloneProcess/test/test.csv").await), 15);
    let train = get(&stack, "AbaloneProcess/train/train.csv").await.unwrap();
    let first: Vec<&str> = train.lines().next().unwrap().split(',').collect();
    assert!(first[0].parse::<u32>().is_ok(), "rings first: {first:?}");
    // What cannot run says so; what the mock file keeps on its mock, too.
    assert_eq!(
        step(&steps, "AbaloneTrain").code_run.as_deref(),
        Some("mocked: its image is built-in XGBoost 1.7-1, and the job's interpreter (--python) has no xgboost: install it there (pip install xgboost==1.7.4)")
    );
    assert_eq!(
        step(&steps, "AbaloneEval").code_run.as_deref(),
        Some("mocked: the mock file keeps it on its mock")
    );
    // Describe* says it too: the script's /opt/ml/output/message is its ExitMessage, and
    // a mocked job says it was mocked, and why, in its own words' place.
    let client = sagemaker_client(&stack);
    let job = |name: &str, kind: &str| {
        let arn = step(&steps, name).metadata[kind]["Arn"].as_str().unwrap();
        integration_tests::name_in_arn(arn).to_owned()
    };
    let described = client
        .describe_processing_job()
        .processing_job_name(job("AbaloneProcess", "ProcessingJob"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.exit_message(),
        Some("split 100 rows: 70 train, 15 validation, 15 test")
    );
    let described = client
        .describe_training_job()
        .training_job_name(job("AbaloneTrain", "TrainingJob"))
        .send()
        .await
        .unwrap();
    let said = described.secondary_status_transitions()[0]
        .status_message()
        .unwrap();
    assert!(
        said.starts_with("pipelines-emulator: mocked: its image is built-in XGBoost 1.7-1"),
        "{said}"
    );
    let described = client
        .describe_processing_job()
        .processing_job_name(job("AbaloneEval", "ProcessingJob"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.exit_message(),
        Some("pipelines-emulator: mocked: the mock file keeps it on its mock")
    );
    // And ListPipelineExecutionSteps, in the StepDescription that list_steps() passes
    // on: the mocked steps say why, the one that ran its code is as the definition has it.
    let listed = client
        .list_pipeline_execution_steps()
        .pipeline_execution_arn(&arn)
        .send()
        .await
        .unwrap();
    let description = |name: &str| {
        listed
            .pipeline_execution_steps()
            .iter()
            .find(|s| s.step_name() == Some(name))
            .and_then(|s| s.step_description())
            .map(str::to_owned)
    };
    assert_eq!(description("AbaloneProcess"), None);
    assert_eq!(
        description("AbaloneEval").as_deref(),
        Some("pipelines-emulator: mocked: the mock file keeps it on its mock")
    );
    assert!(description("AbaloneTrain")
        .unwrap()
        .starts_with("pipelines-emulator: mocked: its image is built-in XGBoost 1.7-1"));
}

#[tokio::test]
async fn a_script_that_raises_fails_its_step_with_the_error() {
    let bad = abalone_rows(10).replacen(",5\n", ",many\n", 1);
    let (stack, arn) = abalone_with("code/preprocessing.py", bad).await;
    let (status, _, steps) = ended(&stack, &arn).await;
    assert_eq!(status, "Failed");
    let process = step(&steps, "AbaloneProcess");
    assert_eq!(process.status, "Failed");
    let reason = process.failure_reason.as_deref().unwrap();
    assert!(
        reason.starts_with(
            "AlgorithmError: python3 /opt/ml/processing/input/code/preprocessing.py exited with code 1; its last lines: "
        ),
        "{reason}"
    );
    assert!(
        reason.ends_with("ValueError: could not convert string to float: 'many'"),
        "the traceback's last line ends the reason: {reason}"
    );
    assert!(
        get(&stack, "AbaloneProcess/train/train.csv")
            .await
            .is_none(),
        "a failed job uploads nothing"
    );
}

/// The job logs of the stack, by job folder.
fn job_logs(stack: &Emulator) -> Vec<String> {
    std::fs::read_dir(stack.work_dir().join("jobs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|job| std::fs::read_to_string(job.path().join("output.log")).ok())
        .collect()
}

#[tokio::test]
async fn a_stop_during_the_script_sends_it_sigterm_and_the_step_ends_stopped() {
    let (stack, arn) = abalone_with("code/waits_for_stop.py", abalone_rows(10)).await;
    wait_until("the script runs", DEADLINE, || {
        job_logs(&stack)
            .iter()
            .any(|l| l.contains("waiting to be stopped"))
    })
    .await;
    sagemaker_client(&stack)
        .stop_pipeline_execution()
        .pipeline_execution_arn(&arn)
        .client_request_token("stop-during-the-script-0000000000")
        .send()
        .await
        .unwrap();
    let (status, _, steps) = ended(&stack, &arn).await;
    assert_eq!(status, "Stopped");
    assert_eq!(step(&steps, "AbaloneProcess").status, "Stopped");
    assert!(
        job_logs(&stack).iter().any(|l| l.contains("got SIGTERM")),
        "{:?}",
        job_logs(&stack)
    );
}

#[tokio::test]
async fn two_jobs_at_once_each_have_their_own_opt_ml() {
    let (stack, first) = abalone_with("code/own_opt_ml.py", abalone_rows(10)).await;
    let second = start(&stack, "abalone").await;
    let (_, _, first_steps) = ended(&stack, &first).await;
    let (_, _, second_steps) = ended(&stack, &second).await;
    let (a, b) = (
        step(&first_steps, "AbaloneProcess"),
        step(&second_steps, "AbaloneProcess"),
    );
    assert_eq!(
        (a.status.as_str(), b.status.as_str()),
        ("Succeeded", "Succeeded"),
        "{:?} {:?}",
        a.failure_reason,
        b.failure_reason
    );
    // They ran at the same time, so each would have seen the other's file in a shared /opt/ml.
    assert!(a.started < b.ended.unwrap() && b.started < a.ended.unwrap());
}

/// A stack whose job steps run their code in `.venv-code` (scikit-learn, xgboost), with
/// `mocks` and `bucket`; the xgboost abalone scripts in place when `bucket` is BUCKET.
async fn venv_code_stack(bucket: &str, mocks: Value) -> Emulator {
    let stack = deployed_stack(&[], None).await;
    let python = pipelines_emulator::workspace_root().join(".venv-code/bin/python");
    stack
        .enable_code(python.to_str().unwrap(), true)
        .await
        .expect("scripts/setup made .venv-code");
    stack
        .sagemaker
        .pipelines()
        .jobs()
        .set_mocks(Mocks::parse(&mocks.to_string()).unwrap());
    stack
        .s3_client()
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    if bucket == BUCKET {
        for script in ["preprocessing", "evaluation"] {
            let text = file(&format!("code/xgboost/{script}.py"));
            put(&stack, &format!("code/{script}.py"), text).await;
        }
    }
    stack
}

/// The script-mode abalone pipeline's scripts (tests/code/abalone) where its
/// definition names them, and a data set whose rings follow the shell's length.
async fn script_mode_stack() -> Emulator {
    let stack = deployed_stack(&[], None).await;
    let python = pipelines_emulator::workspace_root().join(".venv-code/bin/python");
    stack
        .enable_code(python.to_str().unwrap(), true)
        .await
        .expect("scripts/setup made .venv-code");
    stack
        .s3_client()
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    for script in ["preprocessing.py", "evaluation.py"] {
        put(
            &stack,
            &format!("code/abalone/{script}"),
            file(&format!("code/abalone/{script}")),
        )
        .await;
    }
    // The estimator's source_dir, packed as the SDK packs one.
    let archive = stack.work_dir().join("sourcedir.tar.gz");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("code/abalone");
    pipelines_emulator::staging::pack(&source, &archive).unwrap();
    stack
        .s3_client()
        .put_object()
        .bucket(BUCKET)
        .key("code/abalone/sourcedir.tar.gz")
        .body(std::fs::read(&archive).unwrap().into())
        .send()
        .await
        .unwrap();
    put(&stack, "abalone/abalone-dataset.csv", abalone_rows(200)).await;
    stack
}

/// The MSE the evaluation script wrote into its PropertyFile, read from local S3.
async fn evaluated_mse(stack: &Emulator) -> f64 {
    let report = get(stack, "script/evaluation/evaluation.json")
        .await
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    report["regression_metrics"]["mse"]["value"]
        .as_f64()
        .unwrap()
}

async fn start_script_mode(stack: &Emulator, threshold: &str) -> String {
    create_and_start(
        &sagemaker_client(stack),
        "abalone-script",
        &file("sdk/definitions/v2/abalone-script.json"),
        &[("MseThreshold", threshold)],
    )
    .await
}

#[tokio::test]
async fn script_mode_training_and_evaluation_decide_the_condition_on_the_mse_they_computed() {
    let stack = script_mode_stack().await;
    let arn = start_script_mode(&stack, "1000").await;
    let (status, reason, steps) = ended(&stack, &arn).await;
    assert_eq!((status.as_str(), reason), ("Succeeded", None), "{steps:#?}");
    let train = step(&steps, "Train");
    assert_eq!(
        train.code_run.as_deref(),
        Some("ran its code: python train.py --max_depth 6")
    );
    let properties = train.properties.as_ref().unwrap();
    let artifacts = properties["ModelArtifacts"]["S3ModelArtifacts"]
        .as_str()
        .unwrap();
    let key = artifacts.strip_prefix("s3://abalone-local/").unwrap();
    assert!(
        stack
            .s3_client()
            .head_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .is_ok(),
        "model.tar.gz at {artifacts}"
    );
    // The job answers DescribeTrainingJob with what its step's properties came from.
    let described = sagemaker_client(&stack)
        .describe_training_job()
        .training_job_name(properties["TrainingJobName"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.training_job_status().map(|s| s.as_str()),
        Some("Completed")
    );
    assert_eq!(
        described
            .model_artifacts()
            .and_then(|m| m.s3_model_artifacts()),
        Some(artifacts)
    );
    assert_eq!(described.final_metric_data_list().len(), 1);
    let metrics = properties["FinalMetricDataList"].as_array().unwrap();
    assert_eq!(metrics.len(), 1, "{metrics:?}");
    assert_eq!(metrics[0]["MetricName"], "train:mse");
    assert!(metrics[0]["Value"].as_f64().unwrap() >= 0.0);
    // The MSE the evaluation script wrote reached the Lambda step through the Condition.
    let mse = evaluated_mse(&stack).await;
    let report = step(&steps, "ReportMse");
    let reported = report.metadata["Lambda"]["OutputParameters"][0]["Value"]
        .as_str()
        .unwrap();
    assert_eq!(reported.parse::<f64>().unwrap(), mse);
}

#[tokio::test]
async fn over_the_threshold_the_computed_mse_takes_the_fail_branch() {
    let stack = script_mode_stack().await;
    let arn = start_script_mode(&stack, "0.0").await;
    let (status, reason, steps) = ended(&stack, &arn).await;
    assert_eq!(status, "Failed");
    let mse = evaluated_mse(&stack).await;
    assert!(mse > 0.0, "the test split is not fitted exactly: {mse}");
    let reason = reason.unwrap();
    assert!(reason.contains("is over 0.0"), "{reason}");
    assert!(step(&steps, "MseTooHigh").status == "Failed");
    assert!(!steps.iter().any(|s| s.name == "ReportMse"));
}

/// The job folders of the stack whose job ran for the step named `step`.
fn jobs_of(stack: &Emulator, step: &str) -> usize {
    std::fs::read_dir(stack.work_dir().join("jobs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|job| {
            job.file_name()
                .to_string_lossy()
                .contains(&format!("-{step}-"))
        })
        .count()
}

#[tokio::test]
async fn a_cached_training_step_reuses_its_result_without_running_its_script_again() {
    let stack = script_mode_stack().await;
    let first = start_script_mode(&stack, "1000").await;
    let (status, _, first_steps) = ended(&stack, &first).await;
    assert_eq!(status, "Succeeded");
    // A second execution (a token of its own: the first start's would be answered with
    // the first execution).
    let second = sagemaker_client(&stack)
        .start_pipeline_execution()
        .pipeline_name("abalone-script")
        .pipeline_parameters(
            aws_sdk_sagemaker::types::Parameter::builder()
                .name("MseThreshold")
                .value("1000")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .pipeline_execution_arn
        .unwrap();
    assert_ne!(second, first);
    let (status, _, second_steps) = ended(&stack, &second).await;
    assert_eq!(status, "Succeeded");
    // CacheConfig PT1H on Train: the second execution takes the first's result.
    let (a, b) = (step(&first_steps, "Train"), step(&second_steps, "Train"));
    assert_eq!(a.cache_hit, None);
    assert_eq!(b.cache_hit.as_deref(), Some(first.as_str()));
    assert_eq!(
        b.properties.as_ref().unwrap()["ModelArtifacts"],
        a.properties.as_ref().unwrap()["ModelArtifacts"]
    );
    assert_eq!(jobs_of(&stack, "Train"), 1, "train.py ran once");
    // Preprocess has no CacheConfig: its script ran for each execution.
    assert_eq!(jobs_of(&stack, "Preprocess"), 2);
}

#[tokio::test]
async fn a_retry_policy_on_the_services_faults_does_not_retry_the_scripts_error() {
    let stack = script_mode_stack().await;
    put(
        &stack,
        "code/abalone/preprocessing.py",
        "raise SystemExit('no rows to preprocess')\n".into(),
    )
    .await;
    let arn = start_script_mode(&stack, "1000").await;
    let (status, _, steps) = ended(&stack, &arn).await;
    assert_eq!(status, "Failed");
    let preprocess = step(&steps, "Preprocess");
    assert!(
        preprocess
            .failure_reason
            .as_deref()
            .unwrap()
            .ends_with("no rows to preprocess"),
        "{:?}",
        preprocess.failure_reason
    );
    // Its policy names SageMaker.JOB_INTERNAL_ERROR and CAPACITY_ERROR; an AlgorithmError
    // is the script's, and SageMaker does not retry it.
    assert_eq!(preprocess.attempts, 1);
    assert_eq!(jobs_of(&stack, "Preprocess"), 1);
}

#[tokio::test]
async fn a_service_fault_on_the_first_attempt_is_retried_and_the_retry_runs_the_script() {
    let stack = script_mode_stack().await;
    let mocks = json!({"Steps": {"Preprocess": {
        "Fail": "SageMaker.CAPACITY_ERROR: no ml.m5.xlarge capacity", "FailAttempts": 1}}});
    stack
        .sagemaker
        .pipelines()
        .jobs()
        .set_mocks(Mocks::parse(&mocks.to_string()).unwrap());
    let arn = start_script_mode(&stack, "1000").await;
    let (status, reason, steps) = ended(&stack, &arn).await;
    assert_eq!(status, "Succeeded", "{reason:?}");
    // The policy names CAPACITY_ERROR: a second attempt, which ran the script (its
    // outputs are what the training read), once.
    let preprocess = step(&steps, "Preprocess");
    assert_eq!(preprocess.attempts, 2);
    assert_eq!(jobs_of(&stack, "Preprocess"), 1);
    assert!(preprocess
        .code_run
        .as_deref()
        .unwrap()
        .starts_with("ran its code: python3 /opt/ml/processing/input/code/preprocessing.py"));
    assert!(evaluated_mse(&stack).await.is_finite());
}

/// An S3 key that climbs out of its input prefix (`..` segments) is staged nowhere: the
/// step fails naming it, and nothing is written where the key points.
#[tokio::test]
async fn an_input_key_with_dot_dot_fails_its_step_and_writes_nothing_outside() {
    let target = tempfile::tempdir().unwrap();
    let outside = target.path().join("pwned");
    let climb = "../".repeat(24);
    let key = format!(
        "abalone/abalone-dataset.csv/{climb}{}",
        outside.display().to_string().trim_start_matches('/')
    );
    let stack = stack().await;
    put(
        &stack,
        "code/preprocessing.py",
        file("code/preprocessing.py"),
    )
    .await;
    put(&stack, "abalone/abalone-dataset.csv", abalone_rows(10)).await;
    put(&stack, &key, "written by the pipeline".into()).await;
    let arn = start(&stack, "abalone").await;
    let (status, _, steps) = ended(&stack, &arn).await;
    assert_eq!(status, "Failed");
    let reason = step(&steps, "AbaloneProcess")
        .failure_reason
        .clone()
        .unwrap();
    assert!(
        reason.contains("ClientError") && reason.contains(&key),
        "{reason}"
    );
    assert!(!outside.exists(), "the key was written outside the job");
}

/// A LocalPath with an empty segment (`/opt/ml//<path>`) would join as the host path
/// itself: it fails the step as a ClientError naming it, whether the step runs its code
/// or answers from its mock, and nothing is written there.
#[tokio::test]
async fn a_local_path_outside_opt_ml_fails_its_step_run_or_mocked() {
    let target = tempfile::tempdir().unwrap();
    let local = format!("/opt/ml/{}", target.path().display());
    let mut definition: Value =
        serde_json::from_str(&file("sdk/definitions/v2/abalone.json")).unwrap();
    for step in definition["Steps"].as_array_mut().unwrap() {
        if step["Name"] == "AbaloneProcess" {
            step["Arguments"]["ProcessingInputs"][0]["S3Input"]["LocalPath"] = json!(local);
        }
    }
    for run_code in [true, false] {
        let stack = if run_code {
            stack().await
        } else {
            deployed_stack(&[], None).await
        };
        let s3 = stack.s3_client();
        let _ = s3.create_bucket().bucket(BUCKET).send().await;
        put(
            &stack,
            "code/preprocessing.py",
            file("code/preprocessing.py"),
        )
        .await;
        put(&stack, "abalone/abalone-dataset.csv", abalone_rows(10)).await;
        let client = sagemaker_client(&stack);
        create_pipeline(&client, "escape", &definition.to_string())
            .await
            .unwrap();
        let arn = client
            .start_pipeline_execution()
            .pipeline_name("escape")
            .send()
            .await
            .unwrap()
            .pipeline_execution_arn
            .unwrap();
        let (status, _, steps) = ended(&stack, &arn).await;
        assert_eq!(status, "Failed", "run_code {run_code}");
        let reason = step(&steps, "AbaloneProcess")
            .failure_reason
            .clone()
            .unwrap();
        assert!(
            reason.starts_with("ClientError: the LocalPath of input 'input-1'")
                && reason.contains(&local),
            "run_code {run_code}: {reason}"
        );
        assert_eq!(
            std::fs::read_dir(target.path()).unwrap().count(),
            0,
            "nothing written at {local}"
        );
    }
}

/// The abalone pipeline as the guide writes it (SDK-written: abalone-guide.json on
/// the guide's XGBoost 1.0-1, whose model is a pickled Booster, and abalone.json on
/// 1.7-1), every job its own code: the preprocessing script, built-in XGBoost in
/// algorithm mode on the interpreter's xgboost, an evaluation script that loads the
/// trained model, the Transform serving it. The Condition reads the MSE the evaluation
/// computed from the model that really trained, both ways.
#[tokio::test]
async fn builtin_xgboost_trains_for_real_and_the_evaluation_scores_the_model_it_made() {
    for (pipeline, release, threshold, branch) in [
        ("abalone-guide", "1.0", "0.0001", "AbaloneMSEFail"),
        (
            "abalone-guide",
            "1.0",
            "1000",
            "AbaloneRegister-RegisterModel",
        ),
        ("abalone", "1.7.4", "1000", "AbaloneRegister-RegisterModel"),
    ] {
        let stack = venv_code_stack(BUCKET, json!({})).await;
        put(&stack, "abalone/abalone-dataset.csv", abalone_rows(300)).await;
        put(&stack, "abalone/abalone-batch.csv", abalone_batch(40)).await;
        let client = sagemaker_client(&stack);
        let arn = create_and_start(
            &client,
            pipeline,
            &file(&format!("sdk/definitions/v2/{pipeline}.json")),
            &[("MseThreshold", threshold)],
        )
        .await;
        // The else branch fails the execution; the if branch runs on to its Callback,
        // which waits: the run is judged once the branch's first step ended.
        let branch_ended = || {
            stack
                .sagemaker
                .pipelines()
                .execution(&arn)
                .is_some_and(|e| {
                    e.is_done()
                        || e.steps
                            .iter()
                            .any(|s| s.name == branch && s.status != "Executing")
                })
        };
        let deadline = std::time::Instant::now() + 2 * DEADLINE;
        while !branch_ended() {
            let execution = stack.sagemaker.pipelines().execution(&arn).unwrap();
            assert!(
                std::time::Instant::now() < deadline,
                "{branch} did not end: {:#?}",
                execution
                    .steps
                    .iter()
                    .map(|s| (&s.name, &s.status, &s.failure_reason, &s.code_run))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let steps = stack.sagemaker.pipelines().execution(&arn).unwrap().steps;
        let train = step(&steps, "AbaloneTrain");
        assert_eq!(train.status, "Succeeded", "{:?}", train.failure_reason);
        let note = train.code_run.as_deref().unwrap();
        assert!(
            note.starts_with("ran its code: python /opt/ml/code/pipelines_emulator_xgboost.py")
                && note.contains(&format!(
                    "xgboost 3.0.5 of --python in place of the image's {release}"
                )),
            "{note}"
        );
        let metrics = train.metadata["TrainingJob"]["Arn"].as_str().map(|_| ());
        assert!(metrics.is_some());
        let job = client
            .describe_training_job()
            .training_job_name(integration_tests::name_in_arn(
                train.metadata["TrainingJob"]["Arn"].as_str().unwrap(),
            ))
            .send()
            .await
            .unwrap();
        let names: Vec<&str> = job
            .final_metric_data_list()
            .iter()
            .filter_map(|m| m.metric_name())
            .collect();
        assert_eq!(
            names,
            ["train:rmse", "validation:rmse"],
            "SageMaker's metrics for the algorithm"
        );
        let artifact = job.model_artifacts().unwrap().s3_model_artifacts().unwrap();
        let key = artifact.strip_prefix(&format!("s3://{BUCKET}/")).unwrap();
        let packed = stack
            .s3_client()
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .expect("the trained model.tar.gz is in local S3")
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        assert!(packed.len() > 1000, "a real model: {} bytes", packed.len());
        let eval = step(&steps, "AbaloneEval");
        assert_eq!(eval.status, "Succeeded", "{:?}", eval.failure_reason);
        let report: Value = serde_json::from_str(
            &get(&stack, "AbaloneEval/evaluation/evaluation.json")
                .await
                .unwrap(),
        )
        .unwrap();
        let mse = report["regression_metrics"]["mse"]["value"]
            .as_f64()
            .unwrap();
        assert!(mse.is_finite() && mse > 0.0, "{report}");
        let outcome = &step(&steps, "AbaloneMSECond").metadata["Condition"]["Outcome"];
        assert_eq!(
            outcome,
            if mse <= threshold.parse::<f64>().unwrap() {
                "True"
            } else {
                "False"
            },
            "mse {mse} against {threshold}"
        );
        let expected = if branch == "AbaloneMSEFail" {
            "Failed"
        } else {
            "Succeeded"
        };
        assert_eq!(step(&steps, branch).status, expected, "{branch}");
        if branch != "AbaloneMSEFail" {
            // The registered package and the model carry the artifact that trained.
            let register = step(&steps, branch);
            let package = client
                .describe_model_package()
                .model_package_name(register.metadata["RegisterModel"]["Arn"].as_str().unwrap())
                .send()
                .await
                .unwrap();
            let containers = package.inference_specification().unwrap().containers();
            assert_eq!(containers[0].model_data_url(), Some(artifact));
            transform_serves_the_trained_model(&stack, &arn, &packed).await;
        }
    }
}

/// The batch the abalone pipeline's Transform reads: features as the preprocessing
/// makes them (the sex one-hot, seven measures), no label.
fn abalone_batch(rows: usize) -> String {
    abalone_rows(rows)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let sex = ["M", "F", "I"].map(|s| if fields[0] == s { "1" } else { "0" });
            format!(
                "{},{}\n",
                sex.join(","),
                fields[1..fields.len() - 1].join(",")
            )
        })
        .collect()
}

/// The Transform of the if branch served the model the training made: one prediction
/// per batch row in `<S3OutputPath>/abalone-batch.csv.out`, equal to what the model
/// predicts when loaded by xgboost directly.
async fn transform_serves_the_trained_model(stack: &Emulator, arn: &str, model: &[u8]) {
    let deadline = std::time::Instant::now() + 2 * DEADLINE;
    let transform = loop {
        let steps = stack.sagemaker.pipelines().execution(arn).unwrap().steps;
        let ended = steps
            .iter()
            .find(|s| s.name == "AbaloneTransform" && s.status != "Executing");
        if let Some(t) = ended {
            break t.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Transform did not end"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        transform.status, "Succeeded",
        "{:?}",
        transform.failure_reason
    );
    let note = transform.code_run.as_deref().unwrap();
    assert!(note.starts_with("ran its code"), "{note}");
    let served = get(stack, "AbaloneTransform/abalone-batch.csv.out")
        .await
        .unwrap();
    let served: Vec<f64> = served.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(served.len(), 40);

    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("model.tar.gz"), model).unwrap();
    std::fs::write(work.path().join("batch.csv"), abalone_batch(40)).unwrap();
    let python = pipelines_emulator::workspace_root().join(".venv-code/bin/python");
    let script = "import tarfile, numpy, xgboost\n\
tarfile.open('model.tar.gz').extractall('.', filter='data')\n\
import pickle\n\
try:\n    b = pickle.load(open('xgboost-model', 'rb'))\n\
except Exception:\n    b = xgboost.Booster()\n    b.load_model('xgboost-model')\n\
for p in b.predict(xgboost.DMatrix(numpy.loadtxt('batch.csv', delimiter=',', ndmin=2))):\n    print(p)\n";
    let predicted = std::process::Command::new(python)
        .current_dir(work.path())
        .args(["-c", script])
        .output()
        .unwrap();
    assert!(
        predicted.status.success(),
        "{}",
        String::from_utf8_lossy(&predicted.stderr)
    );
    let predicted: Vec<f64> = String::from_utf8_lossy(&predicted.stdout)
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(predicted.len(), served.len());
    for (s, p) in served.iter().zip(&predicted) {
        assert!((s - p).abs() < 1e-4, "served {s}, the model predicts {p}");
    }
}

/// The mock file keeps the training on its mock, which writes no model: the evaluation
/// that reads it fails naming the training step, why it was mocked and the ways out, not
/// only the missing object.
#[tokio::test]
async fn a_missing_input_names_the_mocked_step_that_was_to_write_it() {
    let mocks = json!({"Steps": {"AbaloneTrain": {"Run": "mock"}}});
    let stack = venv_code_stack(BUCKET, mocks).await;
    put(&stack, "abalone/abalone-dataset.csv", abalone_rows(100)).await;
    let arn = start(&stack, "abalone").await;
    let (status, _, steps) = ended(&stack, &arn).await;
    assert_eq!(status, "Failed");
    assert_eq!(
        step(&steps, "AbaloneTrain").status,
        "Succeeded",
        "on its mock"
    );
    let reason = step(&steps, "AbaloneEval").failure_reason.clone().unwrap();
    for part in [
        "no object in local S3 under s3://abalone-local/AbaloneTrain/",
        "step AbaloneTrain was to write it, and stayed on its mock (the mock file keeps it on its mock)",
        "\"Run\": \"code\"",
    ] {
        assert!(reason.contains(part), "{part:?} in {reason}");
    }
}

/// The tuning pipeline the SDK wrote (tuning-top-models.json: built-in XGBoost 1.0-1,
/// Bayesian, 3 jobs at once, Minimize validation:rmse) runs its training jobs for real:
/// each drew its own hyperparameters from the ranges, the summaries list them best
/// first with the objective each reached, and the models the SDK's
/// get_top_model_s3_uri points at are the real model.tar.gz of those jobs.
#[tokio::test]
async fn a_tuning_step_runs_its_training_jobs_and_ranks_them_by_the_objective_they_reached() {
    // The Baseline estimator has no num_round, which SageMaker would refuse: kept aside.
    let mocks = json!({"Steps": {"Baseline": {"Run": "mock"}}});
    let stack = venv_code_stack("ported-local", mocks).await;
    let s3 = stack.s3_client();
    let labelled = |rows: usize| -> String {
        abalone_rows(rows)
            .lines()
            .zip(abalone_batch(rows).lines())
            .map(|(row, features)| format!("{},{features}\n", row.rsplit(',').next().unwrap()))
            .collect()
    };
    for (key, rows) in [("train/train.csv", 200), ("validation/validation.csv", 60)] {
        s3.put_object()
            .bucket("ported-local")
            .key(key)
            .body(labelled(rows).into_bytes().into())
            .send()
            .await
            .unwrap();
    }
    let client = sagemaker_client(&stack);
    let arn = create_and_start(
        &client,
        "tuning",
        &file("sdk/definitions/v2/tuning-top-models.json"),
        &[],
    )
    .await;
    let (status, reason, steps) = ended(&stack, &arn).await;
    assert_eq!(status, "Succeeded", "{reason:?}");
    let tuning = step(&steps, "HPTuning");
    let note = tuning.code_run.as_deref().unwrap();
    assert!(
        note.starts_with("ran its code: ran 3 training jobs, 3 at a time; best ")
            && note.ends_with("its Bayesian strategy runs as Random on the emulator"),
        "{note}"
    );
    // The step's properties, which the pipeline's references read (the SDK's
    // get_top_model_s3_uri takes TrainingJobSummaries[k]).
    let properties = tuning.properties.clone().unwrap();
    let summaries = properties["TrainingJobSummaries"].as_array().unwrap();
    assert_eq!(summaries.len(), 3);
    let objectives: Vec<f64> = summaries
        .iter()
        .map(|s| {
            s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert!(
        objectives.windows(2).all(|w| w[0] <= w[1]),
        "best (least rmse) first: {objectives:?}"
    );
    let tuned: Vec<&Value> = summaries
        .iter()
        .map(|s| &s["TunedHyperParameters"])
        .collect();
    assert!(
        tuned[0] != tuned[1] || tuned[1] != tuned[2],
        "the jobs drew their own values: {tuned:?}"
    );
    for values in &tuned {
        let depth: i64 = values["max_depth"].as_str().unwrap().parse().unwrap();
        let alpha: f64 = values["alpha"].as_str().unwrap().parse().unwrap();
        assert!(
            (2..=10).contains(&depth) && (0.01..=10.0).contains(&alpha),
            "{values}"
        );
    }
    assert_eq!(
        properties["BestTrainingJob"]["TrainingJobName"],
        summaries[0]["TrainingJobName"]
    );
    let names: Vec<&str> = summaries
        .iter()
        .map(|s| s["TrainingJobName"].as_str().unwrap())
        .collect();
    // Each job is described with the objective it reached, and left its own model.
    for (rank, name) in names.iter().enumerate() {
        let job = client
            .describe_training_job()
            .training_job_name(*name)
            .send()
            .await
            .unwrap();
        let reached = job.final_metric_data_list()[0].value().unwrap();
        assert!(
            (f64::from(reached) - objectives[rank]).abs() < 1e-3,
            "{reached} {}",
            objectives[rank]
        );
        assert_eq!(
            job.hyper_parameters().unwrap()["max_depth"],
            tuned[rank]["max_depth"].as_str().unwrap()
        );
    }
    for (model_step, rank) in [
        ("BestModel-CreateModel", 0),
        ("SecondBestModel-CreateModel", 1),
    ] {
        let key = format!("AbaloneTrain/{}/output/model.tar.gz", names[rank]);
        let model = client
            .describe_model()
            .model_name(integration_tests::name_in_arn(
                step(&steps, model_step).metadata["Model"]["Arn"]
                    .as_str()
                    .unwrap(),
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(
            model.primary_container().unwrap().model_data_url(),
            Some(format!("s3://ported-local/{key}").as_str())
        );
        s3.head_object()
            .bucket("ported-local")
            .key(&key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: the job's real model: {e:?}"));
    }
}

/// sklearn-serving.json (SDK-written): an SKLearn estimator trains in script mode, a
/// ModelStep makes an SKLearnModel whose inference.py is a source_dir archive in S3,
/// and a Transform serves it through the inference toolkit's handlers: each batch row
/// with its id dropped by the InputFilter, its prediction joined to the row. A
/// predict_fn that raises fails the Transform with its error, naming the object.
#[tokio::test]
async fn a_framework_models_inference_script_serves_the_transform_with_join_source() {
    for (code, works) in [("serving", true), ("serving-broken", false)] {
        let stack = venv_code_stack(BUCKET, json!({})).await;
        let work = tempfile::tempdir().unwrap();
        for (folder, key) in [("abalone", "code/abalone"), (code, "code/serving")] {
            let archive = work.path().join(format!("{folder}.tar.gz"));
            let source = pipelines_emulator::workspace_root()
                .join("tests/code")
                .join(folder);
            pipelines_emulator::staging::pack(&source, &archive).unwrap();
            stack
                .s3_client()
                .put_object()
                .bucket(BUCKET)
                .key(format!("{key}/sourcedir.tar.gz"))
                .body(std::fs::read(&archive).unwrap().into())
                .send()
                .await
                .unwrap();
        }
        let labelled: String = abalone_rows(120)
            .lines()
            .zip(abalone_batch(120).lines())
            .map(|(row, features)| format!("{},{features}\n", row.rsplit(',').next().unwrap()))
            .collect();
        put(&stack, "serving/train/train.csv", labelled).await;
        let batch: String = abalone_batch(10)
            .lines()
            .enumerate()
            .map(|(id, features)| format!("{id},{features}\n"))
            .collect();
        put(&stack, "serving/batch/batch.csv", batch.clone()).await;
        let client = sagemaker_client(&stack);
        let arn = create_and_start(
            &client,
            "sklearn-serving",
            &file("sdk/definitions/v2/sklearn-serving.json"),
            &[],
        )
        .await;
        let (status, reason, steps) = ended(&stack, &arn).await;
        let score = step(&steps, "Score");
        assert!(
            score
                .code_run
                .as_deref()
                .unwrap()
                .starts_with("ran its code"),
            "{:?}",
            score.code_run
        );
        if works {
            assert_eq!(status, "Succeeded", "{reason:?}");
            let scored = get(&stack, "serving/scored/batch.csv.out").await.unwrap();
            let rows: Vec<&str> = scored.lines().collect();
            assert_eq!(rows.len(), 10);
            for (row, input) in rows.iter().zip(batch.lines()) {
                let (joined, prediction) = row.rsplit_once(',').unwrap();
                assert_eq!(
                    joined, input,
                    "the input row, id included, then the prediction"
                );
                let rings: f64 = prediction.parse().unwrap();
                assert!((5.0..=19.0).contains(&rings), "{row}");
            }
        } else {
            assert_eq!(status, "Failed");
            let failed = score.failure_reason.as_deref().unwrap();
            assert_eq!(
                failed,
                "ClientError: batch.csv: the model failed: RuntimeError: refusing 1 rows: the scaler was not fitted"
            );
            assert!(get(&stack, "serving/scored/batch.csv.out").await.is_none());
        }
    }
}

/// A ManifestFile input stages each object the manifest lists, by its key past the
/// manifest's prefix; a listed key that climbs out of the folder is refused by name.
#[tokio::test]
async fn a_manifest_stages_the_objects_it_lists() {
    let stack = deployed_stack(&[], None).await;
    stack
        .s3_client()
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    for (key, text) in [
        ("batch/a.csv", "1,2\n"),
        ("batch/day/b.csv", "3,4\n"),
        ("batch/unlisted.csv", "5,6\n"),
    ] {
        put(&stack, key, text.into()).await;
    }
    let manifest = json!([{"prefix": format!("s3://{BUCKET}/batch/")}, "a.csv", "day/b.csv"]);
    put(&stack, "manifests/good.json", manifest.to_string()).await;
    let local = tempfile::tempdir().unwrap();
    let s3 = stack.s3_client();
    let uri = format!("s3://{BUCKET}/manifests/good.json");
    let staged = pipelines_emulator::staging::download_manifest(&s3, &uri, local.path())
        .await
        .unwrap();
    assert_eq!(staged, 2);
    assert_eq!(
        std::fs::read_to_string(local.path().join("day/b.csv")).unwrap(),
        "3,4\n"
    );
    assert!(!local.path().join("unlisted.csv").exists());
    let climbing = json!([{"prefix": format!("s3://{BUCKET}/batch")}, "../../../etc/x"]);
    put(&stack, "manifests/bad.json", climbing.to_string()).await;
    let refused = pipelines_emulator::staging::download_manifest(
        &s3,
        &format!("s3://{BUCKET}/manifests/bad.json"),
        local.path(),
    )
    .await
    .unwrap_err();
    assert!(refused.contains("../../../etc/x"), "{refused}");
}
