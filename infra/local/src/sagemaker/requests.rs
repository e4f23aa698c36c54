//! Every SageMaker request is checked against the service model before it is answered,
//! as the service checks it: required members, lengths, patterns, ranges and enums
//! (`requests.json`, written from botocore's `service-2.json` by scripts/request-shapes).
//! A member the model defines that the local stack does not honour is refused by name,
//! never accepted and ignored; so is a member the model does not define.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::aws_json::AwsError;

/// The request members each served operation honours, every one with a test; together
/// with `UNSUPPORTED` they are every member the model defines (a unit test holds them to
/// it), so a member a newer model adds is refused until it is honoured here.
pub const HONOURED: [(&str, &[&str]); 21] = [
    ("AddTags", &["ResourceArn", "Tags"]),
    (
        "CreatePipeline",
        &[
            "ClientRequestToken",
            "ParallelismConfiguration",
            "PipelineDefinition",
            "PipelineDefinitionS3Location",
            "PipelineDescription",
            "PipelineDisplayName",
            "PipelineName",
            "RoleArn",
            "Tags",
        ],
    ),
    ("DeletePipeline", &["ClientRequestToken", "PipelineName"]),
    ("DeleteTags", &["ResourceArn", "TagKeys"]),
    ("DescribePipeline", &["PipelineName", "PipelineVersionId"]),
    (
        "DescribePipelineDefinitionForExecution",
        &["PipelineExecutionArn"],
    ),
    ("DescribePipelineExecution", &["PipelineExecutionArn"]),
    (
        "ListPipelineExecutionSteps",
        &[
            "MaxResults",
            "NextToken",
            "PipelineExecutionArn",
            "SortOrder",
        ],
    ),
    (
        "ListPipelineExecutions",
        &[
            "CreatedAfter",
            "CreatedBefore",
            "MaxResults",
            "NextToken",
            "PipelineName",
            "SortBy",
            "SortOrder",
        ],
    ),
    (
        "ListPipelineParametersForExecution",
        &["MaxResults", "NextToken", "PipelineExecutionArn"],
    ),
    (
        "ListPipelineVersions",
        &[
            "CreatedAfter",
            "CreatedBefore",
            "MaxResults",
            "NextToken",
            "PipelineName",
            "SortOrder",
        ],
    ),
    (
        "ListPipelines",
        &[
            "CreatedAfter",
            "CreatedBefore",
            "MaxResults",
            "NextToken",
            "PipelineNamePrefix",
            "SortBy",
            "SortOrder",
        ],
    ),
    ("ListTags", &["MaxResults", "NextToken", "ResourceArn"]),
    (
        "RetryPipelineExecution",
        &[
            "ClientRequestToken",
            "ParallelismConfiguration",
            "PipelineExecutionArn",
        ],
    ),
    (
        "SendPipelineExecutionStepFailure",
        &["CallbackToken", "ClientRequestToken", "FailureReason"],
    ),
    (
        "SendPipelineExecutionStepSuccess",
        &["CallbackToken", "ClientRequestToken", "OutputParameters"],
    ),
    (
        "StartPipelineExecution",
        &[
            "ClientRequestToken",
            "MlflowExperimentName",
            "ParallelismConfiguration",
            "PipelineExecutionDescription",
            "PipelineExecutionDisplayName",
            "PipelineName",
            "PipelineParameters",
            "PipelineVersionId",
            "RoleArn",
            "SelectiveExecutionConfig",
        ],
    ),
    (
        "StopPipelineExecution",
        &["ClientRequestToken", "PipelineExecutionArn"],
    ),
    (
        "UpdatePipeline",
        &[
            "ParallelismConfiguration",
            "PipelineDefinition",
            "PipelineDefinitionS3Location",
            "PipelineDescription",
            "PipelineDisplayName",
            "PipelineName",
            "RoleArn",
        ],
    ),
    (
        "UpdatePipelineExecution",
        &[
            "ParallelismConfiguration",
            "PipelineExecutionArn",
            "PipelineExecutionDescription",
            "PipelineExecutionDisplayName",
        ],
    ),
    (
        "UpdatePipelineVersion",
        &[
            "PipelineArn",
            "PipelineVersionDescription",
            "PipelineVersionDisplayName",
            "PipelineVersionId",
        ],
    ),
];

