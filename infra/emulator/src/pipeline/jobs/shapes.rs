//! The property paths a job step exposes: the tree of its Describe* answer, from
//! botocore's service models (`shapes.json`, written by scripts/describe-shapes).

use std::sync::OnceLock;

use serde_json::Value;

use crate::pipeline::references::{PropertyPath, Segment};

static SHAPES: OnceLock<Value> = OnceLock::new();

fn shapes() -> &'static Value {
    SHAPES.get_or_init(|| {
        serde_json::from_str(include_str!("shapes.json")).expect("shapes.json is JSON")
    })
}

/// The Describe* answer tree of a step type, when botocore has one for it.
pub fn tree(step_type: &str) -> Option<&'static Value> {
    shapes().get(step_type)
}

/// Whether `path` names something the step type's Describe* answer has. Lists take
/// an index or, as the SDK's `PropertiesList` writes them, a name
/// (`Outputs['train']`); maps take a key.
pub fn has_path(tree: &Value, path: &PropertyPath) -> bool {
    let mut node = tree;
    for segment in &path.segments {
        node = match (node, segment) {
            (Value::Array(element), Segment::Index(_) | Segment::Key(_)) => &element[0],
            (Value::Object(map), Segment::Key(_)) if map.contains_key("{}") => &map["{}"],
            (Value::Object(map), Segment::Field(name)) => match map.get(name) {
                Some(next) => next,
                None => return false,
            },
            // The depth limit of the tree: deeper paths are taken on trust.
            (Value::String(kind), _) if kind == "structure" => return true,
            _ => return false,
        };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(step_type: &str, path: &str) -> bool {
        has_path(
            tree(step_type).unwrap(),
            &PropertyPath::parse(path).unwrap(),
        )
    }

    #[test]
    fn the_paths_the_sdk_writes_are_in_the_describe_answers() {
        assert!(has(
            "Processing",
            "ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
        ));
        assert!(has("Training", "ModelArtifacts.S3ModelArtifacts"));
        assert!(has("Training", "FinalMetricDataList['rmse'].Value"));
        assert!(has("Training", "HyperParameters['eta']"));
        assert!(has("Tuning", "TrainingJobSummaries[0].TrainingJobName"));
        assert!(has("Tuning", "BestTrainingJob.TrainingJobName"));
        assert!(has("RegisterModel", "ModelPackageArn"));
        assert!(has("Model", "ModelName"));
        assert!(has("Transform", "TransformOutput.S3OutputPath"));
        assert!(has("EMRServerless", "jobRun.jobRunId"));
        assert!(!has("Training", "ModelArtifacts.S3Uri"));
        assert!(!has("Processing", "ProcessingJobName.Length"));
    }
}
