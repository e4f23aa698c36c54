//! Values of a running execution: `Get` references, `Std:Join`, and conditions.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::definition::Reference;

/// What references resolve against.
#[derive(Clone, Debug, Default)]
pub struct Context {
    pub parameters: BTreeMap<String, Value>,
    /// Step name → output name → typed value.
    pub outputs: BTreeMap<String, BTreeMap<String, Value>>,
    pub execution: BTreeMap<String, Value>,
}

impl Context {
    fn get(&self, path: &str) -> Result<Value, String> {
        match Reference::parse(path)? {
            Reference::Parameter(name) => {
                self.parameters.get(&name).cloned().ok_or_else(|| format!("parameter '{name}' has no value"))
            }
            Reference::StepOutput { step, output } => self
                .outputs
                .get(&step)
                .and_then(|o| o.get(&output))
                .cloned()
                .ok_or_else(|| format!("step '{step}' produced no output '{output}'")),
            Reference::Execution(variable) => self
                .execution
                .get(&variable)
                .cloned()
                .ok_or_else(|| format!("execution variable '{variable}' is not known locally")),
            Reference::StepProperty { step, path } => Err(format!(
                "property '{path}' of step '{step}' is not resolved by the local stack; use OutputParameters"
            )),
        }
    }

    /// Resolves every reference and function inside a value.
    pub fn evaluate(&self, value: &Value) -> Result<Value, String> {
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

    /// Evaluates one condition of a Condition step.
    pub fn holds(&self, condition: &Value) -> Result<bool, String> {
        let kind = condition["Type"].as_str().unwrap_or_default();
        let side = |key: &str| self.evaluate(&condition[key]);
        match kind {
            "Equals" => Ok(equal(&side("LeftValue")?, &side("RightValue")?)),
            "GreaterThan" | "GreaterThanOrEqualTo" | "LessThan" | "LessThanOrEqualTo" => {
                let (left, right) = (side("LeftValue")?, side("RightValue")?);
                let ordering = compare(&left, &right)
                    .ok_or_else(|| format!("{kind} cannot compare {left} with {right}"))?;
                Ok(match kind {
                    "GreaterThan" => ordering.is_gt(),
                    "GreaterThanOrEqualTo" => ordering.is_ge(),
                    "LessThan" => ordering.is_lt(),
                    _ => ordering.is_le(),
                })
            }
            "In" => {
                let query = side("QueryValue")?;
                let values = condition["Values"].as_array().ok_or("In takes Values")?;
                for candidate in values {
                    if equal(&query, &self.evaluate(candidate)?) {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            "Not" => Ok(!self.holds(&condition["Expression"])?),
            "Or" => {
                for inner in condition["Conditions"]
                    .as_array()
                    .ok_or("Or takes Conditions")?
                {
                    if self.holds(inner)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            other => Err(format!(
                "condition type '{other}' is not supported by the local stack"
            )),
        }
    }
}

pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(_), _) | (_, Value::Number(_)) => {
            number(left).is_some() && number(left) == number(right)
        }
        _ => left == right,
    }
}

fn compare(left: &Value, right: &Value) -> Option<std::cmp::Ordering> {
    match (number(left), number(right)) {
        (Some(l), Some(r)) => l.partial_cmp(&r),
        _ => match (left, right) {
            (Value::String(l), Value::String(r)) => Some(l.cmp(r)),
            _ => None,
        },
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

    fn context() -> Context {
        let mut c = Context::default();
        c.parameters.insert("Threshold".into(), json!(0.5));
        c.parameters.insert("Env".into(), json!("prod"));
        c.outputs.insert(
            "check".into(),
            BTreeMap::from([("Ready".into(), json!(false)), ("Pending".into(), json!(3))]),
        );
        c.execution
            .insert("PipelineExecutionId".into(), json!("abc123"));
        c
    }

    #[test]
    fn resolves_references_and_joins() {
        let c = context();
        let message = json!({"Std:Join": {"On": " ", "Values": ["cluster not ready in", {"Get": "Parameters.Env"},
            "pending:", {"Get": "Steps.check.OutputParameters['Pending']"}, {"Get": "Execution.PipelineExecutionId"}]}});
        assert_eq!(
            c.evaluate(&message).unwrap(),
            json!("cluster not ready in prod pending: 3 abc123")
        );
        assert!(c
            .evaluate(&json!({"Get": "Steps.check.OutputParameters['Nope']"}))
            .unwrap_err()
            .contains("produced no output 'Nope'"));
    }

    #[test]
    fn evaluates_every_condition_type() {
        let c = context();
        let cases = [
            (
                json!({"Type": "Equals", "LeftValue": {"Get": "Steps.check.OutputParameters['Ready']"}, "RightValue": false}),
                true,
            ),
            (
                json!({"Type": "GreaterThan", "LeftValue": {"Get": "Parameters.Threshold"}, "RightValue": 0.4}),
                true,
            ),
            (
                json!({"Type": "GreaterThanOrEqualTo", "LeftValue": 3, "RightValue": {"Get": "Steps.check.OutputParameters['Pending']"}}),
                true,
            ),
            (
                json!({"Type": "LessThan", "LeftValue": 3, "RightValue": 3}),
                false,
            ),
            (
                json!({"Type": "LessThanOrEqualTo", "LeftValue": 3, "RightValue": 3}),
                true,
            ),
            (
                json!({"Type": "In", "QueryValue": {"Get": "Parameters.Env"}, "Values": ["dev", "prod"]}),
                true,
            ),
            (
                json!({"Type": "Not", "Expression": {"Type": "Equals", "LeftValue": 1, "RightValue": 1}}),
                false,
            ),
            (
                json!({"Type": "Or", "Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 2},
                                                   {"Type": "Equals", "LeftValue": "a", "RightValue": "a"}]}),
                true,
            ),
        ];
        for (condition, expected) in cases {
            assert_eq!(c.holds(&condition).unwrap(), expected, "{condition}");
        }
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
