use serde_json::{Map, Value};

use crate::lambda_step::{StepError, StepFunction, StepInputs, StepOutputs};
use crate::outcome::{MAX_NAME_CHARS, MAX_OUTPUTS};

/// `flatten-json`: turns a JSON document passed as a string (a metrics report, a
/// hyperparameter map) into flat outputs a Condition step can read:
/// `{"metrics": {"auc": 0.91}}` becomes `metrics_auc = 0.91`.
///
/// Inputs: `json` (required), `prefix` (default none), `separator` (default `_`).
pub fn flatten_json() -> StepFunction {
    StepFunction::new("flatten-json", |inputs: StepInputs| async move {
        let fields = inputs.fields();
        let document: Value = fields
            .json("json", "a JSON document")?
            .ok_or_else(|| fields.error("json", "is required"))?;
        let prefix = fields.optional_str("prefix")?.unwrap_or_default();
        let separator = fields.optional_str("separator")?.unwrap_or("_");
        let mut leaves = Map::new();
        collect_leaves(prefix, separator, &document, &mut leaves);
        if leaves.len() > MAX_OUTPUTS * 10 {
            return Err(StepError::InvalidInput(format!(
                "input 'json' has {} values; flatten-json returns at most {}",
                leaves.len(),
                MAX_OUTPUTS * 10
            )));
        }
        if let Some(name) = leaves
            .keys()
            .find(|n| n.is_empty() || n.chars().count() > MAX_NAME_CHARS)
        {
            return Err(StepError::InvalidInput(format!(
                "input 'json' gives an output name of {} characters; names must be 1 to {MAX_NAME_CHARS}",
                name.chars().count()
            )));
        }
        Ok(leaves
            .into_iter()
            .fold(StepOutputs::new(), |out, (k, v)| out.with(k, v)))
    })
}

fn collect_leaves(path: &str, separator: &str, value: &Value, leaves: &mut Map<String, Value>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}{separator}{key}")
        }
    };
    match value {
        Value::Object(map) => map
            .iter()
            .for_each(|(key, child)| collect_leaves(&join(key), separator, child, leaves)),
        Value::Array(items) => items.iter().enumerate().for_each(|(index, child)| {
            collect_leaves(&join(&index.to_string()), separator, child, leaves)
        }),
        // A null has no value a step output could carry.
        Value::Null => {}
        primitive => {
            leaves.insert(path.to_owned(), primitive.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda_step::StepFunctions;
    use serde_json::json;

    async fn run(inputs: Value) -> Result<Value, StepError> {
        StepFunctions::new(Some("flatten-json".into()))
            .with(flatten_json())
            .invoke(inputs)
            .await
    }

    #[tokio::test]
    async fn flattens_nested_objects_and_arrays() {
        let out = run(json!({
            "json": r#"{"metrics": {"auc": 0.91, "passed": true}, "tags": ["a", "b"], "none": null}"#,
            "prefix": "eval"
        }))
        .await
        .unwrap();
        assert_eq!(
            out,
            json!({"eval_metrics_auc": 0.91, "eval_metrics_passed": true, "eval_tags_0": "a", "eval_tags_1": "b"})
        );
    }

    #[tokio::test]
    async fn names_the_input_that_is_wrong() {
        let err = run(json!({"json": "{not json"})).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("input 'json' must be a JSON document"),
            "{err}"
        );
        let err = run(json!({})).await.unwrap_err();
        assert_eq!(err.to_string(), "input 'json' is required");
    }
}
