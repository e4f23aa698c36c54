//! A SageMaker job step on its mock: the synthesized Describe* answer with the mock's
//! Properties merged in, its property files, and the mock's Fail and Seconds. A Stop
//! while it runs stops it, as Stop*Job would.

use serde_json::{json, Map, Value};

use super::definition::PropertyFileDecl;
use super::jobs::{self, describe};
use super::mocks::merge;
use super::step_task::{StepEnd, StepTask};
use super::store::epoch;

impl StepTask {
    pub async fn job(
        &self,
        step_type: &str,
        property_files: &[PropertyFileDecl],
        inputs: Value,
        fields: &Value,
    ) -> StepEnd {
        let mock = self
            .pipelines
            .mocks()
            .step(&self.step.name)
            .cloned()
            .unwrap_or_default();
        let execution_id = self.arn.rsplit('/').next().unwrap_or_default();
        let job = describe::job_name(execution_id, &self.step.name);
        let now = epoch(std::time::SystemTime::now());
        let (mut answer, metadata) = describe::describe(step_type, &inputs, fields, &job, now);
        self.set_metadata(metadata);
        if let Some(properties) = &mock.properties {
            merge(&mut answer, properties);
        }
        let files: Map<String, Value> = property_files
            .iter()
            .map(|file| {
                (
                    file.name.clone(),
                    property_file(file, &answer, &mock.property_files),
                )
            })
            .collect();
        if !files.is_empty() {
            answer["PropertyFiles"] = Value::Object(files);
        }
        let mut stop = self.stop.clone();
        // A zero-length sleep still waits for the timer's next millisecond tick.
        let duration = mock.duration();
        tokio::select! {
            _ = tokio::time::sleep(duration), if !duration.is_zero() => {}
            _ = std::future::ready(()), if duration.is_zero() => {}
            _ = async { drop(stop.wait_for(|stopping| *stopping).await) } => {
                return StepEnd::Stopped(format!(
                    "{step_type} job {job} stopped: pipeline execution stopped"
                ));
            }
        }
        if let Some(reason) = mock.fail {
            return StepEnd::Failed {
                fault: jobs::fault_of(&reason),
                reason,
            };
        }
        StepEnd::Succeeded {
            properties: answer,
            outcome: None,
        }
    }
}

/// Where a property file's JSON comes from: the mock's document, else the object at its
/// ProcessingOutput's S3Uri plus its path, as SageMaker reads it.
fn property_file(
    file: &PropertyFileDecl,
    answer: &Value,
    mocked: &std::collections::BTreeMap<String, Value>,
) -> Value {
    if let Some(document) = mocked.get(&file.name) {
        return json!({ "Document": document });
    }
    let output = answer["ProcessingOutputConfig"]["Outputs"]
        .as_array()
        .and_then(|outputs| {
            outputs
                .iter()
                .find(|o| o["OutputName"] == json!(file.output_name))
        });
    match output.and_then(|o| o["S3Output"]["S3Uri"].as_str()) {
        Some(uri) => json!({ "S3Uri": format!("{}/{}", uri.trim_end_matches('/'), file.path) }),
        None => json!({ "Missing": format!(
            "the step has no ProcessingOutput '{}' with an S3Uri to read '{}' from, and no mock gives the file",
            file.output_name, file.path
        ) }),
    }
}
