//! The conditions of a Condition step, as SageMaker evaluates them.

use serde_json::Value;

use super::expressions::{Context, EvalError};

impl Context {
    /// Evaluates one condition of a Condition step.
    pub fn holds(&self, condition: &Value) -> Result<bool, EvalError> {
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
            // The SDK writes `{"Type": "Not", "Condition": {...}}`.
            "Not" => Ok(!self.holds(&condition["Condition"])?),
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
            other => Err(EvalError::Failed(format!(
                "condition type '{other}' is not one SageMaker knows"
            ))),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context() -> Context {
        let mut c = Context::default();
        c.parameters.insert("Threshold".into(), json!(0.5));
        c.parameters.insert("Env".into(), json!("prod"));
        c.properties.insert(
            "check".into(),
            json!({"OutputParameters": {"Ready": false, "Pending": 3}}),
        );
        c
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
                json!({"Type": "Not", "Condition": {"Type": "Equals", "LeftValue": 1, "RightValue": 1}}),
                false,
            ),
            (
                json!({"Type": "Not", "Condition": {"Type": "Equals", "LeftValue": 1, "RightValue": 2}}),
                true,
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
}
