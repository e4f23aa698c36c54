//! A CreateTransformJob request as the job to run: the model the request names, its
//! containers served in order by the project's own batch-transform driver
//! (`batch_transform.py`): built-in XGBoost in algorithm mode, or a framework model's
//! inference script (`SAGEMAKER_PROGRAM`) as SageMaker's inference toolkit runs it.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::{environment, max_runtime, xgboost};
use crate::code_jobs::{CodeJob, Download, Staging, Upload};

const DRIVER: &str = include_str!("batch_transform.py");
const DRIVER_FILE: &str = "code/pipelines_emulator_transform.py";
/// SageMaker's default and largest MaxPayloadInMB, and the cap on concurrency times it.
const DEFAULT_PAYLOAD_MB: u64 = 6;
const MAX_PAYLOAD_MB: u64 = 100;

/// What SageMaker refuses in a transform request before it starts: a payload over its
/// limits.
pub fn refused(request: &Value) -> Result<(), String> {
    let payload = request["MaxPayloadInMB"]
        .as_u64()
        .unwrap_or(DEFAULT_PAYLOAD_MB);
    if payload > MAX_PAYLOAD_MB {
        return Err(format!("MaxPayloadInMB {payload} is over {MAX_PAYLOAD_MB}"));
    }
    let concurrent = request["MaxConcurrentTransforms"]
        .as_u64()
        .unwrap_or(1)
        .max(1);
    if concurrent * payload > MAX_PAYLOAD_MB {
        return Err(format!(
            "MaxConcurrentTransforms ({concurrent}) x MaxPayloadInMB ({payload}) is over {MAX_PAYLOAD_MB}"
        ));
    }
    Ok(())
}

/// The job a Transform step's evaluated Arguments describe, with `model` the
/// DescribeModel answer of the model it names (None: no step made it); or why the
/// emulator cannot run it (the step then stays on its mock, saying so).
pub fn transform(
    request: &Value,
    job_name: &str,
    model: Option<&Value>,
    xgboost_installed: Option<&str>,
) -> Result<CodeJob, String> {
    let model_name = request["ModelName"].as_str().unwrap_or("?");
    let model = model.ok_or_else(|| {
        format!("its model {model_name} was not made by a step of this stack, so the emulator has no containers to serve")
    })?;
    let input = &request["TransformInput"];
    let source = &input["DataSource"]["S3DataSource"];
    let staging = super::staging_of(source["S3DataType"].as_str(), "its input")?;
    let uri = source["S3Uri"]
        .as_str()
        .ok_or("its input has no S3Uri")?
        .to_owned();
    if let Some(split) = input["SplitType"]
        .as_str()
        .filter(|s| !matches!(*s, "None" | "Line"))
    {
        return Err(format!(
            "its SplitType is {split}; the emulator splits None and Line only"
        ));
    }
    let output = request["TransformOutput"]["S3OutputPath"]
        .as_str()
        .ok_or("its TransformOutput has no S3OutputPath")?
        .trim_end_matches('/')
        .to_owned();

    let mut downloads = vec![Download {
        s3_uri: uri,
        local: PathBuf::from("transform/input"),
        kind: staging,
    }];
    let mut notes = Vec::new();
    let containers: Vec<&Value> = match model["Containers"].as_array() {
        Some(list) if !list.is_empty() => list.iter().collect(),
        _ => vec![&model["PrimaryContainer"]],
    };
    let mut served = Vec::new();
    for (i, container) in containers.iter().enumerate() {
        let image = container["Image"].as_str().unwrap_or("?");
        let model_dir = if i == 0 {
            "model".to_owned()
        } else {
            format!("models/{i}")
        };
        if let Some(data) = container["ModelDataUrl"].as_str() {
            downloads.push(Download {
                s3_uri: data.to_owned(),
                local: PathBuf::from(&model_dir),
                kind: Staging::Archive,
            });
        }
        let env: Vec<(String, String)> = environment(&container["Environment"]);
        let get = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        if let Some(program) = get("SAGEMAKER_PROGRAM") {
            let code_dir = match get("SAGEMAKER_SUBMIT_DIRECTORY") {
                Some(dir) if dir.starts_with("s3://") => {
                    let local = format!("code/{i}");
                    downloads.push(Download {
                        s3_uri: dir,
                        local: PathBuf::from(&local),
                        kind: Staging::Archive,
                    });
                    format!("/opt/ml/{local}")
                }
                // The SDK's repack puts the code in the model's `code/`.
                _ => format!("/opt/ml/{model_dir}/code"),
            };
            served.push(
                json!({"mode": "script", "program": program, "code_dir": code_dir,
                               "model_dir": format!("/opt/ml/{model_dir}")}),
            );
        } else if let Some(version) = xgboost::image_version(image) {
            let run = xgboost::algorithm_mode(&version, xgboost_installed)?;
            notes.extend(run.note);
            served.push(json!({"mode": "xgboost", "model_dir": format!("/opt/ml/{model_dir}")}));
        } else {
            return Err(format!(
                "its model's container {image} has no SAGEMAKER_PROGRAM and is not built-in XGBoost: no script the emulator can serve"
            ));
        }
    }

    let payload = request["MaxPayloadInMB"]
        .as_u64()
        .unwrap_or(DEFAULT_PAYLOAD_MB);
    let config = json!({
        "containers": served,
        "split_type": input["SplitType"],
        "content_type": input["ContentType"],
        "compression": input["CompressionType"],
        "batch_strategy": request["BatchStrategy"],
        "max_payload_mb": payload,
        "accept": request["TransformOutput"]["Accept"],
        "assemble_with": request["TransformOutput"]["AssembleWith"],
        "data_processing": request["DataProcessing"],
    });
    // What the container sees, as SageMaker sets it for a batch transform.
    let mut env = vec![("SAGEMAKER_BATCH".to_owned(), "true".to_owned())];
    for (member, variable) in [
        ("MaxPayloadInMB", "SAGEMAKER_MAX_PAYLOAD_IN_MB"),
        ("BatchStrategy", "SAGEMAKER_BATCH_STRATEGY"),
        (
            "MaxConcurrentTransforms",
            "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS",
        ),
    ] {
        if let Some(value) = request.get(member).filter(|v| !v.is_null()) {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            env.push((variable.to_owned(), text));
        }
    }
    for container in &containers {
        env.extend(environment(&container["Environment"]));
    }
    env.extend(environment(&request["Environment"]));
    Ok(CodeJob {
        name: job_name.to_owned(),
        command: vec!["python".into(), format!("/opt/ml/{DRIVER_FILE}")],
        env,
        cwd: PathBuf::from("/opt/ml"),
        downloads,
        uploads: vec![Upload {
            local: PathBuf::from("transform/output"),
            s3_uri: output,
        }],
        folders: [
            "code",
            "model",
            "transform/output",
            "input/config",
            "output",
        ]
        .map(PathBuf::from)
        .to_vec(),
        files: vec![
            (PathBuf::from(DRIVER_FILE), DRIVER.to_owned()),
            (
                PathBuf::from("input/config/transform.json"),
                config.to_string(),
            ),
        ],
        archives: Vec::new(),
        max_runtime: max_runtime(request),
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    })
}
