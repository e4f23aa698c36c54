//! The mock file: how SageMaker's own job steps behave on the emulator, per step
//! name, as Step Functions Local mocks its service integrations.
//!
//! ```json
//! {"Steps": {
//!    "AbaloneEval":  {"PropertyFiles": {"EvaluationReport": {"regression_metrics": {"mse": {"value": 4.2}}}}},
//!    "AbaloneTrain": {"Properties": {"FinalMetricDataList": [{"MetricName": "rmse", "Value": 1.9}]}, "Seconds": 2},
//!    "AbaloneRegister-RegisterModel": {"Fail": "ValidationException: model package group abalone not found"}}}
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::pipeline::definition::{Definition, StepKind};

/// How one job step behaves.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StepMock {
    /// Merged into the synthesized Describe* answer.
    #[serde(rename = "Properties")]
    pub properties: Option<Value>,
    /// Property file name → its JSON document.
    #[serde(rename = "PropertyFiles", default)]
    pub property_files: BTreeMap<String, Value>,
    /// The step fails with this reason, before its code runs if it is to run it.
    #[serde(rename = "Fail")]
    pub fail: Option<String>,
    /// With `Fail`: only the first this many attempts fail, and the attempts after run
    /// as if there were no `Fail` (a transient fault, which a RetryPolicy retries).
    #[serde(rename = "FailAttempts")]
    pub fail_attempts: Option<u32>,
    /// How long the step runs.
    #[serde(rename = "Seconds")]
    pub seconds: Option<f64>,
    /// `"code"`: the step's own code runs (as with `--run-code`, for this step); `"mock"`:
    /// it stays on its mock even under `--run-code`.
    #[serde(rename = "Run")]
    pub run: Option<RunMode>,
}

/// Whether a job step runs its code or its mock.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum RunMode {
    #[serde(rename = "mock")]
    Mock,
    #[serde(rename = "code")]
    Code,
}

impl StepMock {
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds.unwrap_or(0.0))
    }

    /// The reason the `attempt`th attempt (from 1) fails with, if the mock fails it.
    pub fn failure_of_attempt(&self, attempt: u32) -> Option<&str> {
        let failing = self.fail_attempts.is_none_or(|n| attempt <= n);
        self.fail.as_deref().filter(|_| failing)
    }

    /// What of the mock a step that ran its own code did not use: the members that
    /// stand in for its run.
    pub fn unused_by_a_run(&self) -> Vec<&'static str> {
        [
            ("Properties", self.properties.is_some()),
            ("PropertyFiles", !self.property_files.is_empty()),
            ("Seconds", self.seconds.is_some()),
        ]
        .into_iter()
        .filter_map(|(member, given)| given.then_some(member))
        .collect()
    }
}

/// Every step's mock.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Mocks {
    #[serde(rename = "Steps", default)]
    /// Step name → its mock.
    pub steps: BTreeMap<String, StepMock>,
}

impl Mocks {
    /// Some step is to run its own code.
    pub fn runs_code(&self) -> bool {
        self.steps.values().any(|m| m.run == Some(RunMode::Code))
    }

