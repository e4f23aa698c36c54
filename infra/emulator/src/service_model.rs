//! Requests are checked against the service model before they are answered, as the
//! services check them: required members, lengths, patterns, ranges and enums, from the
//! request shapes scripts/request-shapes writes out of botocore's `service-2.json`. A
//! member the model defines that the emulator does not honour is refused by name,
//! never accepted and ignored; so is a member the model does not define. The SageMaker
//! and EMR endpoints each give their model and their lists (`sagemaker::requests`,
//! `emr::requests`).

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

/// One service's request shapes and what the emulator does with their members.
pub struct ServiceModel {
    /// The JSON text of the request shapes by operation, as scripts/request-shapes
    /// writes them; read once, on the first request.
    source: &'static str,
    shapes: OnceLock<Value>,
    /// The top-level members each served operation honours, every one with a test.
    honoured: &'static [(&'static str, &'static [&'static str])],
    /// The members the model defines that the emulator refuses by name: a top-level
    /// member, or a nested one as a dotted path (lists are walked through).
    unsupported: &'static [(&'static str, &'static str)],
}

impl ServiceModel {
    /// A model from its shapes' JSON text and the two lists.
    pub const fn new(
        source: &'static str,
        honoured: &'static [(&'static str, &'static [&'static str])],
        unsupported: &'static [(&'static str, &'static str)],
    ) -> Self {
        Self {
            source,
            shapes: OnceLock::new(),
            honoured,
            unsupported,
        }
    }

    fn shapes(&self) -> &Value {
        self.shapes
            .get_or_init(|| serde_json::from_str(self.source).expect("request shapes are JSON"))
    }

    /// The operations the model holds.
    #[cfg(test)]
    pub fn operations(&self) -> Vec<&str> {
        self.shapes()
            .as_object()
            .map(|ops| ops.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// The top-level input members of an operation, as the model defines them.
    #[cfg(test)]
    pub fn members(&self, operation: &str) -> Vec<&str> {
        self.shapes()[operation]["members"]
            .as_object()
            .map(|members| members.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Whether a dotted member path exists in an operation's shape (lists walked through).
    #[cfg(test)]
    pub fn defines(&self, operation: &str, path: &str) -> bool {
        let mut shape = &self.shapes()[operation];
        for name in path.split('.') {
            while shape["type"] == "list" {
                shape = &shape["member"];
            }
            shape = &shape["members"][name];
            if shape.is_null() {
                return false;
            }
        }
        true
    }

    /// Checks a request; the message of a refusal is the service's ValidationException
    /// text. An operation the model does not hold is left to its handler.
    pub fn check(&self, operation: &str, request: &Value) -> Result<(), String> {
        let Some(shape) = self.shapes().get(operation) else {
            return Ok(());
        };
        if let Some(members) = request.as_object() {
            let honoured = self
                .honoured
                .iter()
                .find(|(op, _)| *op == operation)
                .map_or(&[][..], |(_, members)| *members);
            for (member, value) in members {
                let defined = shape["members"].get(member).is_some();
                if defined && !honoured.contains(&member.as_str()) && !vacant(value) {
                    return Err(format!(
                        "{operation}: {member} is not supported by the emulator; leave it out"
                    ));
                }
            }
        }
        for (op, path) in self.unsupported {
            if *op == operation && path.contains('.') && present(request, path) {
                return Err(format!(
                    "{operation}: {path} is not supported by the emulator; leave it out"
                ));
            }
        }
        validate(shape, request, &lower_first(operation))
            .map_err(|problem| format!("1 validation error detected: {problem}"))
    }

    /// Holds the lists to the model: every operation is listed, every top-level member
    /// is honoured or refused (not both), every listed member exists. The unit tests of
    /// each service call it.
    #[cfg(test)]
    pub fn assert_complete(&self) {
        assert_eq!(
            self.operations().len(),
            self.honoured.len(),
            "every operation of the model, and no other, is in the honoured list"
        );
        for operation in self.operations() {
            let honoured = self
                .honoured
                .iter()
                .find(|(op, _)| *op == operation)
                .unwrap_or_else(|| panic!("{operation} is not in the honoured list"))
                .1;
            for member in self.members(operation) {
                let refused = self.unsupported.contains(&(operation, member));
                assert!(
                    honoured.contains(&member) != refused,
                    "{operation}.{member} must be honoured or refused, not both or neither"
                );
            }
            for member in honoured {
                assert!(
                    self.defines(operation, member),
                    "{operation}.{member} is not in the model"
                );
            }
        }
        for (operation, path) in self.unsupported {
            assert!(
                self.defines(operation, path),
                "{operation}.{path} is not in the model"
            );
        }
    }
}

/// Whether a request carries a value at a dotted path, walking through lists.
fn present(value: &Value, path: &str) -> bool {
    let (name, rest) = path.split_once('.').unwrap_or((path, ""));
    match value {
        Value::Array(items) => items.iter().any(|item| present(item, path)),
        Value::Object(members) => match members.get(name) {
            None => false,
            Some(inner) if rest.is_empty() => !vacant(inner),
            Some(inner) => present(inner, rest),
        },
        _ => false,
    }
}

/// A member that asks for nothing: null, or an empty list or structure, as SDKs send
/// an unset collection (`"Properties": []`). Refusing it would refuse no request.
fn vacant(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(members) => members.is_empty(),
        _ => false,
    }
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
                        "'{}' is not a member of this request in the service model; the emulator does not support it",
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
