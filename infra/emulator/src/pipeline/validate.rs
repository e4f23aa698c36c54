//! What CreatePipeline refuses, checked before anything runs: an unknown step,
//! parameter, output or property; a condition or function SageMaker does not know; a
//! cycle. Every refusal names the step and the reason.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::cleanup;
use super::definition::{Definition, StepDef, StepKind};
use super::for_each;
use super::jobs;
use super::references::{Reference, Segment};

/// The condition types and the members each takes, as the SDK writes them.
const CONDITIONS: [(&str, &[&str]); 8] = [
    ("Equals", &["LeftValue", "RightValue"]),
    ("GreaterThan", &["LeftValue", "RightValue"]),
    ("GreaterThanOrEqualTo", &["LeftValue", "RightValue"]),
    ("LessThan", &["LeftValue", "RightValue"]),
    ("LessThanOrEqualTo", &["LeftValue", "RightValue"]),
    ("In", &["QueryValue", "Values"]),
    ("Not", &["Condition"]),
    ("Or", &["Conditions"]),
];

/// The top-level members of EMR's DescribeStep `Step`, which an EMR step's
/// properties are (the SDK's `EMRStep.properties`, shape `Step` of the EMR model).
const EMR_STEP_PROPERTIES: [&str; 8] = [
    "Id",
    "Name",
    "Config",
    "ActionOnFailure",
    "Status",
    "ExecutionRoleArn",
    "LogUri",
    "EncryptionKeyArn",
];

/// The members a check step has beside those every step has, as the SDK writes them.
const CHECK_FIELDS: [&str; 8] = [
    "CheckType",
    "ModelPackageGroupName",
    "SkipCheck",
    "RegisterNewBaseline",
    "FailOnViolation",
    "SuppliedBaselineConstraints",
    "SuppliedBaselineStatistics",
    "ModelName",
];

/// A step member the stack does not read is refused, not ignored. The step types the
/// stack knows take only their own members; a job step type it has no model of (one a
/// newer SDK added) runs on its mock, whatever it holds.
fn check_fields(step: &StepDef) -> Result<(), String> {
    let allowed: &[&str] = match step.kind.type_name() {
        "ClarifyCheck" | "QualityCheck" => &CHECK_FIELDS,
        "Callback" | "Lambda" | "EMR" | "Condition" | "Fail" | "ForEach" | "Cleanup" => &[],
        known if jobs::shapes::tree(known).is_some() => &[],
        _ => return Ok(()),
    };
    let fields = step.fields.as_object().into_iter().flatten();
    match fields
        .map(|(key, _)| key)
        .find(|key| !allowed.contains(&key.as_str()))
    {
        Some(unknown) => Err(format!(
            "{} step '{}' has a member '{unknown}' that the emulator does not support",
            step.kind.type_name(),
            step.name
        )),
        None => Ok(()),
    }
}

impl Definition {
    /// Reads and checks a definition; every problem is named.
    pub fn parse(text: &str) -> Result<Self, String> {
        let definition = Self::read(text)?;
        check(&definition)?;
        Ok(definition)
    }
}

pub fn check(definition: &Definition) -> Result<(), String> {
    let mut names = BTreeSet::new();
    for step in &definition.steps {
        if !names.insert(step.name.as_str()) {
            return Err(format!("step '{}' is defined twice", step.name));
        }
    }
    check_parameters(definition)?;
    for_each::check(definition)?;
    for step in &definition.steps {
        if let StepKind::ForEach(for_each) = &step.kind {
            for body in &for_each.body {
                check_body_step(definition, for_each, body)
                    .map_err(|e| format!("ForEach step '{}': {e}", step.name))?;
            }
        }
        check_fields(step)?;
        check_depends_on(definition, step)?;
        if let StepKind::Cleanup = step.kind {
            cleanup::check(definition, step)?;
        }
        if step.kind.type_name() == "Lineage" {
            jobs::check_lineage(&step.name, &step.arguments)?;
        }
        for reference in step.references()? {
            check_reference(definition, step, &reference)?;
        }
        check_functions(&step.arguments)
            .and_then(|()| check_functions(&step.fields))
            .map_err(|e| format!("step '{}': {e}", step.name))?;
        if let StepKind::Condition { conditions, .. } = &step.kind {
            for condition in conditions {
                check_condition(condition)
                    .map_err(|e| format!("Condition step '{}': {e}", step.name))?;
                check_functions(condition)
                    .map_err(|e| format!("Condition step '{}': {e}", step.name))?;
            }
        }
    }
    check_acyclic(definition)
}

