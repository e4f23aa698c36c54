//! Values of a running execution: `Get` references, `Std:Join` and `Std:JsonGet`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::references::{PropertyPath, Reference, Segment};

/// Why a value could not be computed yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// The step fails with this reason.
    Failed(String),
    /// `Std:JsonGet` needs this S3 object: fetch it into `Context::documents`, then
    /// evaluate again. `property_file`: the step and property file it holds, if any.
    NeedsObject {
        uri: String,
        property_file: Option<(String, String)>,
    },
}

impl From<String> for EvalError {
    fn from(reason: String) -> Self {
        Self::Failed(reason)
    }
}

impl From<&str> for EvalError {
    fn from(reason: &str) -> Self {
        Self::Failed(reason.to_owned())
    }
}

/// What references resolve against.
#[derive(Clone, Debug, Default)]
pub struct Context {
    pub parameters: BTreeMap<String, Value>,
    /// Step name → the step's properties: `{"OutputParameters": {...}}` of a Lambda or
    /// Callback step, `{"Outcome": true}` of a Condition step, DescribeStep's `Step`
    /// of an EMR step.
    pub properties: BTreeMap<String, Value>,
    pub execution: BTreeMap<String, Value>,
    /// `PipelineExperimentConfig`, evaluated when the execution starts.
    pub experiment_config: BTreeMap<String, Value>,
    /// S3 URI → the text of the object, as fetched for `Std:JsonGet`.
    pub documents: BTreeMap<String, String>,
    /// The job steps, whose properties a mock can supply.
    /// Shared: every step's context holds the same set.
    pub job_steps: std::sync::Arc<std::collections::BTreeSet<String>>,
    /// The item a ForEach body step's child runs for (`ForEach.CurrentItem`).
    pub item: Option<Value>,
}

impl Context {
    /// The context one step runs in: this one with only the properties of the steps it
    /// reads, so that starting a step costs what it reads, not what ran before it.
    pub fn for_step(&self, reads: &[String]) -> Self {
        Self {
            parameters: self.parameters.clone(),
            properties: reads
                .iter()
                .filter_map(|step| Some((step.clone(), self.properties.get(step)?.clone())))
                .collect(),
            execution: self.execution.clone(),
            experiment_config: self.experiment_config.clone(),
            documents: BTreeMap::new(),
            job_steps: self.job_steps.clone(),
            item: self.item.clone(),
        }
    }

    fn get(&self, path: &str) -> Result<Value, EvalError> {
        match Reference::parse(path)? {
            Reference::Parameter(name) => self
                .parameters
                .get(&name)
                .cloned()
                .ok_or_else(|| format!("parameter '{name}' has no value").into()),
            Reference::Step { step, path } => {
                let properties = self.properties.get(&step).ok_or_else(|| {
                    format!("step '{step}' has not run, so '{}' has no value", path.text)
                })?;
                path.lookup(properties).cloned().ok_or_else(|| {
                    match path.output_name() {
                        Some(output) => format!("step '{step}' produced no output '{output}'"),
                        None if self.job_steps.contains(&step) => format!(
                            "step '{step}' has no property '{}' in its mocked answer; give it in the mock file: {{\"Steps\": {{\"{step}\": {{\"Properties\": {{...}}}}}}}}",
                            path.text
                        ),
                        None => format!("step '{step}' has no property '{}'", path.text),
                    }
                    .into()
                })
            }
            // Read when asked: each step that reads it sees the time it started.
            Reference::Execution(variable) if variable == "CurrentDateTime" => Ok(Value::String(
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )),
            Reference::Execution(variable) => {
                self.execution.get(&variable).cloned().ok_or_else(|| {
                    format!("execution variable '{variable}' has no value in this step").into()
                })
            }
            Reference::CurrentItem(field) => {
                let item = self
                    .item
                    .as_ref()
                    .ok_or("ForEach.CurrentItem has a value only in a ForEach body step")?;
                let Some(field) = field else {
                    return Ok(item.clone());
                };
                // An item is often a JSON object in a string; its fields are read inside.
                let parsed = match item {
                    Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
                    other => other.clone(),
                };
                field.lookup(&parsed).cloned().ok_or_else(|| {
                    let dot = if field.text.starts_with('[') { "" } else { "." };
                    format!(
                        "ForEach.CurrentItem{dot}{} has no value: the item {} has no such field",
                        field.text,
                        text(item)
                    )
                    .into()
                })
            }
            Reference::ExperimentConfig(member) => self
                .experiment_config
                .get(&member)
                .cloned()
                .ok_or_else(|| format!("PipelineExperimentConfig.{member} has no value").into()),
        }
    }

