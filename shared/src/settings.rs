//! Handler settings, read once from the environment at start-up. A bad value stops
//! the handler at init with a message naming the variable, rather than misbehaving.

use std::env;
use std::time::Duration;

use crate::emr_status::ReconcileWindow;
use crate::task::EmrPolicy;

/// A setting that cannot be used, named, with what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("setting {name}: {problem}")]
pub struct SettingError {
    /// The environment variable.
    pub name: &'static str,
    /// What is wrong with its value.
    pub problem: String,
}

/// An optional, non-empty text setting.
pub fn optional_text(name: &'static str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A text setting, or `default` when it is unset or empty.
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

/// A boolean: `true`/`false` (also `1`/`0`, `yes`/`no`), or the default when unset.
pub fn flag_or(name: &'static str, default: bool) -> Result<bool, SettingError> {
    match optional_text(name)
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(SettingError {
            name,
            problem: format!("'{other}' is not true or false"),
        }),
    }
}

/// A comma-separated list; empty when unset.
pub fn list(name: &'static str) -> Vec<String> {
    optional_text(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
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
    /// `EMR_ALLOWED_CLUSTER_IDS` (comma-separated; empty: any) and
    /// `EMR_ALLOW_CREATE_CLUSTERS` (default false).
    pub emr_policy: EmrPolicy,
}

impl CallbackSettings {
    /// Reads the settings; a bad one is an error naming it.
    pub fn from_env() -> Result<Self, SettingError> {
        Ok(Self {
            default_task: optional_text("DEFAULT_TASK"),
            event_bus_name: text_or("EVENT_BUS_NAME", "default"),
            record_concurrency: number_or("RECORD_CONCURRENCY", 10, 1..=100)?,
            emr_policy: EmrPolicy {
                allowed_cluster_ids: list("EMR_ALLOWED_CLUSTER_IDS"),
                allow_create_clusters: flag_or("EMR_ALLOW_CREATE_CLUSTERS", false)?,
            },
        })
    }
}

/// The lambda-step handler's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LambdaStepSettings {
    /// `LAMBDA_STEP_FUNCTION`: the function for inputs without a `function` input.
    pub default_function: Option<String>,
    /// `EMR_EVENT_RULES`: the EventBridge rules (comma-separated) emr-preflight checks.
    pub emr_event_rules: Vec<String>,
}

impl LambdaStepSettings {
    /// Reads the settings.
    pub fn from_env() -> Self {
        Self {
            default_function: optional_text("LAMBDA_STEP_FUNCTION"),
            emr_event_rules: list("EMR_EVENT_RULES"),
        }
    }
}

/// The emr-events handler's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmrEventsSettings {
    /// `RECONCILE_WINDOW_MINUTES` (default 60) and `RECONCILE_CLUSTER_LOOKBACK_HOURS`
    /// (default 24).
    pub window: ReconcileWindow,
}

impl EmrEventsSettings {
    /// Reads the settings; a bad one is an error naming it.
    pub fn from_env() -> Result<Self, SettingError> {
        let minutes = number_or("RECONCILE_WINDOW_MINUTES", 60, 1..=7 * 24 * 60)?;
        let hours = number_or("RECONCILE_CLUSTER_LOOKBACK_HOURS", 24, 1..=14 * 24)?;
        Ok(Self {
            window: ReconcileWindow {
                ended_within: Duration::from_secs(minutes as u64 * 60),
                clusters_created_within: Duration::from_secs(hours as u64 * 3600),
            },
        })
    }
}
