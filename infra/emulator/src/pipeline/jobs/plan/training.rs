//! A CreateTrainingJob request as the job to run, two ways. A request with a
//! ContainerEntrypoint (the SDK's `@step` functions: `job_driver.sh` and the SDK's own
//! remote-function runtime) runs that entrypoint. A framework estimator in script mode
//! (`sagemaker_program` among its hyperparameters) runs its entry point as SageMaker's
//! training toolkit does: the source unpacked into `/opt/ml/code`, the user's
//! hyperparameters as `--name value` arguments, the `SM_*` environment. Either way the
//! channels are under `/opt/ml/input/data/<channel>`, the config files under
//! `/opt/ml/input/config`, and `/opt/ml/model` becomes `model.tar.gz` at
//! `ModelArtifacts.S3ModelArtifacts`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::{environment, max_runtime, one_instance, runnable_program, strings, xgboost};
use crate::code_jobs::{CodeJob, Download, Staging, Upload};

/// The one host of a local training job, as SageMaker names the first.
const HOST: &str = "algo-1";

/// A hyperparameter's value as the toolkit hands it on: the SDK JSON-encodes each
/// (`"\"train.py\""`), and a string decodes to itself.
fn decoded(value: &Value) -> String {
    let text = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned);
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => text,
    }
}

