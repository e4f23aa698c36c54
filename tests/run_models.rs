//! `--run-code` with models: built-in XGBoost trained in algorithm mode, the evaluation
//! scoring the model it made, Tuning running its jobs, batch Transform serving the model
//! (XGBoost, an inference script, a repacked model), on `.venv-code`'s packages.

use std::time::Duration;

use integration_tests::code_runs::{
    abalone_batch, abalone_rows, batch_with_ids, ended, file, get, labelled_rows, put, put_code,
    put_sdk_uploads, step, venv_code_stack, BUCKET, DEADLINE,
};
use integration_tests::{create_and_start, deployed_stack, sagemaker_client};
use pipelines_emulator::Emulator;
use serde_json::{json, Value};

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
    let definition = file("sdk/definitions/v2/abalone.json");
    let arn = create_and_start(&sagemaker_client(&stack), "abalone", &definition, &[]).await;
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
        put_code(&stack, "abalone", "code/abalone").await;
        put_code(&stack, code, "code/serving").await;
        put(&stack, "serving/train/train.csv", labelled_rows(120)).await;
        let batch = batch_with_ids(10);
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

/// sklearn-repack.json (SDK-written): a generic Model with a local source_dir, so the SDK
/// adds its repack step, a script-mode training job running the SDK's own
/// `_repack_script_launcher.sh` and `_repack_model.py`. It runs for real: its
/// model.tar.gz is the trained model with `code/inference.py` inside, DescribeModel
/// names it, and the Transform serves the model from that `code/`.
#[tokio::test]
async fn the_sdks_repack_step_runs_and_the_model_serves_from_the_code_it_packed() {
    let stack = venv_code_stack(BUCKET, json!({})).await;
    assert!(put_sdk_uploads(&stack, "sklearn-repack").await > 0);
    put_code(&stack, "abalone", "code/abalone").await;
    put(&stack, "serving/train/train.csv", labelled_rows(120)).await;
    let batch = batch_with_ids(10);
    put(&stack, "serving/batch/batch.csv", batch.clone()).await;
    let client = sagemaker_client(&stack);
    let definition = file("sdk/definitions/v2/sklearn-repack.json");
    let arn = create_and_start(&client, "sklearn-repack", &definition, &[]).await;
    let (status, reason, steps) = ended(&stack, &arn).await;
    assert_eq!(status, "Succeeded", "{reason:?}");
    let repack = step(&steps, "ServingModel-RepackModel-0");
    assert!(
        repack
            .code_run
            .as_deref()
            .unwrap()
            .starts_with("ran its code"),
        "{:?}",
        repack.code_run
    );
    let repacked = repack.properties.as_ref().unwrap()["ModelArtifacts"]["S3ModelArtifacts"]
        .as_str()
        .unwrap()
        .to_owned();
    let trained = step(&steps, "Train").properties.as_ref().unwrap()["ModelArtifacts"]
        ["S3ModelArtifacts"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(repacked, trained, "a model.tar.gz of its own");

    // The repacked archive: the trained model at its root, the inference script in code/.
    let key = repacked.strip_prefix(&format!("s3://{BUCKET}/")).unwrap();
    let object = stack
        .s3_client()
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("model.tar.gz");
    std::fs::write(&archive, object.body.collect().await.unwrap().into_bytes()).unwrap();
    let listed = std::process::Command::new("tar")
        .arg("tzf")
        .arg(&archive)
        .output()
        .unwrap();
    let entries = String::from_utf8(listed.stdout).unwrap();
    let entries: Vec<&str> = entries
        .lines()
        .map(|e| e.trim_start_matches("./"))
        .collect();
    for entry in ["model.joblib", "code/inference.py"] {
        assert!(entries.contains(&entry), "{entry} in {entries:?}");
    }

    // The model the ModelStep made is the repacked one, served from its code/.
    let model = step(&steps, "ServingModel-CreateModel")
        .properties
        .as_ref()
        .unwrap()["ModelName"]
        .as_str()
        .unwrap()
        .to_owned();
    let described = client
        .describe_model()
        .model_name(&model)
        .send()
        .await
        .unwrap();
    let container = described.primary_container().unwrap();
    assert_eq!(container.model_data_url(), Some(repacked.as_str()));
    assert_eq!(
        container.environment().unwrap()["SAGEMAKER_SUBMIT_DIRECTORY"],
        "/opt/ml/model/code"
    );
    let scored = get(&stack, "repack/scored/batch.csv.out").await.unwrap();
    let rows: Vec<&str> = scored.lines().collect();
    assert_eq!(rows.len(), 10);
    for (row, input) in rows.iter().zip(batch.lines()) {
        let (joined, prediction) = row.rsplit_once(',').unwrap();
        assert_eq!(joined, input);
        let rings: f64 = prediction.parse().unwrap();
        assert!((5.0..=19.0).contains(&rings), "{row}");
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
