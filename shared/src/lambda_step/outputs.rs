use serde_json::{Map, Value};

use super::StepError;
use crate::fields::kind_of;

/// A Lambda step's outputs: one flat JSON object of primitives. SageMaker reads the
/// declared outputs from it by key.
///
/// ```
/// use sagemaker_custom_steps::lambda_step::StepOutputs;
/// use serde_json::json;
///
/// let outputs = StepOutputs::new().with("Ready", true).with("PendingSteps", 3);
/// assert_eq!(
///     outputs.into_json("emr-preflight").unwrap(),
///     json!({"Ready": true, "PendingSteps": 3})
/// );
/// // SageMaker reads primitives only: a nested value fails the step, naming it.
/// let nested = StepOutputs::new().with("Steps", json!(["s-1"])).into_json("emr-preflight");
/// assert!(nested.unwrap_err().to_string().contains("'Steps' as an array"));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepOutputs(Map<String, Value>);

impl StepOutputs {
    /// No outputs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an output (builder style).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.0.insert(name.into(), value.into());
        self
    }

    /// Adds an output.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.0.insert(name.into(), value.into());
    }

    /// The JSON the function returns, checked flat.
    pub fn into_json(self, function: &str) -> Result<Value, StepError> {
        if let Some((name, value)) = self
            .0
            .iter()
            .find(|(_, v)| v.is_array() || v.is_object() || v.is_null())
        {
            return Err(StepError::Failed(format!(
                "function {function} produced output '{name}' as {}; outputs must be strings, numbers or booleans",
                kind_of(value)
            )));
        }
        Ok(Value::Object(self.0))
    }
}