    /// Resolves every reference and function inside a value.
    pub fn evaluate(&self, value: &Value) -> Result<Value, EvalError> {
        match value {
            Value::Object(map) if map.len() == 1 && map.contains_key("Get") => {
                let path = map["Get"].as_str().ok_or("Get takes a path")?;
                self.get(path)
            }
            Value::Object(map) if map.len() == 1 && map.contains_key("Std:Join") => {
                let join = &map["Std:Join"];
                let separator = join["On"].as_str().unwrap_or_default();
                let values = join["Values"].as_array().ok_or("Std:Join takes Values")?;
                let parts = values
                    .iter()
                    .map(|v| self.evaluate(v).map(|v| text(&v)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::String(parts.join(separator)))
            }
            Value::Object(map) if map.len() == 1 && map.contains_key("Std:JsonGet") => {
                self.json_get(&map["Std:JsonGet"])
            }
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    out.insert(k.clone(), self.evaluate(v)?);
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => items
                .iter()
                .map(|v| self.evaluate(v))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }

    /// `Std:JsonGet`: the value at Path in a JSON document, a step's property file or
    /// an S3 object.
    fn json_get(&self, arguments: &Value) -> Result<Value, EvalError> {
        let path_text = arguments["Path"]
            .as_str()
            .ok_or("Std:JsonGet takes a Path")?;
        let path = PropertyPath::parse(path_text.trim_start_matches("$."))
            .map_err(|e| format!("Std:JsonGet: Path {e}"))?;
        let (document, source) = match arguments.get("PropertyFile") {
            Some(file) => self.property_file(file)?,
            None => {
                let uri = text(&self.evaluate(&arguments["S3Uri"])?);
                (self.object(&uri, None)?, uri)
            }
        };
        path.lookup(&document)
            .cloned()
            .ok_or_else(|| format!("Std:JsonGet: no value at '{path_text}' in {source}").into())
    }

    /// A fetched S3 object as JSON, or the need to fetch it.
    fn object(
        &self,
        uri: &str,
        property_file: Option<(String, String)>,
    ) -> Result<Value, EvalError> {
        let Some(text) = self.documents.get(uri) else {
            return Err(EvalError::NeedsObject {
                uri: uri.to_owned(),
                property_file,
            });
        };
        serde_json::from_str(text)
            .map_err(|e| format!("Std:JsonGet: the object {uri} is not JSON: {e}").into())
    }

    /// A property file (`{"Get": "Steps.<step>.PropertyFiles.<name>"}`): the mock's
    /// document, else the object at its output's S3Uri plus its path.
    fn property_file(&self, file: &Value) -> Result<(Value, String), EvalError> {
        let get = file["Get"]
            .as_str()
            .ok_or("Std:JsonGet's PropertyFile takes a Get")?;
        let Reference::Step { step, path } = Reference::parse(get)? else {
            return Err(format!("'{get}' is not a step's property file").into());
        };
        let name = match path.segments.as_slice() {
            [Segment::Field(root), Segment::Field(name)] if root == "PropertyFiles" => name.clone(),
            _ => return Err(format!("'{get}' is not a step's property file").into()),
        };
        let source = format!("property file '{name}' of step '{step}'");
        let entry = self
            .properties
            .get(&step)
            .and_then(|p| p["PropertyFiles"].get(&name))
            .ok_or_else(|| format!("step '{step}' has not run, so its {source} cannot be read"))?;
        if let Some(document) = entry.get("Document") {
            return Ok((document.clone(), source));
        }
        let uri = entry["S3Uri"]
            .as_str()
            .ok_or_else(|| format!("{source}: {}", text(&entry["Missing"])))?;
        Ok((self.object(uri, Some((step, name)))?, source))
    }
}

/// A value as text, as `Std:Join` and step outputs write it.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A text value (a parameter override, a step output) as the declared type.
pub fn typed(kind: &str, raw: &str) -> Result<Value, String> {
    match kind {
        "Integer" => raw
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("'{raw}' is not an Integer")),
        "Float" => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("'{raw}' is not a Float")),
        "Boolean" => match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("'{raw}' is not a Boolean")),
        },
        _ => Ok(Value::String(raw.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn context() -> Context {
        let mut c = Context::default();
        c.parameters.insert("Threshold".into(), json!(0.5));
        c.parameters.insert("Env".into(), json!("prod"));
        c.properties.insert(
            "check".into(),
            json!({"OutputParameters": {"Ready": false, "Pending": 3}}),
        );
        c.properties.insert(
            "emr".into(),
            json!({"Id": "s-1", "Status": {"State": "COMPLETED"}}),
        );
        c.properties.insert("gate".into(), json!({"Outcome": true}));
        c.execution
            .insert("PipelineExecutionId".into(), json!("abc123"));
        c.experiment_config
            .insert("TrialName".into(), json!("abc123"));
        c
    }

    #[test]
    fn resolves_references_and_joins() {
        let c = context();
        let message = json!({"Std:Join": {"On": " ", "Values": ["cluster not ready in", {"Get": "Parameters.Env"},
            "pending:", {"Get": "Steps.check.OutputParameters['Pending']"}, {"Get": "Execution.PipelineExecutionId"},
            {"Get": "Steps.emr.Status.State"}, {"Get": "Steps.gate.Outcome"}, {"Get": "PipelineExperimentConfig.TrialName"}]}});
        assert_eq!(
            c.evaluate(&message).unwrap(),
            json!("cluster not ready in prod pending: 3 abc123 COMPLETED true abc123")
        );
        assert_eq!(
            c.evaluate(&json!({"Get": "Steps.check.OutputParameters[\"Ready\"]"}))
                .unwrap(),
            json!(false)
        );
        assert_eq!(
            c.evaluate(&json!({"Get": "Steps.check.OutputParameters['Nope']"})),
            Err(EvalError::Failed(
                "step 'check' produced no output 'Nope'".into()
            ))
        );
        let now = c
            .evaluate(&json!({"Get": "Execution.CurrentDateTime"}))
            .unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(now.as_str().unwrap()).is_ok(),
            "{now}"
        );
    }

    #[test]
    fn json_get_asks_for_the_object_then_reads_the_path() {
        let mut c = context();
        let get = json!({"Std:JsonGet": {"S3Uri": {"Std:Join": {"On": "/", "Values": ["s3://b", {"Get": "Parameters.Env"}, "m.json"]}},
            "Path": "metrics.auc.value"}});
        assert_eq!(
            c.evaluate(&get),
            Err(EvalError::NeedsObject {
                uri: "s3://b/prod/m.json".into(),
                property_file: None
            })
        );
        c.documents.insert(
            "s3://b/prod/m.json".into(),
            r#"{"metrics": {"auc": {"value": 0.91}}}"#.into(),
        );
        assert_eq!(c.evaluate(&get).unwrap(), json!(0.91));
        c.documents
            .insert("s3://b/prod/m.json".into(), r#"{"metrics": {}}"#.into());
        let Err(EvalError::Failed(reason)) = c.evaluate(&get) else {
            panic!()
        };
        assert!(
            reason.contains("no value at 'metrics.auc.value' in s3://b/prod/m.json"),
            "{reason}"
        );
    }

    #[test]
    fn typed_values_follow_the_declared_type() {
        assert_eq!(typed("Integer", "42").unwrap(), json!(42));
        assert_eq!(typed("Float", "0.5").unwrap(), json!(0.5));
        assert_eq!(typed("Boolean", "True").unwrap(), json!(true));
        assert_eq!(typed("String", "x").unwrap(), json!("x"));
        assert!(typed("Integer", "4.5")
            .unwrap_err()
            .contains("not an Integer"));
    }
}
