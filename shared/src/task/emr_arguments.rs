//! The arguments of task `emr`, flat as SageMaker sends them (lists and maps as JSON
//! strings), read into what to run and where.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::callback::CallbackMessage;
use crate::emr::{ClusterConfig, StepRequest};
use crate::fields::{FieldKind, Fields};
use crate::text::shorten;

pub const DEFAULT_JAR: &str = "command-runner.jar";
pub const ACTIONS_ON_FAILURE: [&str; 4] = [
    "CONTINUE",
    "CANCEL_AND_WAIT",
    "TERMINATE_CLUSTER",
    "TERMINATE_JOB_FLOW",
];

/// Where the step runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmrTarget {
    /// `cluster_id`: a running cluster.
    Cluster(String),
    /// `cluster_config`: a cluster created for this step, terminating after it.
    NewCluster(Box<ClusterConfig>),
}

/// The `emr` task's arguments, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmrArguments {
    /// Where the step runs: a cluster, or one created for it.
    pub target: EmrTarget,
    /// The step, named with the user's readable name (the token is added on submit).
    pub step: StepRequest,
}

impl EmrArguments {
    /// Reads the arguments of a message; the error names the argument.
    pub fn parse(message: &CallbackMessage) -> Result<Self, String> {
        let fields = Fields::new(&message.arguments, FieldKind::Argument);
        let target = match (fields.contains("cluster_id"), fields.contains("cluster_config")) {
            (true, true) | (false, false) => {
                return Err("set exactly one of argument 'cluster_id' (a running cluster) or 'cluster_config' (a cluster created for this step)".to_owned())
            }
            (true, false) => {
                let id = fields.required_str("cluster_id").map_err(|e| e.to_string())?;
                if !is_cluster_id(id) {
                    return Err(fields.error("cluster_id", format!("must look like j-XXXXXXXXXXXXX, got '{}'", shorten(id, 40))).to_string());
                }
                EmrTarget::Cluster(id.to_owned())
            }
            (false, true) => {
                let config: Value = fields
                    .json("cluster_config", "a JSON object (a RunJobFlow request)")
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default();
                EmrTarget::NewCluster(Box::new(
                    ClusterConfig::from_json(config).map_err(|why| fields.error("cluster_config", why).to_string())?,
                ))
            }
        };
        let args: Vec<String> = fields
            .json("args", "a JSON array of strings")
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                fields
                    .error(
                        "args",
                        "is required (a JSON array of strings: the step's command line)",
                    )
                    .to_string()
            })?;
        if args.is_empty() {
            return Err(fields.error("args", "must not be empty").to_string());
        }
        let properties: BTreeMap<String, Value> = fields
            .json("properties", "a JSON object")
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let properties = properties
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                Value::Number(_) | Value::Bool(_) => Ok((k, v.to_string())),
                _ => Err(fields
                    .error(
                        "properties",
                        format!("value of '{k}' must be a string, number or boolean"),
                    )
                    .to_string()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let action_on_failure = fields
            .optional_str("action_on_failure")
            .map_err(|e| e.to_string())?
            .unwrap_or("CONTINUE");
        if !ACTIONS_ON_FAILURE.contains(&action_on_failure) {
            return Err(fields
                .error(
                    "action_on_failure",
                    format!(
                        "must be one of {}, got '{}'",
                        ACTIONS_ON_FAILURE.join(", "),
                        shorten(action_on_failure, 40)
                    ),
                )
                .to_string());
        }
        let name = match fields
            .optional_str("step_name")
            .map_err(|e| e.to_string())?
        {
            Some(name) => name.to_owned(),
            None => format!("{} callback", message.execution_arn.pipeline_name),
        };
        Ok(Self {
            target,
            step: StepRequest {
                name,
                jar: fields
                    .optional_str("jar")
                    .map_err(|e| e.to_string())?
                    .unwrap_or(DEFAULT_JAR)
                    .to_owned(),
                args,
                main_class: fields
                    .optional_str("main_class")
                    .map_err(|e| e.to_string())?
                    .map(str::to_owned),
                properties,
                action_on_failure: action_on_failure.to_owned(),
            },
        })
    }
}

fn is_cluster_id(id: &str) -> bool {
    id.strip_prefix("j-").is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(arguments: Value) -> Result<EmrArguments, String> {
        let body = json!({"token": "26vcYbeWsZ",
            "pipelineExecutionArn": "arn:aws:sagemaker:us-east-1:012345678901:pipeline/train/execution/e1",
            "arguments": arguments});
        EmrArguments::parse(&CallbackMessage::parse(&body.to_string()).unwrap())
    }

    #[test]
    fn reads_a_step_on_a_running_cluster_with_defaults() {
        let args = parse(json!({"task": "emr", "cluster_id": "j-ABC123", "args": "[\"spark-submit\",\"job.py\"]"})).unwrap();
        assert_eq!(args.target, EmrTarget::Cluster("j-ABC123".into()));
        assert_eq!(args.step.args, ["spark-submit", "job.py"]);
        assert_eq!(args.step.jar, DEFAULT_JAR);
        assert_eq!(args.step.action_on_failure, "CONTINUE");
        assert_eq!(args.step.name, "train callback");
    }

    #[test]
    fn reads_every_optional_argument() {
        let args = parse(json!({"cluster_id": "j-ABC123", "args": "[\"a\"]", "jar": "s3://b/app.jar",
            "main_class": "org.Main", "properties": "{\"k\":\"v\",\"n\":3}", "action_on_failure": "CANCEL_AND_WAIT",
            "step_name": "nightly features"}))
        .unwrap();
        assert_eq!(args.step.jar, "s3://b/app.jar");
        assert_eq!(args.step.main_class.as_deref(), Some("org.Main"));
        assert_eq!(
            args.step.properties,
            [
                ("k".to_owned(), "v".to_owned()),
                ("n".to_owned(), "3".to_owned())
            ]
        );
        assert_eq!(args.step.name, "nightly features");
    }

    #[test]
    fn each_bad_argument_is_named() {
        for (arguments, expected) in [
            (
                json!({"args": "[\"a\"]"}),
                "exactly one of argument 'cluster_id'",
            ),
            (
                json!({"cluster_id": "j-1", "cluster_config": "{}", "args": "[\"a\"]"}),
                "exactly one",
            ),
            (
                json!({"cluster_id": "cluster-1", "args": "[\"a\"]"}),
                "argument 'cluster_id' must look like",
            ),
            (json!({"cluster_id": "j-1"}), "argument 'args' is required"),
            (
                json!({"cluster_id": "j-1", "args": "spark-submit"}),
                "argument 'args' must be a JSON array of strings",
            ),
            (
                json!({"cluster_id": "j-1", "args": "[]"}),
                "argument 'args' must not be empty",
            ),
            (
                json!({"cluster_id": "j-1", "args": "[\"a\"]", "properties": "[1]"}),
                "argument 'properties' must be a JSON object",
            ),
            (
                json!({"cluster_id": "j-1", "args": "[\"a\"]", "action_on_failure": "EXPLODE"}),
                "argument 'action_on_failure' must be one of",
            ),
            (
                json!({"cluster_config": "{\"Name\":\"x\"}", "args": "[\"a\"]"}),
                "argument 'cluster_config' must not set Name",
            ),
            (
                json!({"cluster_config": "{oops", "args": "[\"a\"]"}),
                "argument 'cluster_config' must be a JSON object",
            ),
        ] {
            let err = parse(arguments.clone()).unwrap_err();
            assert!(err.contains(expected), "{arguments}: {err}");
        }
    }
}
