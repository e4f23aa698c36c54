//! Typed reads of named values (callback arguments, Lambda-step inputs) whose errors
//! say which value and what was wrong with it.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::text::quote;

/// What the values are called in error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A Callback step's argument.
    Argument,
    /// A Lambda step's input.
    Input,
}

impl FieldKind {
    fn noun(self) -> &'static str {
        match self {
            Self::Argument => "argument",
            Self::Input => "input",
        }
    }
}

/// A missing or malformed argument or input, named, with what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} '{name}' {problem}", kind.noun())]
pub struct FieldError {
    /// Argument or input.
    pub kind: FieldKind,
    /// The argument's or input's name.
    pub name: String,
    /// What is wrong with it.
    pub problem: String,
}

/// A borrowed view of a JSON object with typed getters.
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    values: &'a Map<String, Value>,
    kind: FieldKind,
}

impl<'a> Fields<'a> {
    /// Reads `values` as arguments or inputs (`kind` says which, for messages).
    pub fn new(values: &'a Map<String, Value>, kind: FieldKind) -> Self {
        Self { values, kind }
    }

    /// An error about the field `name`.
    pub fn error(&self, name: &str, problem: impl Into<String>) -> FieldError {
        FieldError {
            kind: self.kind,
            name: name.to_owned(),
            problem: problem.into(),
        }
    }

    /// Whether the field is present (and not null).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A value that is present and not null.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.values.get(name).filter(|v| !v.is_null())
    }

    /// A required string field.
    pub fn required_str(&self, name: &str) -> Result<&'a str, FieldError> {
        self.optional_str(name)?
            .ok_or_else(|| self.error(name, "is required"))
    }

    /// A string field that may be absent.
    pub fn optional_str(&self, name: &str) -> Result<Option<&'a str>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Err(self.error(name, "is empty")),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => {
                Err(self.error(name, format!("must be a string, got {}", kind_of(other))))
            }
        }
    }

    /// A boolean, also as the strings `true`/`false` that parameters often become.
    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, FieldError> {
        match self.get(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
            Some(other) => {
                Err(self.error(name, format!("must be true or false, got {}", quote(other))))
            }
        }
    }

    /// A whole number within `u32`, also written as a string.
    pub fn u32_or(&self, name: &str, default: u32) -> Result<u32, FieldError> {
        let problem = |v: &Value| {
            format!(
                "must be a whole number from 0 to {}, got {}",
                u32::MAX,
                quote(v)
            )
        };
        match self.get(name) {
            None => Ok(default),
            Some(v @ Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| self.error(name, problem(v))),
            Some(v @ Value::String(s)) => {
                s.trim().parse().map_err(|_| self.error(name, problem(v)))
            }
            Some(other) => Err(self.error(name, problem(other))),
        }
    }

    /// A list or map passed as a JSON string (SageMaker inputs must be primitives),
    /// or as the JSON value itself where the sender allows it.
    pub fn json<T: DeserializeOwned>(
        &self,
        name: &str,
        expected: &str,
    ) -> Result<Option<T>, FieldError> {
        let parsed = match self.get(name) {
            None => return Ok(None),
            Some(Value::String(text)) => serde_json::from_str(text),
            Some(value) => serde_json::from_value(value.clone()),
        };
        parsed
            .map(Some)
            .map_err(|e| self.error(name, format!("must be {expected}: {e}")))
    }
}

/// The JSON type of a value, for messages: `a string`, `an object`, ...
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(value: Value, test: impl FnOnce(Fields<'_>)) {
        let map = value.as_object().unwrap().clone();
        test(Fields::new(&map, FieldKind::Argument));
    }

    #[test]
    fn errors_name_the_value_and_the_problem() {
        with(json!({"n": "abc", "b": 3, "s": 5}), |f| {
            assert_eq!(
                f.required_str("cluster_id").unwrap_err().to_string(),
                "argument 'cluster_id' is required"
            );
            assert_eq!(
                f.u32_or("n", 1).unwrap_err().to_string(),
                "argument 'n' must be a whole number from 0 to 4294967295, got \"abc\""
            );
            assert_eq!(
                f.bool_or("b", true).unwrap_err().to_string(),
                "argument 'b' must be true or false, got 3"
            );
            assert_eq!(
                f.optional_str("s").unwrap_err().to_string(),
                "argument 's' must be a string, got a number"
            );
        });
    }

    #[test]
    fn reads_values_in_the_forms_pipelines_send() {
        with(
            json!({"n": "42", "m": 7, "b": "TRUE", "l": "[\"a\",\"b\"]", "missing": null}),
            |f| {
                assert_eq!(f.u32_or("n", 1).unwrap(), 42);
                assert_eq!(f.u32_or("m", 1).unwrap(), 7);
                assert_eq!(f.u32_or("missing", 9).unwrap(), 9);
                assert!(f.bool_or("b", false).unwrap());
                assert_eq!(
                    f.json::<Vec<String>>("l", "a JSON array of strings")
                        .unwrap()
                        .unwrap(),
                    ["a", "b"]
                );
            },
        );
    }

    #[test]
    fn a_malformed_json_string_is_named() {
        with(json!({"args": "[1,"}), |f| {
            let err = f
                .json::<Vec<String>>("args", "a JSON array of strings")
                .unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("argument 'args' must be a JSON array of strings"),
                "{err}"
            );
        });
    }
}