/// The job a training step's evaluated Arguments describe, or why it cannot run;
/// `xgboost` is the version the job's interpreter has, if any (built-in XGBoost runs on it).
pub fn training(request: &Value, job_name: &str, xgboost: Option<&str>) -> Result<CodeJob, String> {
    let spec = &request["AlgorithmSpecification"];
    let mut files = Vec::new();
    let mut note = None;
    let hyperparameters: BTreeMap<String, String> = request["HyperParameters"]
        .as_object()
        .map(|hps| hps.iter().map(|(k, v)| (k.clone(), decoded(v))).collect())
        .unwrap_or_default();
    let mut downloads = Vec::new();
    let mut channels = Vec::new();
    let mut input_config = serde_json::Map::new();
    for channel in request["InputDataConfig"].as_array().into_iter().flatten() {
        let name = channel["ChannelName"]
            .as_str()
            .ok_or("a channel has no ChannelName")?;
        let name = super::channel_name(name)?;
        let source = &channel["DataSource"]["S3DataSource"];
        let uri = source["S3Uri"].as_str().ok_or_else(|| {
            format!("its channel '{name}' is not read from S3 (a file system data source), which the emulator has no data for")
        })?;
        let staging = super::staging_of(
            source["S3DataType"].as_str(),
            &format!("its channel '{name}'"),
        )?;
        if let Some(compression) = channel["CompressionType"].as_str().filter(|c| *c != "None") {
            return Err(format!("its channel '{name}' has CompressionType {compression}; the emulator stages None only"));
        }
        let mode = channel["InputMode"]
            .as_str()
            .or(spec["TrainingInputMode"].as_str())
            .unwrap_or("File");
        if mode != "File" {
            return Err(format!(
                "its channel '{name}' has InputMode {mode}; the emulator stages File only"
            ));
        }
        downloads.push(Download {
            s3_uri: uri.to_owned(),
            local: PathBuf::from(format!("input/data/{name}")),
            kind: staging,
        });
        input_config.insert(
            name.to_owned(),
            json!({"ContentType": channel["ContentType"], "TrainingInputMode": mode,
                   "S3DistributionType": source["S3DataDistributionType"],
                   "RecordWrapperType": channel["RecordWrapperType"].as_str().unwrap_or("None")}),
        );
        channels.push(name.to_owned());
    }

    let entrypoint = strings(&spec["ContainerEntrypoint"]);
    let user_hyperparameters: BTreeMap<&String, &String> = hyperparameters
        .iter()
        .filter(|(k, _)| !k.starts_with("sagemaker_"))
        .collect();
    // What SageMaker sets in every training container (the SDK's @step runtime reads it).
    let mut env = vec![
        ("TRAINING_JOB_NAME".to_owned(), job_name.to_owned()),
        (
            "TRAINING_JOB_ARN".to_owned(),
            crate::pipeline::jobs::describe::arn("training-job", job_name),
        ),
    ];
    env.extend(environment(&request["Environment"]));
    let command = if let Some(program) = entrypoint.first() {
        if !runnable_program(program) {
            return Err(format!(
                "its entrypoint '{program}' is not a Python interpreter or a shell"
            ));
        }
        let mut command = entrypoint.clone();
        command.extend(strings(&spec["ContainerArguments"]));
        command
    } else if let Some(program) = hyperparameters.get("sagemaker_program") {
        let source = hyperparameters.get("sagemaker_submit_directory").ok_or(
            "its hyperparameters name a sagemaker_program and no sagemaker_submit_directory to find it in",
        )?;
        if source.starts_with("s3://") {
            downloads.push(Download {
                s3_uri: source.clone(),
                local: PathBuf::from("code"),
                kind: Staging::Archive,
            });
        } else {
            return Err(format!(
                "its sagemaker_submit_directory '{source}' is not in S3"
            ));
        }
        let args: Vec<String> = user_hyperparameters
            .iter()
            .flat_map(|(k, v)| [format!("--{k}"), (*v).clone()])
            .collect();
        env.extend(toolkit_env(
            program,
            source,
            &channels,
            &user_hyperparameters,
            &args,
        ));
        let mut command = toolkit_command(program)?;
        command.extend(args);
        command
    } else if let Some(version) = spec["TrainingImage"]
        .as_str()
        .and_then(xgboost::image_version)
    {
        let run = xgboost::algorithm_mode(&version, xgboost)?;
        env.extend(run.env);
        files.push(run.file);
        note = run.note;
        run.command
    } else {
        return Err(format!(
            "its image {} is an algorithm with no script the emulator can run (no ContainerEntrypoint, no sagemaker_program)",
            spec["TrainingImage"].as_str().unwrap_or("?")
        ));
    };

    one_instance(&request["ResourceConfig"]["InstanceCount"])?;
    if request["OutputDataConfig"]["CompressionType"] == "NONE" {
        return Err("its OutputDataConfig.CompressionType is NONE, and the emulator packs the model as model.tar.gz".to_owned());
    }
    let output = request["OutputDataConfig"]["S3OutputPath"]
        .as_str()
        .ok_or("it has no OutputDataConfig.S3OutputPath")?
        .trim_end_matches('/');
    files.extend([
        (
            PathBuf::from("input/config/hyperparameters.json"),
            json!(hyperparameters).to_string(),
        ),
        (
            PathBuf::from("input/config/inputdataconfig.json"),
            Value::Object(input_config).to_string(),
        ),
    ]);
    let resource = json!({"current_host": HOST, "hosts": [HOST], "current_instance_type":
        request["ResourceConfig"]["InstanceType"], "network_interface_name": "eth0"});
    files.push((
        PathBuf::from("input/config/resourceconfig.json"),
        resource.to_string(),
    ));
    Ok(CodeJob {
        name: job_name.to_owned(),
        command,
        env,
        cwd: PathBuf::from("/opt/ml/code"),
        downloads,
        uploads: Vec::new(),
        folders: ["code", "model", "output/data", "input/config"]
            .map(PathBuf::from)
            .to_vec(),
        files,
        archives: vec![Upload {
            local: PathBuf::from("model"),
            s3_uri: format!("{output}/{job_name}/output/model.tar.gz"),
        }],
        max_runtime: max_runtime(request),
        note,
    })
}

/// How the training toolkit starts an entry point, its arguments to follow: a `.py` file
/// with the interpreter, anything else (the SDK's repack step runs a shell script) as a
/// command made executable first, as the toolkit `chmod`s it.
fn toolkit_command(program: &str) -> Result<Vec<String>, String> {
    if program.ends_with(".py") {
        return Ok(vec!["python".to_owned(), program.to_owned()]);
    }
    if program.starts_with('/') || program.split('/').any(|part| part == "..") {
        return Err(format!(
            "its sagemaker_program '{program}' is not a file of its source directory"
        ));
    }
    Ok([
        "/bin/sh",
        "-c",
        "chmod 777 \"./$0\" && exec \"./$0\" \"$@\"",
        program,
    ]
    .map(str::to_owned)
    .to_vec())
}

