//! What of a job step's request the stack can run as the step's own code: the container
//! SageMaker would start, as a [`CodeJob`], or why it cannot (and the step stays on its
//! mock, saying so).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::code_jobs::{CodeJob, Download, Upload};

/// SageMaker's default MaxRuntimeInSeconds for a processing or training job: one day.
const DEFAULT_MAX_RUNTIME: u64 = 86_400;

/// The request's `StoppingCondition.MaxRuntimeInSeconds`, or SageMaker's default.
pub(super) fn max_runtime(request: &Value) -> Duration {
    Duration::from_secs(
        request["StoppingCondition"]["MaxRuntimeInSeconds"]
            .as_u64()
            .unwrap_or(DEFAULT_MAX_RUNTIME),
    )
}

/// A path of the container below `/opt/ml`, as a path below the job's folder. Every
/// segment must name a folder: an empty one (`/opt/ml//etc` would join as `/etc`), `.`
/// or `..` is refused.
pub(super) fn below_opt_ml(path: &str, what: &str) -> Result<PathBuf, String> {
    let refused = || format!("{what} '{path}' is not a folder below /opt/ml");
    let rest = path
        .strip_prefix("/opt/ml/")
        .map(|rest| rest.strip_suffix('/').unwrap_or(rest))
        .ok_or_else(refused)?;
    if rest
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(refused());
    }
    Ok(PathBuf::from(rest))
}

/// A ChannelName as the service model allows it (`[A-Za-z0-9\.\-_]+`, at most 64
/// characters), and not `.` or `..`, which would name a folder other than the channel's.
pub(super) fn channel_name(name: &str) -> Result<&str, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if name.is_empty()
        || name.len() > 64
        || !name.chars().all(allowed)
        || name == "."
        || name == ".."
    {
        return Err(format!(
            "ChannelName '{name}' is not a channel name (1 to 64 of A-Z a-z 0-9 . - _, not . or ..)"
        ));
    }
    Ok(name)
}