/// The request members the model defines that the local stack refuses by name.
pub const UNSUPPORTED: [(&str, &str); 7] = [
    ("CreatePipeline", "PipelineVersionAliases"),
    ("UpdatePipeline", "PipelineVersionAliases"),
    ("DescribePipeline", "PipelineVersionAlias"),
    ("StartPipelineExecution", "PipelineVersionAlias"),
    ("ListPipelineExecutions", "PipelineVersionAlias"),
    ("UpdatePipelineVersion", "PipelineVersionAliasOperations"),
    ("ListPipelines", "ManagedBy"),
];

fn shapes() -> &'static Value {
    static SHAPES: OnceLock<Value> = OnceLock::new();
    SHAPES.get_or_init(|| {
        serde_json::from_str(include_str!("requests.json")).expect("requests.json is JSON")
    })
}

/// The input members of an operation, as the model defines them.
pub fn members(operation: &str) -> Vec<&'static str> {
    shapes()[operation]["members"]
        .as_object()
        .map(|members| members.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// Checks a request; an operation the model does not list here is left to its handler.
pub fn check(operation: &str, request: &Value) -> Result<(), AwsError> {
    let Some(shape) = shapes().get(operation) else {
        return Ok(());
    };
    if let Some(members) = request.as_object() {
        let honoured = HONOURED
            .iter()
            .find(|(op, _)| *op == operation)
            .map_or(&[][..], |(_, members)| *members);
        for member in members.keys() {
            let defined = shape["members"].get(member).is_some();
            if defined && !honoured.contains(&member.as_str()) {
                return Err(AwsError::validation(format!(
                    "{operation}: {member} is not supported by the local stack; leave it out"
                )));
            }
        }
    }
    validate(shape, request, &lower_first(operation))
        .map_err(|problem| AwsError::validation(format!("1 validation error detected: {problem}")))
}

/// `PipelineName` → `pipelineName`, as the service names members in its messages.
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

fn validate(shape: &Value, value: &Value, at: &str) -> Result<(), String> {
    let kind = shape["type"].as_str().unwrap_or_default();
    let failed = |what: String| format!("Value at '{at}' failed to satisfy constraint: {what}");
    let length_between = |length: usize| -> Result<(), String> {
        if let Some(min) = shape["min"].as_u64() {
            if (length as u64) < min {
                return Err(failed(format!(
                    "Member must have length greater than or equal to {min}"
                )));
            }
        }
        if let Some(max) = shape["max"].as_u64() {
            if length as u64 > max {
                return Err(failed(format!(
                    "Member must have length less than or equal to {max}"
                )));
            }
        }
        Ok(())
    };
    match (kind, value) {
        (_, Value::Null) => Ok(()),
        ("structure", Value::Object(members)) => {
            for required in shape["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                if members.get(name).is_none_or(Value::is_null) {
                    return Err(format!(
                        "Value null at '{}' failed to satisfy constraint: Member must not be null",
                        join(at, name)
                    ));
                }
            }
            for (name, member) in members {
                let Some(member_shape) = shape["members"].get(name) else {
                    return Err(format!(
                        "'{}' is not a member of this request in the service model; the local stack does not support it",
                        join(at, name)
                    ));
                };
                validate(member_shape, member, &join(at, name))?;
            }
            Ok(())
        }
        ("list", Value::Array(items)) => {
            length_between(items.len())?;
            items.iter().enumerate().try_for_each(|(i, item)| {
                validate(&shape["member"], item, &format!("{at}.{}", i + 1))
            })
        }
        ("map", Value::Object(entries)) => {
            length_between(entries.len())?;
            for (key, item) in entries {
                validate(&shape["key"], &Value::String(key.clone()), at)?;
                validate(&shape["value"], item, &format!("{at}.{key}"))?;
            }
            Ok(())
        }
        ("string", Value::String(text)) => {
            length_between(text.chars().count())?;
            if let Some(allowed) = shape["enum"].as_array() {
                if !allowed.iter().any(|a| a.as_str() == Some(text)) {
                    let names: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                    return Err(failed(format!(
                        "Member must satisfy enum value set: [{}]",
                        names.join(", ")
                    )));
                }
            }
            if let Some(pattern) = shape["pattern"].as_str() {
                if pattern_of(pattern).is_some_and(|re| !re.is_match(text)) {
                    return Err(failed(format!(
                        "Member must satisfy regular expression pattern: {pattern}"
                    )));
                }
            }
            Ok(())
        }
        ("integer" | "long", Value::Number(n)) => {
            let Some(n) = n.as_i64() else {
                return Err(failed("Member must be a whole number".into()));
            };
            if let Some(min) = shape["min"].as_i64().filter(|min| n < *min) {
                return Err(failed(format!(
                    "Member must have value greater than or equal to {min}"
                )));
            }
            if let Some(max) = shape["max"].as_i64().filter(|max| n > *max) {
                return Err(failed(format!(
                    "Member must have value less than or equal to {max}"
                )));
            }
            Ok(())
        }
        ("double" | "float" | "timestamp", Value::Number(_))
        | ("timestamp", Value::String(_))
        | ("boolean", Value::Bool(_)) => Ok(()),
        (kind, other) => Err(failed(format!("Member must be a {kind}, not {other}"))),
    }
}

