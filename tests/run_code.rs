//! `--run-code`: the abalone pipeline as the SageMaker Python SDK wrote it
//! (tests/sdk/definitions/v2/abalone.json), its Processing step running a script of the
//! user's for real (tests/code/), on data in local S3, in its own `/opt/ml`. The scripts
//! use the standard library only, so python3 on PATH runs them.

use integration_tests::code_runs::{
    abalone_rows, ended, file, get, job_logs, jobs_of, put, step, BUCKET, DEADLINE,
};
use integration_tests::{
    create_and_start, create_pipeline, deployed_stack, sagemaker_client, wait_until,
};
use pipelines_emulator::{Emulator, Mocks};
use serde_json::{json, Value};

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

/// A stack running abalone.json with `script` as its preprocessing, on `data`.
async fn abalone_with(script: &str, data: String) -> (Emulator, String) {
    let stack = stack().await;
    put(&stack, "code/preprocessing.py", file(script)).await;
    put(&stack, "abalone/abalone-dataset.csv", data).await;
    let arn = start(&stack, "abalone").await;
    (stack, arn)
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