/// The environment SageMaker's training toolkit gives a script-mode entry point.
fn toolkit_env(
    program: &str,
    source: &str,
    channels: &[String],
    hyperparameters: &BTreeMap<&String, &String>,
    args: &[String],
) -> Vec<(String, String)> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let module = program.strip_suffix(".py").unwrap_or(program);
    let mut env: Vec<(String, String)> = [
        ("SM_MODEL_DIR", "/opt/ml/model".to_owned()),
        ("SM_INPUT_DIR", "/opt/ml/input".to_owned()),
        ("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config".to_owned()),
        ("SM_OUTPUT_DIR", "/opt/ml/output".to_owned()),
        ("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data".to_owned()),
        (
            "SM_OUTPUT_INTERMEDIATE_DIR",
            "/opt/ml/output/intermediate".to_owned(),
        ),
        ("SM_CHANNELS", json!(channels).to_string()),
        ("SM_HPS", json!(hyperparameters).to_string()),
        ("SM_USER_ENTRY_POINT", program.to_owned()),
        ("SM_USER_ARGS", json!(args).to_string()),
        ("SM_MODULE_NAME", module.to_owned()),
        ("SM_MODULE_DIR", source.to_owned()),
        ("SM_HOSTS", json!([HOST]).to_string()),
        ("SM_CURRENT_HOST", HOST.to_owned()),
        ("SM_NUM_CPUS", cpus.to_string()),
        ("SM_NUM_GPUS", "0".to_owned()),
        ("SM_LOG_LEVEL", "20".to_owned()),
        ("SM_NETWORK_INTERFACE_NAME", "eth0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for channel in channels {
        env.push((
            format!("SM_CHANNEL_{}", channel.to_uppercase()),
            format!("/opt/ml/input/data/{channel}"),
        ));
    }
    for (name, value) in hyperparameters {
        env.push((format!("SM_HP_{}", name.to_uppercase()), (*value).clone()));
    }
    env
}

