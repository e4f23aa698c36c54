//! Follows an execution live: a line each time a step's status changes, then the
//! outputs and the execution's end.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::SystemTime;

use crate::pipeline::definition::Definition;
use crate::pipeline::{ExecutionRecord, Pipelines};

/// The widths of the name and type columns: wide enough for every step of the
/// definition (the SDK writes names such as `AbaloneRegister-RegisterModel`), so that
/// the columns line up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Columns {
    name: usize,
    step_type: usize,
}

impl Columns {
    /// The widths for `definition`'s steps, branch steps included.
    pub fn for_definition(definition: &Definition) -> Self {
        let widest = |width: fn(&crate::pipeline::definition::StepDef) -> usize, least| {
            definition.steps.iter().map(width).fold(least, usize::max)
        };
        Self {
            name: widest(|s| s.name.chars().count(), 22),
            step_type: widest(|s| s.kind.type_name().chars().count(), 10),
        }
    }
}

fn clock(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%H:%M:%S%.3f")
        .to_string()
}

fn metadata_summary(metadata: &serde_json::Value) -> String {
    let outputs = ["Callback", "Lambda"]
        .iter()
        .find_map(|k| metadata[k]["OutputParameters"].as_array())
        .map(|o| {
            o.iter()
                .map(|p| {
                    format!(
                        "{}={}",
                        p["Name"].as_str().unwrap_or_default(),
                        p["Value"].as_str().unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        });
    if let Some(outputs) = outputs.filter(|o| !o.is_empty()) {
        return outputs;
    }
    if let Some(outcome) = metadata["Condition"]["Outcome"].as_str() {
        return format!("Outcome={outcome}");
    }
    // A job step: its job's ARN (TrainingJob, ProcessingJob, RegisterModel, ...).
    if let Some(arn) = metadata
        .as_object()
        .and_then(|m| m.values().find_map(|v| v["Arn"].as_str()))
    {
        return arn.to_owned();
    }
    if let Some(step) = metadata["EMR"]["StepId"].as_str() {
        return format!(
            "{} {step}",
            metadata["EMR"]["ClusterId"].as_str().unwrap_or_default()
        );
    }
    String::new()
}

/// Prints every step status change of `arn` until the execution ends; answers it.
pub async fn follow(
    pipelines: &Pipelines,
    arn: &str,
    columns: Columns,
    out: &mut impl Write,
) -> ExecutionRecord {
    let mut changes = pipelines.subscribe();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let _ = writeln!(out, "execution {arn}");
    loop {
        // Read in place: only the lines of steps whose status changed are copied out.
        let lines = pipelines.read_execution(arn, |execution| {
            let mut lines = Vec::new();
            for step in &execution.steps {
                if seen.get(&step.name) == Some(&step.status) {
                    continue;
                }
                seen.insert(step.name.clone(), step.status.clone());
                let when = step
                    .ended
                    .filter(|_| step.status != "Executing")
                    .unwrap_or(step.started);
                let mut detail = match &step.failure_reason {
                    Some(reason) => reason.clone(),
                    None => metadata_summary(&step.metadata),
                };
                if let Some(note) = &step.code_run {
                    detail = format!("{detail} ({note})").trim_start().to_owned();
                }
                lines.push(format!(
                    "  {}  {:<name$} {:<step_type$} {:<10} {detail}",
                    clock(when),
                    step.name,
                    step.step_type,
                    step.status,
                    name = columns.name,
                    step_type = columns.step_type,
                ));
            }
            (lines, execution.is_done())
        });
        let Some((lines, done)) = lines else {
            unreachable!("the execution was started before it is followed")
        };
        // Reasons and outputs come from the pipeline's own code: shown, never obeyed.
        for line in lines {
            let _ = writeln!(out, "{}", crate::child::printable(&line));
        }
        if done {
            let Some(execution) = pipelines.execution(arn) else {
                unreachable!("the execution was started before it is followed")
            };
            let _ = writeln!(
                out,
                "execution {}{}",
                execution.status,
                execution
                    .failed_step
                    .as_ref()
                    .or(execution.failure_reason.as_ref())
                    .map(|r| format!(": {}", crate::child::printable(r)))
                    .unwrap_or_default()
            );
            return execution;
        }
        if changes.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_the_longest_name_and_type_of_every_branch() {
        let definition = Definition::parse(
            r#"{"Version": "2020-12-01", "Steps": [
                {"Name": "Gate", "Type": "Condition", "Arguments": {
                   "Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 1}],
                   "IfSteps": [{"Name": "AbaloneRegister-RegisterModel", "Type": "RegisterModel", "Arguments": {}}],
                   "ElseSteps": []}}]}"#,
        )
        .unwrap();
        assert_eq!(
            Columns::for_definition(&definition),
            Columns {
                name: 29,
                step_type: 13
            }
        );
        let short = Definition::parse(
            r#"{"Version": "2020-12-01", "Steps": [{"Name": "F", "Type": "Fail", "Arguments": {}}]}"#,
        )
        .unwrap();
        assert_eq!(
            Columns::for_definition(&short),
            Columns {
                name: 22,
                step_type: 10
            }
        );
    }
}
