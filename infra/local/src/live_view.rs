//! Follows an execution live: a line each time a step's status changes, then the
//! outputs and the execution's end.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::SystemTime;

use crate::pipeline::{ExecutionRecord, Pipelines};

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
pub async fn follow(pipelines: &Pipelines, arn: &str, out: &mut impl Write) -> ExecutionRecord {
    let mut changes = pipelines.subscribe();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let _ = writeln!(out, "execution {arn}");
    loop {
        let Some(execution) = pipelines.execution(arn) else {
            unreachable!("the execution was started before it is followed")
        };
        for step in &execution.steps {
            if seen.get(&step.name) == Some(&step.status) {
                continue;
            }
            seen.insert(step.name.clone(), step.status.clone());
            let when = step
                .ended
                .filter(|_| step.status != "Executing")
                .unwrap_or(step.started);
            let detail = match &step.failure_reason {
                Some(reason) => reason.clone(),
                None => metadata_summary(&step.metadata),
            };
            let _ = writeln!(
                out,
                "  {}  {:<22} {:<10} {:<10} {detail}",
                clock(when),
                step.name,
                step.step_type,
                step.status
            );
        }
        if execution.is_done() {
            let _ = writeln!(
                out,
                "execution {}{}",
                execution.status,
                execution
                    .failure_reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
            return execution;
        }
        if changes.changed().await.is_err() {
            return execution;
        }
    }
}