/// What SageMaker refuses in a job request's paths, whether the step runs its code or
/// answers from its mock: a LocalPath outside `/opt/ml`, a ChannelName outside the
/// model's pattern. The step fails with it as a ClientError.
pub fn refused_paths(step_type: &str, request: &Value) -> Result<(), String> {
    match step_type {
        "Processing" => {
            let inputs = request["ProcessingInputs"].as_array().into_iter().flatten();
            let outputs = request["ProcessingOutputConfig"]["Outputs"]
                .as_array()
                .into_iter()
                .flatten();
            for (kind, item, name, data) in inputs
                .map(|i| ("input", i, "InputName", "S3Input"))
                .chain(outputs.map(|o| ("output", o, "OutputName", "S3Output")))
            {
                if let Some(local) = item[data]["LocalPath"].as_str() {
                    let name = item[name].as_str().unwrap_or("?");
                    below_opt_ml(local, &format!("the LocalPath of {kind} '{name}'"))?;
                }
            }
        }
        "Training" => {
            for channel in request["InputDataConfig"].as_array().into_iter().flatten() {
                if let Some(name) = channel["ChannelName"].as_str() {
                    channel_name(name)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Interpreters a job's entrypoint may start: the user's Python, or a shell that does.
pub(super) fn runnable_program(program: &str) -> bool {
    let name = program.rsplit('/').next().unwrap_or(program);
    name == "python"
        || name == "python3"
        || name
            .strip_prefix("python3.")
            .is_some_and(|minor| minor.chars().all(|c| c.is_ascii_digit()))
        || matches!(name, "bash" | "sh")
}

pub(super) fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map_or_else(|| item.to_string(), str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn environment(value: &Value) -> Vec<(String, String)> {
    value
        .as_object()
        .map(|env| {
            env.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A job runs on one machine here: more instances would each run the script (on their
/// shard of the data), which one local process is not.
pub(super) fn one_instance(count: &Value) -> Result<(), String> {
    match count.as_u64() {
        Some(n) if n > 1 => Err(format!(
            "it asks for {n} instances, and the emulator runs a job's code on one"
        )),
        _ => Ok(()),
    }
}

/// A CreateProcessingJob request (a Processing step's evaluated Arguments) as the job to
/// run: its entrypoint in the user's interpreter, its S3 inputs at their LocalPaths, its
/// outputs uploaded from theirs.
pub fn processing(request: &Value, job_name: &str) -> Result<CodeJob, String> {
    let app = &request["AppSpecification"];
    let entrypoint = strings(&app["ContainerEntrypoint"]);
    let Some(program) = entrypoint.first() else {
        return Err(format!(
            "its image {} runs its own entrypoint (no ContainerEntrypoint): no script to run",
            app["ImageUri"].as_str().unwrap_or("?")
        ));
    };
    if !runnable_program(program) {
        return Err(format!(
            "its entrypoint '{program}' is not a Python interpreter or a shell"
        ));
    }
    let mut command = entrypoint.clone();
    command.extend(strings(&app["ContainerArguments"]));
    one_instance(&request["ProcessingResources"]["ClusterConfig"]["InstanceCount"])?;

    let mut downloads = Vec::new();
    for input in request["ProcessingInputs"].as_array().into_iter().flatten() {
        let name = input["InputName"].as_str().unwrap_or("?");
        let s3 = &input["S3Input"];
        if s3.is_null() {
            return Err(format!(
                "its input '{name}' is a DatasetDefinition (Athena or Redshift), which the emulator has no data for"
            ));
        }
        for (member, allowed) in [
            ("S3DataType", "S3Prefix"),
            ("S3InputMode", "File"),
            ("S3CompressionType", "None"),
        ] {
            if let Some(value) = s3[member].as_str().filter(|v| *v != allowed) {
                return Err(format!(
                    "its input '{name}' has {member} {value}; the emulator stages {member} {allowed} only"
                ));
            }
        }
        let uri = s3["S3Uri"]
            .as_str()
            .ok_or_else(|| format!("its input '{name}' has no S3Uri"))?;
        let local = s3["LocalPath"]
            .as_str()
            .ok_or_else(|| format!("its input '{name}' has no LocalPath"))?;
        downloads.push(Download {
            s3_uri: uri.to_owned(),
            local: below_opt_ml(local, &format!("the LocalPath of input '{name}'"))?,
            unpack: false,
        });
    }

    let mut uploads = Vec::new();
    for output in request["ProcessingOutputConfig"]["Outputs"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = output["OutputName"].as_str().unwrap_or("?");
        let s3 = &output["S3Output"];
        if s3.is_null() {
            return Err(format!(
                "its output '{name}' goes to the Feature Store, which the emulator does not have"
            ));
        }
        let uri = s3["S3Uri"]
            .as_str()
            .ok_or_else(|| format!("its output '{name}' has no S3Uri"))?;
        let local = s3["LocalPath"]
            .as_str()
            .ok_or_else(|| format!("its output '{name}' has no LocalPath"))?;
        uploads.push(Upload {
            local: below_opt_ml(local, &format!("the LocalPath of output '{name}'"))?,
            s3_uri: uri.to_owned(),
        });
    }

    Ok(CodeJob {
        name: job_name.to_owned(),
        command,
        env: environment(&request["Environment"]),
        cwd: PathBuf::from("/"),
        folders: uploads.iter().map(|u| u.local.clone()).collect(),
        downloads,
        uploads,
        files: Vec::new(),
        archives: Vec::new(),
        max_runtime: max_runtime(request),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> Value {
        json!({
            "AppSpecification": {"ImageUri": "sklearn", "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/pre.py"],
                                 "ContainerArguments": ["--ratio", "0.2"]},
            "Environment": {"MODE": "local"},
            "ProcessingInputs": [{"InputName": "code", "S3Input": {"S3Uri": "s3://b/code/pre.py", "LocalPath": "/opt/ml/processing/input/code",
                                  "S3DataType": "S3Prefix", "S3InputMode": "File", "S3CompressionType": "None"}}],
            "ProcessingOutputConfig": {"Outputs": [{"OutputName": "train", "S3Output": {"S3Uri": "s3://b/out/train", "LocalPath": "/opt/ml/processing/train"}}]},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60}
        })
    }

    #[test]
    fn channel_names_outside_the_models_pattern_are_refused() {
        for bad in ["..", ".", "../../etc", "a/b", "", &"c".repeat(65)] {
            let request = json!({"InputDataConfig": [{"ChannelName": bad}]});
            assert!(refused_paths("Training", &request).is_err(), "{bad}");
        }
        let good = json!({"InputDataConfig": [{"ChannelName": "train-1.v_2"}]});
        assert!(refused_paths("Training", &good).is_ok());
    }

    #[test]
    fn a_script_mode_request_is_its_command_inputs_and_outputs() {
        let job = processing(&request(), "pipelines-x-Pre").unwrap();
        assert_eq!(
            job.command,
            [
                "python3",
                "/opt/ml/processing/input/code/pre.py",
                "--ratio",
                "0.2"
            ]
        );
        assert_eq!(job.env, [("MODE".to_owned(), "local".to_owned())]);
        assert_eq!(
            job.downloads[0].local,
            PathBuf::from("processing/input/code")
        );
        assert_eq!(job.uploads[0].s3_uri, "s3://b/out/train");
        assert_eq!(job.max_runtime, Duration::from_secs(60));
    }

    #[test]
    fn what_cannot_run_says_why() {
        let mut built_in = request();
        built_in["AppSpecification"] = json!({"ImageUri": "model-monitor"});
        assert!(processing(&built_in, "j")
            .unwrap_err()
            .contains("own entrypoint"));
        let mut many = request();
        many["ProcessingResources"] = json!({"ClusterConfig": {"InstanceCount": 2}});
        assert!(processing(&many, "j").unwrap_err().contains("2 instances"));
        let mut java = request();
        java["AppSpecification"]["ContainerEntrypoint"] = json!(["java", "-jar", "x.jar"]);
        assert!(processing(&java, "j").unwrap_err().contains("'java'"));
        let mut pipe = request();
        pipe["ProcessingInputs"][0]["S3Input"]["S3InputMode"] = json!("Pipe");
        assert!(processing(&pipe, "j")
            .unwrap_err()
            .contains("S3InputMode Pipe"));
        let mut outside = request();
        outside["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["LocalPath"] =
            json!("/tmp/out");
        assert!(processing(&outside, "j")
            .unwrap_err()
            .contains("not a folder below /opt/ml"));
        assert!(refused_paths("Processing", &outside).is_err());
        for trick in [
            "/opt/ml/../../etc",
            "/opt/ml//etc",
            "/opt/ml/./x",
            "/opt/ml/",
            "/opt/mlx/y",
        ] {
            let mut escape = request();
            escape["ProcessingInputs"][0]["S3Input"]["LocalPath"] = json!(trick);
            let refused = refused_paths("Processing", &escape).unwrap_err();
            assert!(refused.contains(trick), "{refused}");
            assert!(processing(&escape, "j").is_err());
        }
        assert!(refused_paths("Processing", &request()).is_ok());
        assert_eq!(
            below_opt_ml("/opt/ml/processing/output/", "x").unwrap(),
            PathBuf::from("processing/output")
        );
    }
}
