use serde_json::{Map, Value};

use super::StepError;
use crate::fields::{kind_of, FieldKind, Fields};

/// A Lambda step's inputs: one flat JSON object of primitives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepInputs(Map<String, Value>);

impl StepInputs {
    /// A Lambda step's event, which must be a flat JSON object of primitives.
    pub fn from_event(event: Value) -> Result<Self, StepError> {
        let Value::Object(values) = event else {
            return Err(StepError::InvalidInput(format!(
                "Lambda step inputs must be a JSON object, got {}",
                kind_of(&event)
            )));
        };
        if let Some((name, value)) = values.iter().find(|(_, v)| v.is_array() || v.is_object()) {
            return Err(StepError::InvalidInput(format!(
                "input '{name}' is {}; Lambda step inputs are flat: pass lists and maps as JSON strings",
                kind_of(value)
            )));
        }
        Ok(Self(values))
    }

    /// Typed getters whose errors name the input.
    pub fn fields(&self) -> Fields<'_> {
        Fields::new(&self.0, FieldKind::Input)
    }
}
