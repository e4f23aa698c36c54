//! Handler settings, read once from the environment at start-up. A bad value stops
//! the handler at init with a message naming the variable, rather than misbehaving.

use std::env;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("setting {name}: {problem}")]
pub struct SettingError {
    pub name: &'static str,
    pub problem: String,
}

/// An optional, non-empty text setting.
pub fn optional_text(name: &'static str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn text_or(name: &'static str, default: &str) -> String {
    optional_text(name).unwrap_or_else(|| default.to_owned())
}

/// A whole number within `range`, or the default when unset.
pub fn number_or(
    name: &'static str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, SettingError> {
    let Some(raw) = optional_text(name) else {
        return Ok(default);
    };
    raw.trim()
        .parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| SettingError {
            name,
            problem: format!(
                "'{raw}' is not a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        })
}

/// The callback-queue handler's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackSettings {
    /// `DEFAULT_TASK`: the task for messages without a `task` argument.
    pub default_task: Option<String>,
    /// `EVENT_BUS_NAME`: where the `event` task publishes (default `default`).
    pub event_bus_name: String,
    /// `RECORD_CONCURRENCY`: records of one batch run at once (default 10).
    pub record_concurrency: usize,
}

impl CallbackSettings {
    pub fn from_env() -> Result<Self, SettingError> {
        Ok(Self {
            default_task: optional_text("DEFAULT_TASK"),
            event_bus_name: text_or("EVENT_BUS_NAME", "default"),
            record_concurrency: number_or("RECORD_CONCURRENCY", 10, 1..=100)?,
        })
    }
}

/// The lambda-step handler's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LambdaStepSettings {
    /// `LAMBDA_STEP_FUNCTION`: the function for inputs without a `function` input.
    pub default_function: Option<String>,
}

impl LambdaStepSettings {
    pub fn from_env() -> Self {
        Self {
            default_function: optional_text("LAMBDA_STEP_FUNCTION"),
        }
    }
}
