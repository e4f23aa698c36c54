//! The built-in XGBoost driver as SageMaker's container behaves, on the job sandbox with
//! the run-code venv's xgboost and channels written straight into the job's folder.

use std::path::PathBuf;
use std::time::Duration;

use pipelines_emulator::xgboost;
use pipelines_emulator::{offline_s3, CodeJob, CodeJobEnd, CodeJobs};
use serde_json::json;

fn python() -> PathBuf {
    pipelines_emulator::workspace_root().join(".venv-code/bin/python")
}

/// A job of container `version` with these hyperparameters, channel files and
/// inputdataconfig; answers how it ended.
async fn train(
    version: &str,
    hyperparameters: serde_json::Value,
    channels: &[(&str, &str)],
    content_types: serde_json::Value,
) -> (CodeJobEnd, tempfile::TempDir) {
    job(version, hyperparameters, channels, content_types, None).await
}

/// The same with no channel files: `setup`, a Python script, writes them in the job
/// before the driver starts (binary channels, say).
async fn train_after(
    version: &str,
    hyperparameters: serde_json::Value,
    content_types: serde_json::Value,
    setup: &str,
) -> (CodeJobEnd, tempfile::TempDir) {
    job(version, hyperparameters, &[], content_types, Some(setup)).await
}

async fn job(
    version: &str,
    hyperparameters: serde_json::Value,
    channels: &[(&str, &str)],
    content_types: serde_json::Value,
    setup: Option<&str>,
) -> (CodeJobEnd, tempfile::TempDir) {
    let work = tempfile::tempdir().unwrap();
    let jobs = CodeJobs::new(Vec::new(), offline_s3(), work.path().to_path_buf());
    let run = xgboost::algorithm_mode(version, Some("3.0.5")).unwrap();
    let mut files = vec![
        run.file,
        (
            PathBuf::from("input/config/hyperparameters.json"),
            hyperparameters.to_string(),
        ),
        (
            PathBuf::from("input/config/inputdataconfig.json"),
            content_types.to_string(),
        ),
    ];
    files.extend(channels.iter().map(|(path, text)| {
        (
            PathBuf::from(format!("input/data/{path}")),
            text.to_string(),
        )
    }));
    let mut command = run.command;
    if let Some(setup) = setup {
        files.push((PathBuf::from("code/setup.py"), setup.to_owned()));
        command.splice(
            0..0,
            [
                "/bin/sh",
                "-c",
                "python /opt/ml/code/setup.py && exec \"$0\" \"$@\"",
            ]
            .map(str::to_owned),
        );
    }
    let job = CodeJob {
        name: "xgb".into(),
        command,
        env: run.env,
        cwd: PathBuf::from("/opt/ml/code"),
        downloads: Vec::new(),
        uploads: Vec::new(),
        folders: ["code", "model", "output"].map(PathBuf::from).to_vec(),
        files,
        archives: Vec::new(),
        max_runtime: Duration::from_secs(120),
        note: None,
    };
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let end = jobs.run(&job, &python(), stopped).await;
    (end, work)
}

const CSV: &str = "3,1,0\n5,2,1\n7,3,0\n9,4,1\n11,5,0\n13,6,1\n";
const LIBSVM: &str = "3 0:1 1:0\n5 0:2 1:1\n7 0:3 1:0\n9 0:4 1:1\n11 0:5 1:0\n13 0:6 1:1\n";

#[tokio::test]
async fn csv_and_libsvm_channels_train_and_the_model_is_in_the_versions_format() {
    for (version, pickled) in [("1.0-1", true), ("1.7-1", false)] {
        let (end, _work) = train(
            version,
            json!({"num_round": "3", "objective": "reg:linear", "learning_rate": "0.3"}),
            &[
                ("train/part.csv", CSV),
                ("train/_SUCCESS", "not data"),
                ("train/.hidden", "not data"),
                ("validation/v.libsvm", LIBSVM),
            ],
            json!({"train": {"ContentType": "text/csv"}, "validation": {}}),
        )
        .await;
        let CodeJobEnd::Completed { root, log: output } = end else {
            panic!("{version}: {end:?}")
        };
        let printed = std::fs::read_to_string(output).unwrap();
        let rounds: Vec<_> = printed.lines().filter(|l| l.starts_with('[')).collect();
        assert_eq!(rounds.len(), 3, "{printed}");
        assert!(
            rounds[2].starts_with("[2]\ttrain-rmse:") && rounds[2].contains("\tvalidation-rmse:")
        );
        let names: Vec<String> = xgboost::metrics(&printed)
            .into_iter()
            .map(|m| m.0)
            .collect();
        assert_eq!(names, ["train:rmse", "validation:rmse"]);
        let model = std::fs::read(root.join("model/xgboost-model")).unwrap();
        assert_eq!(
            model[0] == 0x80,
            pickled,
            "{version}: a pickle starts with its protocol byte"
        );
    }
}

