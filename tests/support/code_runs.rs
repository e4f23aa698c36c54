//! What the run-code tests share: a stack whose jobs run their code in `.venv-code`,
//! local S3 reads and writes, abalone-shaped data, and an ended execution's steps.

use std::time::Duration;

use pipelines_emulator::{Emulator, Mocks, StepRecord};
use serde_json::Value;

use crate::deployed_stack;

/// How long an execution of the run-code tests has to end.
pub const DEADLINE: Duration = Duration::from_secs(60);
/// The bucket the SDK-written abalone definitions read and write.
pub const BUCKET: &str = "abalone-local";

pub fn file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

pub async fn put(stack: &Emulator, key: &str, body: String) {
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

pub async fn get(stack: &Emulator, key: &str) -> Option<String> {
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
pub fn abalone_rows(rows: usize) -> String {
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

pub async fn ended(stack: &Emulator, arn: &str) -> (String, Option<String>, Vec<StepRecord>) {
    let e = stack
        .sagemaker
        .pipelines()
        .wait_until_done(arn, DEADLINE)
        .await
        .unwrap_or_else(|| panic!("{arn} did not end"));
    let (status, reason) = crate::ending(&e);
    (status, reason, e.steps)
}

pub fn step<'a>(steps: &'a [StepRecord], name: &str) -> &'a StepRecord {
    steps.iter().find(|s| s.name == name).unwrap()
}

/// The job logs of the stack, by job folder.
pub fn job_logs(stack: &Emulator) -> Vec<String> {
    std::fs::read_dir(stack.work_dir().join("jobs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|job| std::fs::read_to_string(job.path().join("output.log")).ok())
        .collect()
}

/// A stack whose job steps run their code in `.venv-code` (scikit-learn, xgboost), with
/// `mocks` and `bucket`; the xgboost abalone scripts in place when `bucket` is BUCKET.
pub async fn venv_code_stack(bucket: &str, mocks: Value) -> Emulator {
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

/// The job folders of the stack whose job ran for the step named `step`.
pub fn jobs_of(stack: &Emulator, step: &str) -> usize {
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

/// The batch the abalone pipeline's Transform reads: features as the preprocessing
/// makes them (the sex one-hot, seven measures), no label.
pub fn abalone_batch(rows: usize) -> String {
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

/// Packs `tests/code/<folder>` as `s3://BUCKET/<key>/sourcedir.tar.gz`, as the SDK uploads
/// a source_dir.
pub async fn put_code(stack: &Emulator, folder: &str, key: &str) {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("sourcedir.tar.gz");
    let source = pipelines_emulator::workspace_root()
        .join("tests/code")
        .join(folder);
    pipelines_emulator::staging::pack(&source, &archive).unwrap();
    put_bytes(stack, BUCKET, &format!("{key}/sourcedir.tar.gz"), archive).await;
}

/// Puts in local S3 what the SDK uploaded while it wrote the definition `name` (kept by
/// the generator in `tests/sdk/definitions/v2/<name>.files/<bucket>/<key>`); how many.
pub async fn put_sdk_uploads(stack: &Emulator, name: &str) -> usize {
    let root = pipelines_emulator::workspace_root()
        .join("tests/sdk/definitions/v2")
        .join(format!("{name}.files"));
    let mut files = vec![root.clone()];
    let mut put = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let relative = path
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let (bucket, key) = relative.split_once('/').unwrap();
        put_bytes(stack, bucket, key, path.clone()).await;
        put += 1;
    }
    put
}

async fn put_bytes(stack: &Emulator, bucket: &str, key: &str, file: std::path::PathBuf) {
    stack
        .s3_client()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(std::fs::read(&file).unwrap().into())
        .send()
        .await
        .unwrap();
}

/// Abalone rows to train a scikit-learn model on: the rings, then the features as the
/// Transform's batch has them.
pub fn labelled_rows(rows: usize) -> String {
    abalone_rows(rows)
        .lines()
        .zip(abalone_batch(rows).lines())
        .map(|(row, features)| format!("{},{features}\n", row.rsplit(',').next().unwrap()))
        .collect()
}

/// A batch of `rows` rows, each an id then the features.
pub fn batch_with_ids(rows: usize) -> String {
    abalone_batch(rows)
        .lines()
        .enumerate()
        .map(|(id, features)| format!("{id},{features}\n"))
        .collect()
}
