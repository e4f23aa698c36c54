//! The model runs (`--run-code`): the abalone pipeline with built-in XGBoost for real
//! against the same on mocks, a Tuning step against its slowest training job times the
//! rounds its parallelism needs, and batch transform's throughput against calling the
//! same model in a Python loop.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pipelines_emulator::workspace_root;
use pipelines_emulator::DeployOptions;
use pipelines_emulator::Emulator;
use pipelines_emulator::{offline_s3, CodeJob, CodeJobEnd, CodeJobs};
use pipelines_emulator::{start_execution, Mocks, PipelineSpec, StartRequest};
use pipelines_emulator::{transform, xgboost};
use serde_json::json;

const BUCKET: &str = "abalone-local";

fn python() -> PathBuf {
    workspace_root().join(".venv-code/bin/python")
}

async fn stack(bucket: &str, run_code: bool) -> Emulator {
    let mut stack = Emulator::start().await.expect("emulator");
    stack
        .deploy(&DeployOptions::default())
        .await
        .expect("deploy");
    if run_code {
        stack
            .enable_code(python().to_str().expect("UTF-8"), true)
            .await
            .expect("scripts/setup made .venv-code");
    }
    stack
        .s3_client()
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("bucket");
    stack
}

async fn put(stack: &Emulator, bucket: &str, key: &str, body: String) {
    stack
        .s3_client()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into_bytes().into())
        .send()
        .await
        .expect("put");
}

/// `rows` abalone-shaped rows: the sex one-hot, seven measures, rings first when
/// `labelled`.
fn rows(rows: usize, labelled: bool) -> String {
    (0..rows)
        .map(|i| {
            let length = 0.2 + (i % 50) as f64 / 100.0;
            let sex = ["1,0,0", "0,1,0", "0,0,1"][i % 3];
            let measures = format!(
                "{length:.3},{:.3},{:.3},{:.4},{:.4},{:.4},{:.4}",
                length * 0.8,
                length * 0.3,
                length * 1.2,
                length * 0.5,
                length * 0.25,
                length * 0.35
            );
            if labelled {
                format!("{},{sex},{measures}\n", 5 + i % 15)
            } else {
                format!("{sex},{measures}\n")
            }
        })
        .collect()
}

fn definition(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join(format!("tests/sdk/definitions/v2/{name}.json")))
        .expect("an SDK-written definition")
}

/// Starts `pipeline` and waits until its step `until` ends: the wall time.
async fn time_until(
    stack: &Emulator,
    pipeline: &str,
    until: &str,
    params: Vec<(String, String)>,
) -> Duration {
    let pipelines = stack.sagemaker.pipelines();
    let started = Instant::now();
    let start = StartRequest {
        parameters: params,
        ..StartRequest::default()
    };
    let arn = start_execution(pipelines, pipeline, &start).expect("started");
    loop {
        let execution = pipelines.execution(&arn).expect("execution");
        if let Some(step) = execution
            .steps
            .iter()
            .find(|s| s.name == until && s.status != "Executing")
        {
            assert_eq!(
                step.status, "Succeeded",
                "{until}: {:?}",
                step.failure_reason
            );
            return started.elapsed();
        }
        assert!(
            !execution.is_done(),
            "{pipeline} ended before {until}: {:?}",
            execution.failure_reason
        );
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{until} did not end"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn create(stack: &Emulator, name: &str, definition: String) {
    let spec = PipelineSpec {
        name: name.into(),
        definition_text: definition,
        ..PipelineSpec::default()
    };
    stack
        .sagemaker
        .pipelines()
        .put_pipeline(spec, false)
        .expect("a valid definition");
}

/// abalone.json (SDK-written, built-in XGBoost 1.7-1) up to the end of its Transform:
/// every job for real, then the same on mocks.
pub async fn abalone_builtin() -> (Duration, Duration) {
    let threshold = vec![("MseThreshold".to_owned(), "1000".to_owned())];
    let real = stack(BUCKET, true).await;
    let code = workspace_root().join("tests/code/xgboost");
    for script in ["preprocessing", "evaluation"] {
        let text = std::fs::read_to_string(code.join(format!("{script}.py"))).expect("script");
        put(&real, BUCKET, &format!("code/{script}.py"), text).await;
    }
    let raw: String = rows(500, true)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let sex = ["M", "F", "I"][f[1..4].iter().position(|v| *v == "1").unwrap_or(0)];
            format!("{sex},{},{}\n", f[4..].join(","), f[0])
        })
        .collect();
    put(&real, BUCKET, "abalone/abalone-dataset.csv", raw).await;
    put(&real, BUCKET, "abalone/abalone-batch.csv", rows(500, false)).await;
    create(&real, "abalone", definition("abalone"));
    let real_wall = time_until(&real, "abalone", "AbaloneTransform", threshold.clone()).await;

    let mocked = stack(BUCKET, false).await;
    let mocks = json!({"Steps": {"AbaloneEval": {"PropertyFiles": {"EvaluationReport": {"regression_metrics": {"mse": {"value": 2.0}}}}}}});
    mocked
        .sagemaker
        .pipelines()
        .jobs()
        .set_mocks(Mocks::parse(&mocks.to_string()).expect("mocks"));
    create(&mocked, "abalone", definition("abalone"));
    (
        real_wall,
        time_until(&mocked, "abalone", "AbaloneTransform", threshold).await,
    )
}