fn check_parameters(definition: &Definition) -> Result<(), String> {
    let mut names = BTreeSet::new();
    for parameter in &definition.parameters {
        if !names.insert(&parameter.name) {
            return Err(format!("parameter '{}' is declared twice", parameter.name));
        }
        if let (Some(allowed), Some(default)) = (&parameter.enum_values, &parameter.default) {
            if !allowed.contains(default) {
                return Err(format!(
                    "parameter '{}': DefaultValue {default} is not one of its EnumValues {}",
                    parameter.name,
                    Value::Array(allowed.clone())
                ));
            }
        }
    }
    Ok(())
}

fn check_depends_on(definition: &Definition, step: &StepDef) -> Result<(), String> {
    for dependency in &step.depends_on {
        let Some(target) = definition.step(dependency) else {
            return Err(format!(
                "step '{}' depends on '{dependency}', which is not a step of this pipeline",
                step.name
            ));
        };
        if matches!(target.kind, StepKind::Fail) {
            // SageMaker's own words first (the SDK's integration tests assert them).
            return Err(format!(
                "{} can not depends on {dependency}: a Fail step cannot be depended upon",
                step.name
            ));
        }
    }
    Ok(())
}

fn check_reference(
    definition: &Definition,
    step: &StepDef,
    reference: &Reference,
) -> Result<(), String> {
    let name = &step.name;
    match reference {
        Reference::Parameter(parameter) if definition.parameter(parameter).is_none() => Err(format!(
            "step '{name}' uses parameter '{parameter}', which the pipeline does not declare"
        )),
        Reference::ExperimentConfig(member) if definition.experiment_config.is_none() => Err(format!(
            "step '{name}' reads PipelineExperimentConfig.{member}, but the definition has no PipelineExperimentConfig"
        )),
        Reference::Step { step: source, path } => {
            let Some(target) = definition.step(source) else {
                return Err(format!(
                    "step '{name}' uses a property of '{source}', which is not a step of this pipeline"
                ));
            };
            let kind = target.kind.type_name();
            let known = match &target.kind {
                StepKind::Lambda { outputs, .. } | StepKind::Callback { outputs, .. } => {
                    match path.output_name() {
                        Some(output) if outputs.iter().any(|o| o.name == output) => true,
                        Some(output) => {
                            return Err(format!(
                                "step '{name}' uses output '{output}' of step '{source}', which declares no output by that name"
                            ))
                        }
                        None => false,
                    }
                }
                StepKind::Condition { .. } => path.text == "Outcome",
                StepKind::Emr => EMR_STEP_PROPERTIES.contains(&path.root()),
                StepKind::Fail => false,
                StepKind::ForEach(for_each) => for_each::has_property(for_each, path),
                StepKind::Cleanup => false,
                StepKind::Job {
                    step_type,
                    property_files,
                } => match path.segments.as_slice() {
                    [Segment::Field(root), Segment::Field(file)] if root == "PropertyFiles" => {
                        if property_files.iter().any(|p| &p.name == file) {
                            true
                        } else {
                            return Err(format!(
                                "step '{name}' reads property file '{file}' of step '{source}', which declares no property file by that name"
                            ));
                        }
                    }
                    _ => jobs::has_property(step_type, path),
                },
            };
            if known {
                Ok(())
            } else {
                Err(format!(
                    "step '{name}' reads '{}' of {kind} step '{source}', which is not a property of a {kind} step ({})",
                    path.text,
                    properties_of(&target.kind)
                ))
            }
        }
        _ => Ok(()),
    }
}

fn properties_of(kind: &StepKind) -> String {
    match kind {
        StepKind::Lambda { .. } | StepKind::Callback { .. } => {
            "it has OutputParameters['<declared output>']".to_owned()
        }
        StepKind::Condition { .. } => "it has Outcome".to_owned(),
        StepKind::Emr => format!("it has {}", EMR_STEP_PROPERTIES.join(", ")),
        StepKind::Fail => "it has none".to_owned(),
        StepKind::Cleanup => "it has none: what it deleted is in its Metadata".to_owned(),
        StepKind::ForEach(_) => format!(
            "it has {}, IterationOutputs[<index>].<bodyStep>.<member> and, with a Selector, Selected.<member>",
            for_each::AGGREGATES.join(", ")
        ),
        StepKind::Job { step_type, .. } => jobs::property_roots(step_type),
    }
}

