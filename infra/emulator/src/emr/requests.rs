//! What the EMR endpoint does with each member of the requests it serves, checked
//! against EMR's service model (`requests.json`, written from botocore's `service-2.json`
//! by scripts/request-shapes) before a request is answered. The cluster's hardware is
//! not simulated: `Instances` and the volume and AMI settings are validated and repeated
//! by DescribeCluster where EMR repeats them; what would change how a step runs and
//! cannot here is refused by name.

use serde_json::Value;

use crate::aws_json::AwsError;
use crate::service_model::ServiceModel;

/// The request members each served operation honours, every one with a test.
pub const HONOURED: [(&str, &[&str]); 8] = [
    ("AddJobFlowSteps", &["JobFlowId", "Steps"]),
    (
        "CancelSteps",
        &["ClusterId", "StepCancellationOption", "StepIds"],
    ),
    ("DescribeCluster", &["ClusterId"]),
    ("DescribeStep", &["ClusterId", "StepId"]),
    (
        "ListClusters",
        &["ClusterStates", "CreatedAfter", "CreatedBefore", "Marker"],
    ),
    (
        "ListSteps",
        &["ClusterId", "Marker", "StepIds", "StepStates"],
    ),
    (
        "RunJobFlow",
        &[
            "Applications",
            "AutoScalingRole",
            "Configurations",
            "CustomAmiId",
            "EbsRootVolumeIops",
            "EbsRootVolumeSize",
            "EbsRootVolumeThroughput",
            "ExtendedSupport",
            "Instances",
            "JobFlowRole",
            "KerberosAttributes",
            "LogEncryptionKmsKeyId",
            "LogUri",
            "MonitoringConfiguration",
            "Name",
            "OSReleaseLabel",
            "PlacementGroupConfigs",
            "ReleaseLabel",
            "RepoUpgradeOnBoot",
            "ScaleDownBehavior",
            "SecurityConfiguration",
            "ServiceRole",
            "SessionEnabled",
            "StepConcurrencyLevel",
            "Steps",
            "Tags",
            "VisibleToAllUsers",
        ],
    ),
    ("TerminateJobFlows", &["JobFlowIds"]),
];

/// The request members the model defines that the local EMR refuses by name: it runs
/// no bootstrap actions, AMI-era products or scaling, and steps run as the stack's user
/// (no step roles), as local processes (no Java properties or main class).
pub const UNSUPPORTED: [(&str, &str); 15] = [
    ("RunJobFlow", "AdditionalInfo"),
    ("RunJobFlow", "AmiVersion"),
    ("RunJobFlow", "AutoTerminationPolicy"),
    ("RunJobFlow", "BootstrapActions"),
    ("RunJobFlow", "ManagedScalingPolicy"),
    ("RunJobFlow", "NewSupportedProducts"),
    ("RunJobFlow", "StepExecutionRoleArn"),
    ("RunJobFlow", "SupportedProducts"),
    ("RunJobFlow", "Steps.HadoopJarStep.MainClass"),
    ("RunJobFlow", "Steps.HadoopJarStep.Properties"),
    ("RunJobFlow", "Steps.StepMonitoringConfiguration"),
    ("AddJobFlowSteps", "ExecutionRoleArn"),
    ("AddJobFlowSteps", "Steps.HadoopJarStep.MainClass"),
    ("AddJobFlowSteps", "Steps.HadoopJarStep.Properties"),
    ("AddJobFlowSteps", "Steps.StepMonitoringConfiguration"),
];

/// EMR's request shapes with the lists above.
pub static MODEL: ServiceModel =
    ServiceModel::new(include_str!("requests.json"), &HONOURED, &UNSUPPORTED);

/// Checks a request as EMR does; an operation the model does not list is left to its
/// handler.
pub fn check(operation: &str, request: &Value) -> Result<(), AwsError> {
    MODEL
        .check(operation, request)
        .map_err(AwsError::validation)?;
    if let Some(level) = request["StepConcurrencyLevel"].as_i64().filter(|l| *l != 1) {
        return Err(AwsError::validation(format!(
            "{operation}: StepConcurrencyLevel {level} is not supported by the emulator, \
             which runs a cluster's steps one at a time; leave it out or give 1"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(operation: &str, request: Value) -> String {
        check(operation, &request).unwrap_err().message
    }

    fn step(jar_step: Value) -> Value {
        json!({"Name": "s", "ActionOnFailure": "CONTINUE", "HadoopJarStep": jar_step})
    }

    #[test]
    fn every_member_of_the_model_is_honoured_or_refused() {
        MODEL.assert_complete();
    }

    #[test]
    fn args_must_be_a_list_and_names_fit_the_model() {
        let message = refused(
            "AddJobFlowSteps",
            json!({"JobFlowId": "j-1", "Steps": [step(json!({"Jar": "command-runner.jar", "Args": "echo hi"}))]}),
        );
        assert!(
            message.contains("'addJobFlowSteps.steps.1.hadoopJarStep.args'"),
            "{message}"
        );
        let message = refused(
            "RunJobFlow",
            json!({"Name": "n".repeat(257), "Instances": {}}),
        );
        assert!(message.contains("less than or equal to 256"), "{message}");
        assert!(refused("RunJobFlow", json!({"Name": "n"})).contains("Member must not be null"));
        let message = refused(
            "AddJobFlowSteps",
            json!({"JobFlowId": "j-1", "Steps": [{"Name": "s", "ActionOnFailure": "EXPLODE",
                "HadoopJarStep": {"Jar": "command-runner.jar"}}]}),
        );
        assert!(message.contains("enum value set"), "{message}");
    }

    #[test]
    fn what_the_local_emr_cannot_do_is_refused_by_name() {
        let message = refused(
            "RunJobFlow",
            json!({"Name": "n", "Instances": {}, "BootstrapActions": [{"Name": "b",
                "ScriptBootstrapAction": {"Path": "s3://b/install.sh"}}]}),
        );
        assert!(
            message.contains("BootstrapActions is not supported by the emulator"),
            "{message}"
        );
        let message = refused(
            "AddJobFlowSteps",
            json!({"JobFlowId": "j-1", "Steps": [
                step(json!({"Jar": "command-runner.jar", "Args": ["true"]})),
                step(json!({"Jar": "s3://b/app.jar", "MainClass": "com.example.Main"})),
            ]}),
        );
        assert!(
            message.contains("Steps.HadoopJarStep.MainClass is not supported"),
            "{message}"
        );
        let message = refused(
            "RunJobFlow",
            json!({"Name": "n", "Instances": {}, "StepConcurrencyLevel": 4}),
        );
        assert!(message.contains("StepConcurrencyLevel 4"), "{message}");
        // What the SDKs send for an unset collection asks for nothing, and passes.
        assert!(check(
            "RunJobFlow",
            &json!({"Name": "n", "Instances": {}, "StepConcurrencyLevel": 1, "BootstrapActions": [],
                "Steps": [step(json!({"Jar": "command-runner.jar", "Args": ["true"], "Properties": []}))]})
        )
        .is_ok());
    }
}