fn join(at: &str, member: &str) -> String {
    format!("{at}.{}", lower_first(member))
}

/// A model pattern as the service applies it: to the whole value. One that this regex
/// engine cannot read is not checked.
fn pattern_of(pattern: &str) -> Option<&'static Regex> {
    static PATTERNS: OnceLock<std::sync::Mutex<HashMap<String, Option<&'static Regex>>>> =
        OnceLock::new();
    let mut cache = PATTERNS.get_or_init(Default::default).lock().unwrap();
    *cache.entry(pattern.to_owned()).or_insert_with(|| {
        Regex::new(&format!("^(?:{pattern})$"))
            .ok()
            .map(|re| &*Box::leak(Box::new(re)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(operation: &str, request: Value) -> String {
        check(operation, &request).unwrap_err().message
    }

    #[test]
    fn names_and_lengths_are_checked_as_the_service_checks_them() {
        let ok = json!({"PipelineName": "abalone-1", "PipelineDefinition": "{}",
            "RoleArn": "arn:aws:iam::123456789012:role/pipeline", "ClientRequestToken": "x".repeat(36)});
        assert!(check("CreatePipeline", &ok).is_ok());
        let mut long = ok.clone();
        long["PipelineName"] = json!("a".repeat(10_000));
        assert!(refused("CreatePipeline", long).contains("'createPipeline.pipelineName'"));
        let mut bad = ok.clone();
        bad["PipelineName"] = json!("bad name/../x");
        assert!(refused("CreatePipeline", bad).contains("regular expression pattern"));
        let mut large = ok.clone();
        large["PipelineDefinition"] = json!("x".repeat(1_048_577));
        assert!(refused("CreatePipeline", large).contains("less than or equal to 1048576"));
        assert!(refused("CreatePipeline", json!({"PipelineName": "p"}))
            .contains("Member must not be null"));
    }

    #[test]
    fn members_outside_the_model_or_not_honoured_are_refused_by_name() {
        let message = refused(
            "DescribePipeline",
            json!({"PipelineName": "p", "PipelineVersionAlias": "prod"}),
        );
        assert!(
            message.contains("PipelineVersionAlias is not supported by the local stack"),
            "{message}"
        );
        let message = refused(
            "DescribePipeline",
            json!({"PipelineName": "p", "Colour": "red"}),
        );
        assert!(
            message.contains("'describePipeline.colour' is not a member"),
            "{message}"
        );
        let message = refused(
            "StartPipelineExecution",
            json!({"PipelineName": "p",
            "ClientRequestToken": "x".repeat(36), "SelectiveExecutionConfig": {"SelectedSteps": []}}),
        );
        assert!(
            message.contains("length greater than or equal to 1"),
            "{message}"
        );
        let message = refused("ListPipelines", json!({"SortOrder": "Sideways"}));
        assert!(message.contains("enum value set"), "{message}");
    }

    #[test]
    fn every_member_of_the_model_is_honoured_or_refused() {
        for (operation, shape) in shapes().as_object().unwrap() {
            let honoured = HONOURED
                .iter()
                .find(|(op, _)| op == operation)
                .unwrap_or_else(|| panic!("{operation} is not in HONOURED"))
                .1;
            for member in members(operation) {
                let refused = UNSUPPORTED.contains(&(operation.as_str(), member));
                assert!(
                    honoured.contains(&member) != refused,
                    "{operation}.{member} must be honoured or refused, not both or neither"
                );
            }
            for member in honoured {
                assert!(
                    shape["members"].get(*member).is_some(),
                    "{operation}.{member} is not in the model"
                );
            }
        }
        for (operation, member) in UNSUPPORTED {
            assert!(members(operation).contains(&member), "{operation}.{member}");
        }
    }
}