/// A condition's type and members, recursively through Not and Or.
fn check_condition(condition: &Value) -> Result<(), String> {
    let kind = condition["Type"].as_str().unwrap_or_default();
    let Some((_, members)) = CONDITIONS.iter().find(|(name, _)| *name == kind) else {
        let known: Vec<&str> = CONDITIONS.iter().map(|(name, _)| *name).collect();
        return Err(format!(
            "condition type '{kind}' is not one SageMaker knows ({})",
            known.join(", ")
        ));
    };
    let map = condition
        .as_object()
        .ok_or("a condition is not an object")?;
    for key in map.keys() {
        if key != "Type" && !members.contains(&key.as_str()) {
            return Err(format!(
                "cannot parse a {kind} condition: unknown property '{key}' (it takes {})",
                members.join(", ")
            ));
        }
    }
    for member in *members {
        if !map.contains_key(*member) {
            return Err(format!("a {kind} condition has no {member}"));
        }
    }
    match kind {
        "Not" => check_condition(&condition["Condition"]),
        "Or" => condition["Conditions"]
            .as_array()
            .ok_or("an Or condition's Conditions is not a list")?
            .iter()
            .try_for_each(check_condition),
        "In" if !condition["Values"].is_array() => {
            Err("an In condition's Values is not a list".into())
        }
        _ => Ok(()),
    }
}

/// `Std:` functions: only Join and JsonGet exist, each with its members.
fn check_functions(value: &Value) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match key.as_str() {
                    "Std:Join" if !inner["Values"].is_array() => {
                        return Err("Std:Join takes On and a Values list".into());
                    }
                    "Std:JsonGet" if !inner["Path"].is_string() => {
                        return Err("Std:JsonGet takes a Path string".into());
                    }
                    "Std:JsonGet"
                        if inner.get("PropertyFile").is_some() == inner.get("S3Uri").is_some() =>
                    {
                        return Err(
                            "Std:JsonGet takes exactly one of PropertyFile and S3Uri".into()
                        );
                    }
                    "Std:Join" | "Std:JsonGet" => {}
                    other if other.starts_with("Std:") => {
                        return Err(format!(
                            "'{other}' is not a function SageMaker knows (Std:Join, Std:JsonGet)"
                        ))
                    }
                    _ => {}
                }
                check_functions(inner)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(check_functions),
        _ => Ok(()),
    }
}

fn check_acyclic(definition: &Definition) -> Result<(), String> {
    let edges: BTreeMap<&str, Vec<String>> = definition
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.prerequisites().into_iter().collect()))
        .collect();
    // Depth-first search with a stack of its own (a chain of thousands of steps is a
    // path as deep), keeping the path so that a cycle can be shown.
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in edges.keys() {
        if done.contains(start) {
            continue;
        }
        let mut path: Vec<(&str, usize)> = vec![(start, 0)];
        let mut on_path: BTreeSet<&str> = BTreeSet::from([*start]);
        while let Some((node, next)) = path.last_mut() {
            let Some(target) = edges[*node].get(*next) else {
                on_path.remove(*node);
                done.insert(*node);
                path.pop();
                continue;
            };
            *next += 1;
            let Some((target, _)) = edges.get_key_value(target.as_str()) else {
                continue;
            };
            if on_path.contains(target) {
                let from = path.iter().position(|(n, _)| n == target).unwrap_or(0);
                let mut cycle: Vec<&str> = path[from..].iter().map(|(n, _)| *n).collect();
                cycle.push(target);
                return Err(format!("the steps {} form a cycle", cycle.join(" → ")));
            }
            if !done.contains(target) {
                on_path.insert(target);
                path.push((target, 0));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;

/// A ForEach body step: its members and functions as any step's, its DependsOn naming
/// steps of the body or of the pipeline.
fn check_body_step(
    definition: &Definition,
    for_each: &for_each::ForEachDef,
    step: &StepDef,
) -> Result<(), String> {
    check_fields(step)?;
    check_functions(&step.arguments)
        .and_then(|()| check_functions(&step.fields))
        .map_err(|e| format!("step '{}': {e}", step.name))?;
    for dependency in &step.depends_on {
        if for_each.body_step(dependency).is_none() && definition.step(dependency).is_none() {
            return Err(format!(
                "body step '{}' depends on '{dependency}', which is neither a body step nor a step of this pipeline",
                step.name
            ));
        }
    }
    Ok(())
}
