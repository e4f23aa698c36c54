//! `cluster_config`: the RunJobFlow request for a cluster created for one step, as a
//! JSON string, without Name and Steps (the task sets both). Only the fields below are
//! taken; any other field is refused by name rather than silently dropped.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A RunJobFlow request without Name and Steps: the `emr` task's `cluster_config` argument. Unknown fields are refused by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ClusterConfig {
    /// `ReleaseLabel`, e.g. `emr-7.5.0`.
    pub release_label: String,
    /// `LogUri`: where the cluster writes its logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_uri: Option<String>,
    /// `Applications`: Spark, Hadoop, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<Application>,
    /// `Instances`: instance types and counts, groups, subnet, key.
    pub instances: Instances,
    /// `ServiceRole`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_role: Option<String>,
    /// `JobFlowRole`: the instance profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_flow_role: Option<String>,
    /// `Configurations`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configurations: Vec<Configuration>,
    /// `BootstrapActions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bootstrap_actions: Vec<BootstrapAction>,
    /// `Tags`; the task adds its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// `VisibleToAllUsers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible_to_all_users: Option<bool>,
    /// `SecurityConfiguration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_configuration: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Application {
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Instances {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_instance_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slave_instance_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instance_groups: Vec<InstanceGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_subnet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_key_name: Option<String>,
    /// Always false: the cluster terminates after its step. Accepted only as false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_job_flow_alive_when_no_steps: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InstanceGroup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub instance_role: String,
    pub instance_type: String,
    pub instance_count: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Configuration {
    pub classification: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configurations: Vec<Configuration>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BootstrapAction {
    pub name: String,
    pub script_bootstrap_action: ScriptBootstrapAction,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ScriptBootstrapAction {
    pub path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl ClusterConfig {
    /// Reads the JSON object, refusing what the task must own or cannot honour.
    pub fn from_json(value: Value) -> Result<Self, String> {
        let Value::Object(map) = &value else {
            return Err("must be a JSON object (a RunJobFlow request)".to_owned());
        };
        for owned in ["Name", "Steps"] {
            if map.contains_key(owned) {
                return Err(format!(
                    "must not set {owned}: the task names the cluster and adds the step"
                ));
            }
        }
        let config: Self = serde_json::from_value(value)
            .map_err(|e| format!("is not a supported RunJobFlow request: {e}"))?;
        if config.instances.keep_job_flow_alive_when_no_steps == Some(true) {
            return Err(
                "must not keep the cluster alive: a created cluster terminates after its step"
                    .to_owned(),
            );
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_run_job_flow_request() {
        let config = ClusterConfig::from_json(json!({
            "ReleaseLabel": "emr-7.5.0",
            "LogUri": "s3://logs/emr/",
            "Applications": [{"Name": "Spark"}],
            "Instances": {"InstanceGroups": [
                {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1}
            ]},
            "ServiceRole": "EMR_DefaultRole",
            "JobFlowRole": "EMR_EC2_DefaultRole",
            "Configurations": [{"Classification": "spark", "Properties": {"maximizeResourceAllocation": "true"}}]
        }))
        .unwrap();
        assert_eq!(config.release_label, "emr-7.5.0");
        assert_eq!(
            config.instances.instance_groups[0].instance_type,
            "m5.xlarge"
        );
    }

    #[test]
    fn refuses_what_it_cannot_honour_by_name() {
        let base = || json!({"ReleaseLabel": "emr-7.5.0", "Instances": {}});
        let mut with_name = base();
        with_name["Name"] = json!("x");
        assert!(ClusterConfig::from_json(with_name)
            .unwrap_err()
            .contains("must not set Name"));
        let mut unknown = base();
        unknown["ManagedScalingPolicy"] = json!({});
        assert!(ClusterConfig::from_json(unknown)
            .unwrap_err()
            .contains("ManagedScalingPolicy"));
        let mut alive = base();
        alive["Instances"]["KeepJobFlowAliveWhenNoSteps"] = json!(true);
        assert!(ClusterConfig::from_json(alive)
            .unwrap_err()
            .contains("terminates after its step"));
        assert!(ClusterConfig::from_json(json!([1])).is_err());
    }
}
