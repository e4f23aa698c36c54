//! SageMaker's Cleanup step: deletes the S3 outputs of the steps it names, as the
//! service does, and says in its Metadata which it cleaned, which it could not, and
//! which it skipped. A Training step's outputs are found from the job (every object
//! under `<S3OutputPath>/<TrainingJobName>/`); a Processing or Transform step's are the
//! exact objects its S3Uris name, each under one of the step's output locations.

use serde_json::{json, Value};

use super::definition::{Definition, StepDef};
use super::step_task::{StepEnd, StepTask};

/// The step types whose outputs a Cleanup step deletes.
const SOURCES: [&str; 3] = ["Training", "Processing", "Transform"];

/// One source's outcome.
enum Outcome {
    Cleaned,
    Skipped,
    Failed { code: &'static str, message: String },
}

/// At create: every source is an upstream step whose outputs the emulator can find.
pub fn check(definition: &Definition, step: &StepDef) -> Result<(), String> {
    let sources = step.arguments["Resources"]["S3"]
        .as_array()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("Cleanup step '{}' has no Resources.S3 sources", step.name))?;
    for source in sources {
        let name = source["StepName"].as_str().unwrap_or_default();
        let Some(target) = definition.step(name) else {
            return Err(format!(
                "Cleanup step '{}' cleans up '{name}', which is not a step of this pipeline",
                step.name
            ));
        };
        let kind = target.kind.type_name();
        if !SOURCES.contains(&kind) {
            return Err(format!(
                "Cleanup step '{}' cleans up {kind} step '{name}'; the emulator deletes the S3 outputs of {} steps",
                step.name,
                SOURCES.join(", ")
            ));
        }
        if !step.prerequisites().contains(name) {
            return Err(format!(
                "Cleanup step '{}' cleans up '{name}' without depending on it",
                step.name
            ));
        }
        if kind != "Training" && source.get("S3Uris").is_none() {
            return Err(format!(
                "Cleanup step '{}': a {kind} step's outputs are deleted by the S3Uris that name them, and '{name}' has none",
                step.name
            ));
        }
    }
    Ok(())
}

impl StepTask {
    /// Deletes each source's outputs; fails naming the sources it could not clean.
    pub async fn cleanup(&mut self, inputs: &Value) -> StepEnd {
        let mut cleaned = Vec::new();
        let mut skipped = Vec::new();
        let mut failed = Vec::new();
        for source in inputs["Resources"]["S3"].as_array().into_iter().flatten() {
            let name = source["StepName"].as_str().unwrap_or_default().to_owned();
            match self.clean(&name, source.get("S3Uris")).await {
                Outcome::Cleaned => cleaned.push(name),
                Outcome::Skipped => skipped.push(name),
                Outcome::Failed { code, message } => failed
                    .push(json!({"StepName": name, "ErrorCode": code, "ErrorMessage": message})),
            }
        }
        self.set_metadata(json!({"Cleanup": {
            "CleanedSteps": cleaned, "FailedSteps": failed, "SkippedSteps": skipped}}));
        if failed.is_empty() {
            return StepEnd::Succeeded {
                properties: json!({}),
                outcome: None,
            };
        }
        let failures: Vec<String> = failed
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f["StepName"].as_str().unwrap_or_default(),
                    f["ErrorMessage"].as_str().unwrap_or_default()
                )
            })
            .collect();
        StepEnd::failed(format!(
            "ClientError: the outputs of {} could not be deleted: {}",
            failed.len(),
            failures.join("; ")
        ))
    }

    async fn clean(&self, name: &str, uris: Option<&Value>) -> Outcome {
        let source = self
            .pipelines
            .read_execution(&self.arn, |e| {
                e.steps
                    .iter()
                    .find(|s| s.name == name && s.status == "Succeeded")
                    .and_then(|s| Some((s.step_type.clone(), s.properties.clone()?)))
            })
            .flatten();
        // Its outputs cannot be found from a step that did not succeed.
        let Some((kind, job)) = source else {
            return Outcome::Skipped;
        };
        let client = |message: String| Outcome::Failed {
            code: "ClientError",
            message,
        };
        if !job["VpcConfig"].is_null() {
            return client(format!(
                "step '{name}' sets a VpcConfig, and its outputs cannot be cleaned up"
            ));
        }
        let locations = output_locations(&kind, &job);
        let targets: Vec<(String, bool)> = match uris.and_then(Value::as_array) {
            Some(uris) => {
                let mut targets = Vec::new();
                for uri in uris {
                    let uri = uri.as_str().unwrap_or_default();
                    if !locations.iter().any(|l| under(uri, l)) {
                        return client(format!(
                            "{uri} is not under an output location of step '{name}' ({})",
                            locations.join(", ")
                        ));
                    }
                    targets.push((uri.to_owned(), false));
                }
                targets
            }
            None => match job["TrainingJobName"].as_str() {
                Some(job_name) if kind == "Training" => locations
                    .iter()
                    .map(|l| (format!("{}/{job_name}/", l.trim_end_matches('/')), true))
                    .collect(),
                _ => return client(format!("step '{name}' has no S3Uris naming what to delete")),
            },
        };
        for (uri, prefix) in targets {
            if let Err(why) = self.runner.delete_s3_objects(&uri, prefix).await {
                return Outcome::Failed {
                    code: "InternalFailure",
                    message: why,
                };
            }
        }
        Outcome::Cleaned
    }
}

/// Where a job step writes in S3, from its Describe answer.
fn output_locations(kind: &str, job: &Value) -> Vec<String> {
    let found: Vec<&Value> = match kind {
        "Processing" => job["ProcessingOutputConfig"]["Outputs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| &o["S3Output"]["S3Uri"])
            .collect(),
        "Transform" => vec![&job["TransformOutput"]["S3OutputPath"]],
        _ => vec![&job["OutputDataConfig"]["S3OutputPath"]],
    };
    found
        .into_iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// Whether `uri` names an object at or below the location `prefix`.
fn under(uri: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    uri.strip_prefix(prefix)
        .is_some_and(|rest| rest.starts_with('/') && !rest.split('/').any(|p| p == ".."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_is_under_a_location_only_below_it() {
        assert!(under("s3://b/out/part-0.csv", "s3://b/out"));
        assert!(under("s3://b/out/a/b.csv", "s3://b/out/"));
        assert!(!under("s3://b/outside.csv", "s3://b/out"));
        assert!(!under("s3://b/out/../x.csv", "s3://b/out"));
        assert!(!under("s3://b/out", "s3://b/out"));
    }
}