/// FinalMetricDataList from the job's output: for each MetricDefinition, the last value
/// its regex's first group caught, as SageMaker scrapes the job's logs.
pub fn final_metrics(request: &Value, output: &str, timestamp: f64) -> Vec<Value> {
    let spec = &request["AlgorithmSpecification"];
    let algorithm = spec["TrainingImage"]
        .as_str()
        .and_then(xgboost::image_version)
        .is_some()
        && request["HyperParameters"]
            .get("sagemaker_program")
            .is_none();
    if algorithm
        && spec["MetricDefinitions"]
            .as_array()
            .is_none_or(Vec::is_empty)
    {
        // The algorithm's own definitions, which SageMaker applies to its logs.
        return xgboost::metrics(output)
            .into_iter()
            .map(
                |(name, value)| json!({"MetricName": name, "Value": value, "Timestamp": timestamp}),
            )
            .collect();
    }
    spec["MetricDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|definition| {
            let name = definition["Name"].as_str()?;
            let regex = regex::Regex::new(definition["Regex"].as_str()?).ok()?;
            let value = regex
                .captures_iter(output)
                .filter_map(|c| c.get(1)?.as_str().trim().parse::<f64>().ok())
                .last()?;
            Some(json!({"MetricName": name, "Value": value, "Timestamp": timestamp}))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn script_mode() -> Value {
        json!({
            "AlgorithmSpecification": {"TrainingImage": "sklearn:1.2-1", "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "mse", "Regex": "mse: ([0-9.]+)"}]},
            "HyperParameters": {"sagemaker_program": "\"train.py\"", "sagemaker_submit_directory": "\"s3://b/src/sourcedir.tar.gz\"",
                                "max_depth": "5", "alpha": "\"0.1\""},
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://b/train", "S3DataType": "S3Prefix"}}}],
            "OutputDataConfig": {"S3OutputPath": "s3://b/models/"},
            "ResourceConfig": {"InstanceType": "ml.m5.large"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}
        })
    }

    #[test]
    fn script_mode_runs_the_entry_point_as_the_toolkit_does() {
        let job = training(&script_mode(), "job-1", None).unwrap();
        assert_eq!(
            job.command,
            ["python", "train.py", "--alpha", "0.1", "--max_depth", "5"]
        );
        assert_eq!(job.cwd, PathBuf::from("/opt/ml/code"));
        let env: BTreeMap<_, _> = job.env.iter().cloned().collect();
        assert_eq!(env["SM_CHANNEL_TRAIN"], "/opt/ml/input/data/train");
        assert_eq!(env["SM_MODEL_DIR"], "/opt/ml/model");
        assert_eq!(env["SM_HP_MAX_DEPTH"], "5");
        assert_eq!(env["SM_CHANNELS"], "[\"train\"]");
        assert!(job
            .downloads
            .iter()
            .any(|d| d.kind == Staging::Archive && d.local == std::path::Path::new("code")));
        assert_eq!(
            job.archives[0].s3_uri,
            "s3://b/models/job-1/output/model.tar.gz"
        );
        assert_eq!(job.max_runtime, Duration::from_secs(600));
    }

    #[test]
    fn an_entry_point_that_is_not_python_runs_as_a_command_of_its_source_directory() {
        let mut request = script_mode();
        request["HyperParameters"]["sagemaker_program"] = json!("\"_repack_script_launcher.sh\"");
        let job = training(&request, "job-1", None).unwrap();
        assert_eq!(job.command[..2], ["/bin/sh", "-c"]);
        assert_eq!(
            job.command[3..],
            [
                "_repack_script_launcher.sh",
                "--alpha",
                "0.1",
                "--max_depth",
                "5"
            ]
        );
        for outside in ["../run.sh", "/bin/run.sh"] {
            request["HyperParameters"]["sagemaker_program"] = json!(format!("\"{outside}\""));
            let refused = training(&request, "job-1", None).err().unwrap();
            assert!(refused.contains(outside), "{refused}");
        }
    }

    #[test]
    fn a_container_entrypoint_runs_as_given() {
        let mut request = script_mode();
        request["AlgorithmSpecification"]["ContainerEntrypoint"] = json!([
            "/bin/bash",
            "/opt/ml/input/data/sagemaker_remote_function_bootstrap/job_driver.sh"
        ]);
        request["AlgorithmSpecification"]["ContainerArguments"] =
            json!(["--s3_base_uri", "s3://b/fn"]);
        let job = training(&request, "job-1", None).unwrap();
        assert_eq!(job.command[2..], ["--s3_base_uri", "s3://b/fn"]);
        assert!(!job.env.iter().any(|(k, _)| k == "SM_USER_ENTRY_POINT"));
    }

    #[test]
    fn what_one_local_job_cannot_be_stays_on_its_mock() {
        let mut many = script_mode();
        many["ResourceConfig"]["InstanceCount"] = json!(4);
        assert!(training(&many, "j", None)
            .unwrap_err()
            .contains("4 instances"));
        let mut uncompressed = script_mode();
        uncompressed["OutputDataConfig"]["CompressionType"] = json!("NONE");
        assert!(training(&uncompressed, "j", None)
            .unwrap_err()
            .contains("CompressionType is NONE"));
    }

    #[test]
    fn a_built_in_algorithm_other_than_xgboost_stays_on_its_mock_and_xgboost_runs_the_driver() {
        let request = json!({"AlgorithmSpecification": {"TrainingImage": "x/linear-learner:1"},
            "HyperParameters": {"max_depth": "5"}, "OutputDataConfig": {"S3OutputPath": "s3://b/m"}});
        assert!(training(&request, "j", Some("3.0.5"))
            .unwrap_err()
            .contains("x/linear-learner:1 is an algorithm with no script"));
        let mut xgboost = request.clone();
        xgboost["AlgorithmSpecification"]["TrainingImage"] = json!("x/sagemaker-xgboost:1.7-1");
        assert!(training(&xgboost, "j", None)
            .unwrap_err()
            .contains("has no xgboost"));
        let job = training(&xgboost, "j", Some("3.0.5")).unwrap();
        assert_eq!(
            job.command,
            ["python", "/opt/ml/code/pipelines_emulator_xgboost.py"]
        );
        assert!(job
            .files
            .iter()
            .any(|(path, _)| path.ends_with("pipelines_emulator_xgboost.py")));
    }

    #[test]
    fn the_last_value_each_metric_regex_catches_is_its_final_value() {
        let metrics = final_metrics(&script_mode(), "epoch 1 mse: 9.5\nepoch 2 mse: 4.25\n", 1.0);
        assert_eq!(
            metrics,
            [json!({"MetricName": "mse", "Value": 4.25, "Timestamp": 1.0})]
        );
        assert!(final_metrics(&script_mode(), "nothing", 1.0).is_empty());
    }
}
