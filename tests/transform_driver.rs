//! The batch-transform driver as SageMaker's batch transform and inference toolkit
//! behave, on the job sandbox with the run-code venv, input and model written straight
//! into the job's folder.

use std::path::PathBuf;

use pipelines_emulator::transform;
use pipelines_emulator::{CodeJob, CodeJobEnd, CodeJobs};
use serde_json::{json, Value};

/// An inference script: the model is a weight read from the model folder; predict sums
/// each row's features times it.
const SUM_MODEL: &str = r#"
import os
import numpy as np

def model_fn(model_dir):
    with open(os.path.join(model_dir, "weight.txt")) as f:
        return float(f.read())

def predict_fn(data, model, context=None):
    data = np.atleast_2d(data)
    if (data < 0).any():
        raise ValueError("negative measures are not abalone")
    return data.sum(axis=1) * model
"#;

/// Runs a transform `request` on `inputs` (name, text) with `script` as the model's
/// inference code; answers how it ended and the outputs by name.
async fn run(
    request: Value,
    script: &str,
    inputs: &[(&str, &str)],
) -> (CodeJobEnd, Vec<(String, String)>) {
    let model = json!({"ModelName": "m", "PrimaryContainer": {
        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}}});
    let mut job: CodeJob = transform::transform(&request, "t", Some(&model), None).unwrap();
    // No S3: the model and the input are files of the job.
    job.downloads.clear();
    job.uploads.clear();
    job.files
        .push((PathBuf::from("model/weight.txt"), "2".into()));
    job.files
        .push((PathBuf::from("model/code/inference.py"), script.into()));
    for (name, text) in inputs {
        job.files.push((
            PathBuf::from(format!("transform/input/{name}")),
            text.to_string(),
        ));
    }
    let work = tempfile::tempdir().unwrap();
    let s3 = pipelines_emulator::offline_s3();
    let jobs = CodeJobs::new(Vec::new(), s3, work.path().to_path_buf());
    let python = pipelines_emulator::workspace_root().join(".venv-code/bin/python");
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let end = jobs.run(&job, &python, stopped).await;
    let mut outputs = Vec::new();
    if let CodeJobEnd::Completed { root, .. } = &end {
        for entry in std::fs::read_dir(root.join("transform/output"))
            .unwrap()
            .flatten()
        {
            outputs.push((
                entry.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(entry.path()).unwrap(),
            ));
        }
        outputs.sort();
    }
    (end, outputs)
}

fn request(extra: Value) -> Value {
    let mut request = json!({
        "ModelName": "m",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": "s3://b/out", "AssembleWith": "Line", "Accept": "text/csv"},
        "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge"}
    });
    for (k, v) in extra.as_object().unwrap() {
        request[k] = v.clone();
    }
    request
}

#[tokio::test]
async fn csv_rows_join_their_predictions_with_the_input_filter_applied() {
    let (end, outputs) = run(
        request(json!({"BatchStrategy": "MultiRecord",
                       "DataProcessing": {"InputFilter": "$[1:]", "JoinSource": "Input"}})),
        SUM_MODEL,
        &[("a.csv", "7,1,2\n8,3,4\n"), ("b.csv", "9,0.5,0.5\n")],
    )
    .await;
    assert!(matches!(end, CodeJobEnd::Completed { .. }), "{end:?}");
    assert_eq!(
        outputs,
        [
            ("a.csv.out".to_owned(), "7,1,2,6.0\n8,3,4,14.0\n".to_owned()),
            ("b.csv.out".to_owned(), "9,0.5,0.5,2.0\n".to_owned())
        ]
    );
}

#[tokio::test]
async fn json_lines_records_gain_sagemaker_output_and_the_output_filter_picks() {
    let mut req = request(json!({"BatchStrategy": "SingleRecord",
        "DataProcessing": {"InputFilter": "$.features", "JoinSource": "Input", "OutputFilter": "$['id','SageMakerOutput']"}}));
    req["TransformInput"]["ContentType"] = json!("application/json");
    req["TransformOutput"]["Accept"] = json!("application/json");
    let (end, outputs) = run(
        req,
        SUM_MODEL,
        &[(
            "r.jsonl",
            "{\"id\": 1, \"features\": [1, 2]}\n{\"id\": 2, \"features\": [3, 3]}\n",
        )],
    )
    .await;
    // A list of members is not a JSONPath the driver reads: said, not ignored.
    let CodeJobEnd::Failed(reason) = end else {
        panic!("{end:?}")
    };
    assert!(
        reason.contains("r.jsonl") && reason.contains("$['id','SageMakerOutput']"),
        "{reason}"
    );
    assert!(outputs.is_empty());

    let mut req = request(json!({"BatchStrategy": "SingleRecord",
        "DataProcessing": {"InputFilter": "$.features", "JoinSource": "Input", "OutputFilter": "$.SageMakerOutput"}}));
    req["TransformInput"]["ContentType"] = json!("application/json");
    req["TransformOutput"]["Accept"] = json!("application/json");
    let (end, outputs) = run(
        req,
        SUM_MODEL,
        &[(
            "r.jsonl",
            "{\"id\": 1, \"features\": [1, 2]}\n{\"id\": 2, \"features\": [3, 3]}\n",
        )],
    )
    .await;
    assert!(matches!(end, CodeJobEnd::Completed { .. }), "{end:?}");
    assert_eq!(
        outputs,
        [("r.jsonl.out".to_owned(), "[6.0]\n[12.0]\n".to_owned())]
    );
}

#[tokio::test]
async fn a_model_that_raises_fails_the_job_naming_the_object_and_its_error() {
    let (end, outputs) = run(request(json!({})), SUM_MODEL, &[("bad.csv", "1,2\n-1,3\n")]).await;
    assert_eq!(
        end,
        CodeJobEnd::Failed(
            "ClientError: bad.csv: the model failed: ValueError: negative measures are not abalone"
                .into()
        )
    );
    assert!(outputs.is_empty(), "nothing of a failed job is written");
    let no_model_fn = "def predict_fn(data, model):\n    return data\n";
    let (end, _) = run(request(json!({})), no_model_fn, &[("a.csv", "1,2\n")]).await;
    let CodeJobEnd::Failed(reason) = end else {
        panic!("{end:?}")
    };
    assert!(
        reason.contains("Please provide a model_fn implementation"),
        "{reason}"
    );
}

#[test]
fn payloads_over_sagemakers_limits_are_refused() {
    assert!(transform::refused(&json!({"MaxPayloadInMB": 101}))
        .unwrap_err()
        .contains("over 100"));
    let busy = json!({"MaxPayloadInMB": 30, "MaxConcurrentTransforms": 4});
    assert!(transform::refused(&busy)
        .unwrap_err()
        .contains("MaxConcurrentTransforms (4) x MaxPayloadInMB (30)"));
    assert!(
        transform::refused(&json!({"MaxPayloadInMB": 6, "MaxConcurrentTransforms": 16})).is_ok()
    );
}