    /// Reads a mock file; what is wrong with it is said with where.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mocks: Self = serde_json::from_str(text).map_err(|e| format!("the mock file: {e}"))?;
        for (step, mock) in &mocks.steps {
            if let Some(seconds) = mock.seconds {
                if !(0.0..=86_400.0).contains(&seconds) {
                    return Err(format!(
                        "the mock file: step '{step}': Seconds must be between 0 and 86400, not {seconds}"
                    ));
                }
            }
            if mock.fail_attempts.is_some() && mock.fail.is_none() {
                return Err(format!(
                    "the mock file: step '{step}': FailAttempts says how many attempts fail with Fail's reason, and it has no Fail"
                ));
            }
            if mock.fail_attempts == Some(0) {
                return Err(format!(
                    "the mock file: step '{step}': FailAttempts must be at least 1 (leave Fail out for a step that does not fail)"
                ));
            }
            let unused = mock.unused_by_a_run();
            if mock.run == Some(RunMode::Code) && !unused.is_empty() {
                return Err(format!(
                    "the mock file: step '{step}' runs its code (\"Run\": \"code\"), so its run gives what {} would; leave them out",
                    unused.join(", ")
                ));
            }
            if mock.properties.as_ref().is_some_and(|p| !p.is_object()) {
                return Err(format!(
                    "the mock file: step '{step}': Properties must be an object, merged into the step's Describe answer"
                ));
            }
        }
        Ok(mocks)
    }

    /// Checks the mocks against the definition they are run with: every step named is
    /// a job step of it, every property file named is one the step declares.
    pub fn check_against(&self, definition: &Definition) -> Result<(), String> {
        for (name, mock) in &self.steps {
            let Some(step) = definition.step(name) else {
                let jobs: Vec<&str> = definition
                    .steps
                    .iter()
                    .filter(|s| matches!(s.kind, StepKind::Job { .. }))
                    .map(|s| s.name.as_str())
                    .collect();
                return Err(format!(
                    "the mock file names step '{name}', which the pipeline does not have (its job steps: {})",
                    jobs.join(", ")
                ));
            };
            let StepKind::Job { property_files, .. } = &step.kind else {
                return Err(format!(
                    "the mock file names step '{name}', a {} step, which runs for real; mocks are for SageMaker's job steps",
                    step.kind.type_name()
                ));
            };
            for file in mock.property_files.keys() {
                if !property_files.iter().any(|p| &p.name == file) {
                    return Err(format!(
                        "the mock file gives property file '{file}' of step '{name}', which declares no property file by that name"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The mock of the step named `name`, if the file has one.
    pub fn step(&self, name: &str) -> Option<&StepMock> {
        self.steps.get(name)
    }
}

/// Merges `patch` into `target`: objects member by member, anything else replaced.
pub fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_mock_file_of_design_md() {
        let mocks = Mocks::parse(r#"{"Steps": {
            "AbaloneEval":  {"PropertyFiles": {"EvaluationReport": {"regression_metrics": {"mse": {"value": 4.2}}}}},
            "AbaloneTrain": {"Properties": {"FinalMetricDataList": [{"MetricName": "rmse", "Value": 1.9}]}, "Seconds": 2},
            "AbaloneRegister-RegisterModel": {"Fail": "ValidationException: model package group abalone not found"}}}"#)
        .unwrap();
        assert_eq!(
            mocks.step("AbaloneTrain").unwrap().duration(),
            Duration::from_secs(2)
        );
        assert!(mocks
            .step("AbaloneRegister-RegisterModel")
            .unwrap()
            .fail
            .is_some());
        assert_eq!(
            mocks.step("AbaloneEval").unwrap().property_files["EvaluationReport"]
                ["regression_metrics"]["mse"]["value"],
            json!(4.2)
        );
    }

    #[test]
    fn a_bad_mock_file_says_what_is_wrong() {
        for (text, expected) in [
            ("{", "the mock file: EOF"),
            (r#"{"Stepz": {}}"#, "unknown field `Stepz`"),
            (r#"{"Steps": {"A": {"Secs": 1}}}"#, "unknown field `Secs`"),
            (
                r#"{"Steps": {"A": {"Seconds": -1}}}"#,
                "Seconds must be between 0 and 86400",
            ),
            (
                r#"{"Steps": {"A": {"Properties": 3}}}"#,
                "Properties must be an object",
            ),
            (r#"{"Steps": {"A": {"FailAttempts": 1}}}"#, "it has no Fail"),
            (
                r#"{"Steps": {"A": {"Fail": "x", "FailAttempts": 0}}}"#,
                "FailAttempts must be at least 1",
            ),
            (
                r#"{"Steps": {"A": {"Run": "code", "Seconds": 2}}}"#,
                "so its run gives what Seconds would",
            ),
        ] {
            let err = Mocks::parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn fail_attempts_bounds_the_attempts_that_fail() {
        let mocks = Mocks::parse(
            r#"{"Steps": {"T": {"Fail": "SageMaker.CAPACITY_ERROR: none", "FailAttempts": 2},
                          "U": {"Fail": "ValidationException: no"}}}"#,
        )
        .unwrap();
        let transient = mocks.step("T").unwrap();
        assert!(transient.failure_of_attempt(1).is_some());
        assert!(transient.failure_of_attempt(2).is_some());
        assert_eq!(transient.failure_of_attempt(3), None);
        assert!(mocks.step("U").unwrap().failure_of_attempt(9).is_some());
    }

    #[test]
    fn properties_merge_member_by_member() {
        let mut answer = json!({"ModelArtifacts": {"S3ModelArtifacts": "s3://a"}, "TrainingJobStatus": "Completed"});
        merge(
            &mut answer,
            &json!({"ModelArtifacts": {"Extra": 1}, "FinalMetricDataList": []}),
        );
        assert_eq!(
            answer,
            json!({"ModelArtifacts": {"S3ModelArtifacts": "s3://a", "Extra": 1},
                   "TrainingJobStatus": "Completed", "FinalMetricDataList": []})
        );
    }
}
