use serde_json::{Map, Value};

/// SendPipelineExecutionStepSuccess takes at most this many output parameters.
pub const MAX_OUTPUTS: usize = 50;
/// The longest output name SageMaker accepts, in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// The longest output value SageMaker accepts, in characters.
pub const MAX_VALUE_CHARS: usize = 1024;

/// Output parameters that SageMaker will accept: checked before any call is made, so
/// a step never fails on the service side for a reason we could have named.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputParameters(Vec<(String, String)>);

/// Why outputs would be refused by SendPipelineExecutionStepSuccess.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    /// More than [`MAX_OUTPUTS`].
    #[error("{count} output parameters; SageMaker accepts at most {MAX_OUTPUTS}")]
    TooMany {
        /// How many were given.
        count: usize,
    },
    /// A name of no characters.
    #[error("an output parameter has an empty name")]
    EmptyName,
    /// A name over [`MAX_NAME_CHARS`].
    #[error("output name '{name}' is {chars} characters; the limit is {MAX_NAME_CHARS}")]
    NameTooLong {
        /// The name.
        name: String,
        /// Its length in characters.
        chars: usize,
    },
    /// A value over [`MAX_VALUE_CHARS`].
    #[error("output '{name}' has a value of {chars} characters; the limit is {MAX_VALUE_CHARS}")]
    ValueTooLong {
        /// The output's name.
        name: String,
        /// The value's length in characters.
        chars: usize,
    },
    /// An object or a list: outputs are primitives.
    #[error("output '{name}' is {kind}; outputs must be strings, numbers or booleans")]
    NotPrimitive {
        /// The output's name.
        name: String,
        /// What it is: `an object`, `a list`.
        kind: &'static str,
    },
}

impl OutputParameters {
    /// No outputs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds from JSON values, writing primitives as SageMaker expects them
    /// (`true`, `42`, `0.5`).
    pub fn from_json(values: &Map<String, Value>) -> Result<Self, OutputError> {
        if values.len() > MAX_OUTPUTS {
            return Err(OutputError::TooMany {
                count: values.len(),
            });
        }
        let mut outputs = Self::new();
        for (name, value) in values {
            outputs.push(name, primitive_text(name, value)?)?;
        }
        Ok(outputs)
    }

    /// Adds one parameter, enforcing every limit.
    pub fn push(&mut self, name: &str, value: impl Into<String>) -> Result<(), OutputError> {
        if self.0.len() == MAX_OUTPUTS {
            return Err(OutputError::TooMany {
                count: MAX_OUTPUTS + 1,
            });
        }
        if name.is_empty() {
            return Err(OutputError::EmptyName);
        }
        let name_chars = name.chars().count();
        if name_chars > MAX_NAME_CHARS {
            return Err(OutputError::NameTooLong {
                name: name.chars().take(40).collect::<String>() + "…",
                chars: name_chars,
            });
        }
        let value = value.into();
        let value_chars = value.chars().count();
        if value_chars > MAX_VALUE_CHARS {
            return Err(OutputError::ValueTooLong {
                name: name.to_owned(),
                chars: value_chars,
            });
        }
        self.0.push((name.to_owned(), value));
        Ok(())
    }

    /// The outputs, name and value, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The value of an output.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// How many outputs there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The text form of a primitive JSON value, or why it is not one.
pub fn primitive_text(name: &str, value: &Value) -> Result<String, OutputError> {
    let not_primitive = |kind| OutputError::NotPrimitive {
        name: name.to_owned(),
        kind,
    };
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Null => Err(not_primitive("null")),
        Value::Array(_) => Err(not_primitive("an array")),
        Value::Object(_) => Err(not_primitive("an object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn writes_primitives_as_sagemaker_expects() {
        let outputs =
            OutputParameters::from_json(&map(json!({"a": true, "b": 42, "c": 0.5, "d": "x"})))
                .unwrap();
        assert_eq!(outputs.get("a"), Some("true"));
        assert_eq!(outputs.get("b"), Some("42"));
        assert_eq!(outputs.get("c"), Some("0.5"));
        assert_eq!(outputs.get("d"), Some("x"));
    }

    #[test]
    fn fifty_one_outputs_are_refused() {
        let many: Map<String, Value> = (0..51).map(|i| (format!("o{i}"), json!(i))).collect();
        assert_eq!(
            OutputParameters::from_json(&many),
            Err(OutputError::TooMany { count: 51 })
        );
        let fifty: Map<String, Value> = (0..50).map(|i| (format!("o{i}"), json!(i))).collect();
        assert_eq!(OutputParameters::from_json(&fifty).unwrap().len(), 50);
    }

    #[test]
    fn long_names_and_values_are_refused_by_characters() {
        let name = "n".repeat(257);
        let err = OutputParameters::from_json(&map(json!({ name: 1 }))).unwrap_err();
        assert!(matches!(err, OutputError::NameTooLong { chars: 257, .. }));
        // 256 multibyte characters are within the limit even though they are 512 bytes.
        assert!(OutputParameters::from_json(&map(json!({ "é".repeat(256): 1 }))).is_ok());

        let err = OutputParameters::from_json(&map(json!({"v": "x".repeat(1025)}))).unwrap_err();
        assert_eq!(
            err,
            OutputError::ValueTooLong {
                name: "v".into(),
                chars: 1025
            }
        );
        assert!(OutputParameters::from_json(&map(json!({"v": "x".repeat(1024)}))).is_ok());
    }

    #[test]
    fn nested_values_are_refused_by_name() {
        let err = OutputParameters::from_json(&map(json!({"metrics": {"auc": 0.9}}))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "output 'metrics' is an object; outputs must be strings, numbers or booleans"
        );
        let err = OutputParameters::from_json(&map(json!({"l": [1]}))).unwrap_err();
        assert!(matches!(
            err,
            OutputError::NotPrimitive {
                kind: "an array",
                ..
            }
        ));
    }
}
