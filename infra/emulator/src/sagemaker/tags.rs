//! AddTags, ListTags and DeleteTags on any ARN, and the Tags CreatePipeline takes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{json, Value};

use super::listing;
use crate::aws_json::{self, AwsError};

/// Tags by resource ARN, in the order they were first added.
#[derive(Debug, Default)]
pub struct Tags {
    by_resource: Mutex<BTreeMap<String, Vec<(String, String)>>>,
}

fn read_tags(request: &Value) -> Result<Vec<(String, String)>, AwsError> {
    let list = match request.get("Tags") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(AwsError::validation("Tags must be a list")),
    };
    list.iter()
        .map(|tag| {
            let key = aws_json::required_str(tag, "Key")?;
            if key.is_empty() || key.chars().count() > 128 {
                return Err(AwsError::validation(format!(
                    "Tag key '{key}' must have length between 1 and 128"
                )));
            }
            let value = tag.get("Value").and_then(Value::as_str).unwrap_or_default();
            Ok((key.to_owned(), value.to_owned()))
        })
        .collect()
}

impl Tags {
    /// Adds (or replaces by key) the request's `Tags` on `arn`.
    pub fn add(&self, arn: &str, request: &Value) -> Result<Value, AwsError> {
        let tags = read_tags(request)?;
        let mut all = self.by_resource.lock().unwrap();
        let current = all.entry(arn.to_owned()).or_default();
        for (key, value) in tags {
            match current.iter_mut().find(|(k, _)| *k == key) {
                Some(existing) => existing.1 = value,
                None => current.push((key, value)),
            }
        }
        Ok(json!({"Tags": to_json(current)}))
    }

    /// The operations, or None when `operation` is not one of them.
    pub fn handle(&self, operation: &str, request: &Value) -> Option<Result<Value, AwsError>> {
        let answer = match operation {
            "AddTags" => aws_json::required_str(request, "ResourceArn")
                .and_then(|arn| self.add(arn, request)),
            "ListTags" => aws_json::required_str(request, "ResourceArn").and_then(|arn| {
                let tags = self
                    .by_resource
                    .lock()
                    .unwrap()
                    .get(arn)
                    .map(|t| to_json(t))
                    .unwrap_or_default();
                listing::page(tags, request, "Tags")
            }),
            "DeleteTags" => aws_json::required_str(request, "ResourceArn").map(|arn| {
                let keys: Vec<&str> = request["TagKeys"]
                    .as_array()
                    .map(|k| k.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if let Some(current) = self.by_resource.lock().unwrap().get_mut(arn) {
                    current.retain(|(k, _)| !keys.contains(&k.as_str()));
                }
                json!({})
            }),
            _ => return None,
        };
        Some(answer)
    }
}

fn to_json(tags: &[(String, String)]) -> Vec<Value> {
    tags.iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect()
}