#[tokio::test]
async fn hyperparameters_are_validated_as_the_container_validates_them() {
    let channels = [("train/part.csv", CSV)];
    let types = json!({"train": {"ContentType": "text/csv"}});
    for (hyperparameters, reason) in [
        (
            json!({"num_round": "2", "max_dept": "5"}),
            "ClientError: Extraneous hyperparameter found: max_dept",
        ),
        (
            json!({"eta": "0.2"}),
            "ClientError: Missing required hyperparameter: num_round",
        ),
        (
            json!({"num_round": "2", "silent": "1"}),
            "ClientError: Extraneous hyperparameter found: silent",
        ),
    ] {
        let (end, _work) = train("1.7-1", hyperparameters.clone(), &channels, types.clone()).await;
        assert_eq!(
            end,
            CodeJobEnd::Failed(reason.to_owned()),
            "{hyperparameters}"
        );
    }
    // `silent` is known to 1.0-1 alone.
    let (end, _work) = train(
        "1.0-1",
        json!({"num_round": "2", "silent": "1"}),
        &channels,
        types,
    )
    .await;
    assert!(matches!(end, CodeJobEnd::Completed { .. }), "{end:?}");
}

#[tokio::test]
async fn csv_weights_take_the_second_column_and_a_missing_train_channel_is_a_client_error() {
    let weighted = "3,1,1,0\n5,1,2,1\n7,2,3,0\n9,1,4,1\n";
    let (end, _work) = train(
        "1.7-1",
        json!({"num_round": "2", "csv_weights": "1"}),
        &[("train/w.csv", weighted)],
        json!({"train": {"ContentType": "text/csv"}}),
    )
    .await;
    assert!(matches!(end, CodeJobEnd::Completed { .. }), "{end:?}");
    let (end, _work) = train(
        "1.7-1",
        json!({"num_round": "2"}),
        &[("validation/v.csv", CSV)],
        json!({"validation": {"ContentType": "text/csv"}}),
    )
    .await;
    assert_eq!(
        end,
        CodeJobEnd::Failed("ClientError: Channel 'train' is required and has no file".into())
    );
}

/// A script that writes a parquet file of `columns` float columns and six rows as the
/// train channel.
fn parquet_of(columns: usize) -> String {
    format!(
        "import os, pyarrow, pyarrow.parquet\n\
         os.makedirs('/opt/ml/input/data/train', exist_ok=True)\n\
         table = pyarrow.table({{f'c{{i}}': [float(r * (i + 1) + i) for r in range(6)] for i in range({columns})}})\n\
         pyarrow.parquet.write_table(table, '/opt/ml/input/data/train/part.parquet')\n"
    )
}

/// A parquet channel (ContentType `application/x-parquet`) trains as CSV does: the first
/// column the label, the others the features; one column alone is a user error, not a
/// traceback. The job writes the file with the run-code venv's pyarrow before the
/// driver starts.
#[tokio::test]
async fn a_parquet_channel_trains_on_its_first_column_as_the_label() {
    let parquet = json!({"train": {"ContentType": "application/x-parquet"}});
    let hyperparameters = json!({"num_round": "2", "objective": "reg:squarederror"});
    let (end, _work) = train_after(
        "1.7-1",
        hyperparameters.clone(),
        parquet.clone(),
        &parquet_of(3),
    )
    .await;
    let CodeJobEnd::Completed { log, .. } = end else {
        panic!("{end:?}")
    };
    let printed = std::fs::read_to_string(log).unwrap();
    let names: Vec<String> = xgboost::metrics(&printed)
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(names, ["train:rmse"], "{printed}");

    let (end, _work) = train_after("1.7-1", hyperparameters, parquet, &parquet_of(1)).await;
    let CodeJobEnd::Failed(reason) = end else {
        panic!("{end:?}")
    };
    assert!(
        reason.starts_with("ClientError:")
            && reason.contains("the label column and at least one feature"),
        "{reason}"
    );
}
