//! SageMaker's own job steps (Processing, Training, Tuning, AutoML, Model, RegisterModel,
//! Transform, ClarifyCheck, QualityCheck, EMRServerless, and whatever a newer SDK
//! writes), all in this folder: the step (`step`), its mocks, one plan per kind of job
//! whose code runs (`plan/`), Tuning's rounds, and the settings they run with. A job
//! step runs its code in `crate::code_jobs`' sandbox, or its mock, and answers its
//! Describe* call either way.

pub mod describe;
pub mod mocks;
pub mod plan;
pub mod searches;
pub mod settings;
pub mod shapes;
mod step;
pub mod tuned;
mod tuning_run;

use describe::fnv;

use super::references::PropertyPath;

/// The properties of the check steps, as the SDK declares them (no Describe call).
const CHECK_PROPERTIES: [&str; 4] = [
    "CalculatedBaselineConstraints",
    "CalculatedBaselineStatistics",
    "BaselineUsedForDriftCheckStatistics",
    "BaselineUsedForDriftCheckConstraints",
];

/// The exception types a mocked failure may start with (`"SageMaker.CAPACITY_ERROR: ..."`),
/// which RetryPolicies match.
const FAULTS: [&str; 5] = [
    "SageMaker.JOB_INTERNAL_ERROR",
    "SageMaker.CAPACITY_ERROR",
    "SageMaker.RESOURCE_LIMIT",
    "Step.SERVICE_FAULT",
    "Step.THROTTLING",
];

/// The Describe call a step type's properties come from, for messages.
pub fn describe_call(step_type: &str) -> String {
    match step_type {
        "Processing" => "DescribeProcessingJob".into(),
        "Training" => "DescribeTrainingJob".into(),
        "Transform" => "DescribeTransformJob".into(),
        "Tuning" => "DescribeHyperParameterTuningJob".into(),
        "AutoML" => "DescribeAutoMLJob".into(),
        "Model" => "DescribeModel".into(),
        "RegisterModel" => "DescribeModelPackage".into(),
        "EMRServerless" => "EMR Serverless GetJobRun".into(),
        "ClarifyCheck" | "QualityCheck" => format!("the {step_type} step"),
        other => format!("Describe{other}"),
    }
}

/// Whether a property path exists on a job step type. A type the emulator has no
/// model of (one a newer SDK added) takes any path; its mock supplies the values.
pub fn has_property(step_type: &str, path: &PropertyPath) -> bool {
    match step_type {
        "ClarifyCheck" | "QualityCheck" => CHECK_PROPERTIES.contains(&path.text.as_str()),
        "AutoML" if path.root() == "BestCandidateProperties" => true,
        _ => shapes::tree(step_type).is_none_or(|tree| shapes::has_path(tree, path)),
    }
}

/// A Lineage step's associations name, by name and type, only entities the step itself
/// creates, as the service resolves them (an ARN names any entity).
pub fn check_lineage(step: &str, arguments: &serde_json::Value) -> Result<(), String> {
    let created = |name: &serde_json::Value, kind: &str| {
        arguments[format!("{kind}s")]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e[format!("{kind}Name")] == *name)
    };
    for association in arguments["Associations"].as_array().into_iter().flatten() {
        for role in ["Source", "Destination"] {
            let reference = &association[role];
            if reference.get("Arn").is_some() {
                continue;
            }
            let kind = reference["Type"].as_str().unwrap_or_default();
            if !["Action", "Artifact", "Context"].contains(&kind)
                || !created(&reference["Name"], kind)
            {
                return Err(format!(
                    "Lineage step '{step}': the {} of an association is {kind} {}, which this step does not create",
                    role.to_lowercase(),
                    reference["Name"]
                ));
            }
        }
    }
    Ok(())
}

/// What a job step type's properties are, for a refusal.
pub fn property_roots(step_type: &str) -> String {
    match (step_type, shapes::tree(step_type)) {
        ("ClarifyCheck" | "QualityCheck", _) => format!("it has {}", CHECK_PROPERTIES.join(", ")),
        (_, Some(serde_json::Value::Object(members))) => {
            let names: Vec<&str> = members.keys().map(String::as_str).collect();
            format!(
                "it has the members of {}'s answer: {}",
                describe_call(step_type),
                names.join(", ")
            )
        }
        _ => "its mock gives them".to_owned(),
    }
}

/// The exception type a mocked failure reason names, if it starts with one.
pub fn fault_of(reason: &str) -> Option<&'static str> {
    FAULTS
        .iter()
        .find(|f| reason.starts_with(*f) && reason[f.len()..].starts_with(':'))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mocked_failure_may_name_its_exception_type() {
        assert_eq!(
            fault_of("SageMaker.CAPACITY_ERROR: no ml.p4d capacity"),
            Some("SageMaker.CAPACITY_ERROR")
        );
        assert_eq!(fault_of("ValidationException: no such group"), None);
    }

    #[test]
    fn check_steps_and_newer_types_have_their_properties() {
        let path = |p: &str| PropertyPath::parse(p).unwrap();
        assert!(has_property(
            "QualityCheck",
            &path("CalculatedBaselineStatistics")
        ));
        assert!(!has_property("ClarifyCheck", &path("Status")));
        assert!(has_property("ForEach", &path("Anything.Goes")));
    }
}
