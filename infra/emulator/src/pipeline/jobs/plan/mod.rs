//! What of a job step's request the stack can run as the step's own code: the container
//! SageMaker would start, as a [`CodeJob`](crate::code_jobs::CodeJob), or why it cannot
//! (and the step stays on its mock, saying so). One plan per job kind; what they share
//! is here.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::code_jobs::Staging;

mod processing;
pub mod training;
pub mod transform;
pub mod tuning;
pub mod xgboost;

pub use processing::processing;

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

/// What SageMaker refuses in a job request, whether the step runs its code or answers
/// from its mock: a LocalPath outside `/opt/ml`, a ChannelName outside the model's
/// pattern, a transform's payload over its limits. The step fails with it as a
/// ClientError.
pub fn refused(step_type: &str, request: &Value) -> Result<(), String> {
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
        "Transform" => transform::refused(request)?,
        _ => {}
    }
    Ok(())
}

/// How an S3DataSource's `S3DataType` is staged: a prefix, or a manifest file listing the
/// objects; any other (an augmented manifest) is said by `what`.
pub(super) fn staging_of(data_type: Option<&str>, what: &str) -> Result<Staging, String> {
    match data_type.unwrap_or("S3Prefix") {
        "S3Prefix" => Ok(Staging::Prefix),
        "ManifestFile" => Ok(Staging::Manifest),
        other => Err(format!(
            "{what} has S3DataType {other}; the emulator stages S3Prefix and ManifestFile"
        )),
    }
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