/// tuning-top-models.json's Tuning step (3 XGBoost jobs, 3 at a time): its wall time,
/// its slowest training job's, and the rounds its parallelism needs.
pub async fn tuning() -> (Duration, Duration, usize) {
    let stack = stack("ported-local", true).await;
    let mocks = json!({"Steps": {"Baseline": {"Run": "mock"}}});
    stack
        .sagemaker
        .pipelines()
        .jobs()
        .set_mocks(Mocks::parse(&mocks.to_string()).expect("mocks"));
    put(&stack, "ported-local", "train/train.csv", rows(2000, true)).await;
    put(
        &stack,
        "ported-local",
        "validation/validation.csv",
        rows(500, true),
    )
    .await;
    create(&stack, "tuning", definition("tuning-top-models"));
    let wall = time_until(&stack, "tuning", "HPTuning", Vec::new()).await;
    // Each job's folder is made as it starts; its log is written last as it ends.
    let slowest = std::fs::read_dir(stack.work_dir().join("jobs"))
        .expect("jobs")
        .flatten()
        .filter_map(|job| {
            let started = job.metadata().ok()?.created().ok()?;
            let ended = std::fs::metadata(job.path().join("output.log"))
                .ok()?
                .modified()
                .ok()?;
            ended.duration_since(started).ok()
        })
        .max()
        .unwrap_or_default();
    (wall, slowest, 1)
}

/// A model trained once, then a batch of `records` CSV rows served by the transform
/// driver (one request, MultiRecord and SingleRecord) and by a Python loop that calls
/// the model on each row: records per second each way, and the serving path's time per
/// request (SingleRecord against MultiRecord).
pub async fn transform_throughput(records: usize) -> (f64, f64, f64, Duration) {
    let work = tempfile::tempdir().expect("work");
    let jobs = CodeJobs::new(Vec::new(), offline_s3(), work.path().to_path_buf());
    let model_dir = train(&jobs, work.path()).await;
    let batch = rows(records, false);
    let mut rates = Vec::new();
    for strategy in ["MultiRecord", "SingleRecord"] {
        let request = json!({"ModelName": "m", "BatchStrategy": strategy,
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}},
                               "ContentType": "text/csv", "SplitType": "Line"},
            "TransformOutput": {"S3OutputPath": "s3://b/out", "AssembleWith": "Line"}});
        let model = json!({"PrimaryContainer": {"Image": "x/sagemaker-xgboost:3.0-5"}});
        let mut job =
            transform::transform(&request, "t", Some(&model), Some("3.0.5")).expect("plan");
        job.downloads.clear();
        job.uploads.clear();
        job.files
            .push((PathBuf::from("transform/input/batch.csv"), batch.clone()));
        // The model file is binary: copied in by the job's own shell.
        let model_file = model_dir.join("xgboost-model");
        job.command = vec!["sh".into(), "-c".into(), format!("cp '{}' /opt/ml/model/xgboost-model && exec python /opt/ml/code/pipelines_emulator_transform.py", model_file.display())];
        let started = Instant::now();
        let end = run(&jobs, &job).await;
        assert!(matches!(end, CodeJobEnd::Completed { .. }), "{end:?}");
        rates.push(started.elapsed());
    }
    let loop_script = format!(
        "import time, numpy, xgboost\nb = xgboost.Booster()\nb.load_model('{}')\nrows = numpy.loadtxt('{}', delimiter=',', ndmin=2)\nt = time.perf_counter()\nfor r in rows:\n    b.predict(xgboost.DMatrix(r.reshape(1, -1)))\nprint(time.perf_counter() - t)\n",
        model_dir.join("xgboost-model").display(),
        { let p = work.path().join("batch.csv"); std::fs::write(&p, &batch).expect("batch"); p }.display()
    );
    let out = std::process::Command::new(python())
        .args(["-c", &loop_script])
        .output()
        .expect("python");
    let loop_seconds: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("seconds");
    let per_request = rates[1].saturating_sub(rates[0]) / records as u32;
    (
        records as f64 / rates[0].as_secs_f64(),
        records as f64 / rates[1].as_secs_f64(),
        records as f64 / loop_seconds,
        per_request,
    )
}

async fn run(jobs: &CodeJobs, job: &CodeJob) -> CodeJobEnd {
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    jobs.run(job, &python(), stopped).await
}

/// Trains a model with the XGBoost driver; its `/opt/ml/model` folder.
async fn train(jobs: &CodeJobs, work: &Path) -> PathBuf {
    let run_plan = xgboost::algorithm_mode("3.0-5", Some("3.0.5")).expect("xgboost");
    let job = CodeJob {
        name: "train".into(),
        command: run_plan.command,
        env: run_plan.env,
        cwd: PathBuf::from("/opt/ml/code"),
        downloads: Vec::new(),
        uploads: Vec::new(),
        folders: ["code", "model", "output"].map(PathBuf::from).to_vec(),
        files: vec![
            run_plan.file,
            (
                PathBuf::from("input/config/hyperparameters.json"),
                json!({"num_round": "50", "max_depth": "5"}).to_string(),
            ),
            (
                PathBuf::from("input/config/inputdataconfig.json"),
                json!({"train": {"ContentType": "text/csv"}}).to_string(),
            ),
            (
                PathBuf::from("input/data/train/train.csv"),
                rows(2000, true),
            ),
        ],
        archives: Vec::new(),
        max_runtime: Duration::from_secs(300),
        note: None,
    };
    match run(jobs, &job).await {
        CodeJobEnd::Completed { root, .. } => {
            let kept = work.join("trained");
            std::fs::create_dir_all(&kept).expect("folder");
            std::fs::copy(root.join("model/xgboost-model"), kept.join("xgboost-model"))
                .expect("model");
            kept
        }
        other => panic!("training: {other:?}"),
    }
}
