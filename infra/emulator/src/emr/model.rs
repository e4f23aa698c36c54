//! Clusters and steps as the emulator keeps them, and their AWS JSON shapes.

use std::path::PathBuf;
use std::time::SystemTime;

use serde_json::{json, Value};

#[derive(Clone, Debug)]
pub struct StepRecord {
    pub id: String,
    pub name: String,
    pub cluster_id: String,
    pub state: String,
    pub jar: String,
    pub args: Vec<String>,
    pub action_on_failure: String,
    pub failure: Option<(String, String, String)>,
    pub created: SystemTime,
    pub started: Option<SystemTime>,
    pub ended: Option<SystemTime>,
    pub log_dir: PathBuf,
}

#[derive(Clone, Debug)]
pub struct ClusterRecord {
    pub id: String,
    pub name: String,
    pub state: String,
    pub reason: Option<(String, String)>,
    pub log_uri: Option<String>,
    pub keep_alive: bool,
    pub tags: Vec<(String, String)>,
    pub created: SystemTime,
    pub ended: Option<SystemTime>,
    /// The RunJobFlow request it was made from (Null for clusters the stack made), whose
    /// settings DescribeCluster repeats as EMR does.
    pub request: Value,
}

pub fn epoch(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

impl StepRecord {
    pub fn is_ended(&self) -> bool {
        matches!(
            self.state.as_str(),
            "COMPLETED" | "CANCELLED" | "FAILED" | "INTERRUPTED"
        )
    }

    pub fn to_json(&self) -> Value {
        let mut status = json!({
            "State": self.state,
            "StateChangeReason": {},
            "Timeline": {"CreationDateTime": epoch(self.created)},
        });
        if let Some(t) = self.started {
            status["Timeline"]["StartDateTime"] = json!(epoch(t));
        }
        if let Some(t) = self.ended {
            status["Timeline"]["EndDateTime"] = json!(epoch(t));
        }
        if let Some((reason, message, log_file)) = &self.failure {
            status["FailureDetails"] = json!({"Reason": reason, "Message": message});
            // A command that could not start has no log; EMR leaves the field out.
            if !log_file.is_empty() {
                status["FailureDetails"]["LogFile"] = json!(log_file);
            }
        }
        json!({
            "Id": self.id,
            "Name": self.name,
            "Config": {"Jar": self.jar, "Args": self.args, "Properties": {}},
            "ActionOnFailure": self.action_on_failure,
            "Status": status,
        })
    }
}

impl ClusterRecord {
    /// Whether RunJobFlow asked for termination protection: TerminateJobFlows then
    /// refuses it, as EMR does.
    pub fn termination_protected(&self) -> bool {
        self.request["Instances"]["TerminationProtected"]
            .as_bool()
            .unwrap_or(false)
    }

    pub fn is_terminated(&self) -> bool {
        self.state.starts_with("TERMINATED")
    }

    pub fn status_json(&self) -> Value {
        let mut status = json!({
            "State": self.state,
            "StateChangeReason": {},
            "Timeline": {"CreationDateTime": epoch(self.created)},
        });
        if let Some((code, message)) = &self.reason {
            status["StateChangeReason"] = json!({"Code": code, "Message": message});
        }
        if let Some(t) = self.ended {
            status["Timeline"]["EndDateTime"] = json!(epoch(t));
        }
        status
    }

    pub fn to_json(&self) -> Value {
        let mut cluster = json!({
            "Id": self.id,
            "Name": self.name,
            "Status": self.status_json(),
            "ClusterArn": format!("arn:aws:elasticmapreduce:us-east-1:123456789012:cluster/{}", self.id),
            "AutoTerminate": !self.keep_alive,
            "Tags": self.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
        });
        if let Some(uri) = &self.log_uri {
            cluster["LogUri"] = json!(uri);
        }
        self.repeat_request(&mut cluster);
        cluster
    }

    /// What DescribeCluster's `Cluster` repeats of the RunJobFlow request, under the
    /// names EMR gives them there.
    fn repeat_request(&self, cluster: &mut Value) {
        let request = &self.request;
        for member in [
            "ReleaseLabel",
            "Applications",
            "Configurations",
            "ServiceRole",
            "AutoScalingRole",
            "SecurityConfiguration",
            "ScaleDownBehavior",
            "CustomAmiId",
            "EbsRootVolumeSize",
            "StepConcurrencyLevel",
            "OSReleaseLabel",
            "VisibleToAllUsers",
            "KerberosAttributes",
            "RepoUpgradeOnBoot",
            "ExtendedSupport",
            "MonitoringConfiguration",
            "SessionEnabled",
            "EbsRootVolumeIops",
            "EbsRootVolumeThroughput",
            "LogEncryptionKmsKeyId",
        ] {
            if let Some(value) = request.get(member).filter(|v| !v.is_null()) {
                cluster[member] = value.clone();
            }
        }
        if let Some(groups) = request
            .get("PlacementGroupConfigs")
            .filter(|v| !v.is_null())
        {
            cluster["PlacementGroups"] = groups.clone();
        }
        let instances = &request["Instances"];
        if instances.is_object() {
            if let Some(replace) = instances
                .get("UnhealthyNodeReplacement")
                .filter(|v| !v.is_null())
            {
                cluster["UnhealthyNodeReplacement"] = replace.clone();
            }
            let mut ec2 = json!({});
            for (from, to) in [
                ("Ec2KeyName", "Ec2KeyName"),
                ("Ec2SubnetId", "Ec2SubnetId"),
                (
                    "EmrManagedMasterSecurityGroup",
                    "EmrManagedMasterSecurityGroup",
                ),
                (
                    "EmrManagedSlaveSecurityGroup",
                    "EmrManagedSlaveSecurityGroup",
                ),
                ("ServiceAccessSecurityGroup", "ServiceAccessSecurityGroup"),
            ] {
                if let Some(value) = instances.get(from).filter(|v| !v.is_null()) {
                    ec2[to] = value.clone();
                }
            }
            if let Some(profile) = request.get("JobFlowRole").filter(|v| !v.is_null()) {
                ec2["IamInstanceProfile"] = profile.clone();
            }
            cluster["Ec2InstanceAttributes"] = ec2;
            cluster["TerminationProtected"] =
                json!(instances["TerminationProtected"].as_bool().unwrap_or(false));
            cluster["InstanceCollectionType"] =
                json!(if instances.get("InstanceFleets").is_some() {
                    "INSTANCE_FLEET"
                } else {
                    "INSTANCE_GROUP"
                });
        }
    }

    pub fn summary_json(&self) -> Value {
        json!({"Id": self.id, "Name": self.name, "Status": self.status_json()})
    }
}
