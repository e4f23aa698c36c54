//! Where a step's log is: a job's output (its own code) and an EMR step's stdout in the
//! stack's folder, a Lambda step's function's log from the function itself.

use std::path::Path;

use super::html::tail;
use crate::pipeline::jobs::describe::name_member;
use crate::pipeline::{StepRecord, StepRunner};

/// The end of a step's log, if it wrote one.
pub fn of(work: &Path, runner: Option<&dyn StepRunner>, step: &StepRecord) -> Option<String> {
    if let Some(arn) = step.metadata["Lambda"]["Arn"].as_str() {
        let lines = runner?.function_log(arn)?;
        let from = lines.len().saturating_sub(super::html::LOG_LINES);
        return Some(lines[from..].join("\n")).filter(|l| !l.is_empty());
    }
    if let (Some(cluster), Some(id)) = (
        step.metadata["EMR"]["ClusterId"].as_str(),
        step.metadata["EMR"]["StepId"].as_str(),
    ) {
        return tail(
            &work
                .join("emr-logs")
                .join(cluster)
                .join("steps")
                .join(id)
                .join("stdout"),
        );
    }
    let job = step.job.as_ref()?;
    let name = job[name_member(&step.step_type)?].as_str()?;
    // The job's folder is `<job name>-<n>`; the newest holds the last attempt.
    let mut folders: Vec<_> = std::fs::read_dir(work.join("jobs"))
        .ok()?
        .flatten()
        .filter(|f| {
            f.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(name)?.strip_prefix('-'))
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|f| Some((f.metadata().ok()?.modified().ok()?, f.path())))
        .collect();
    folders.sort();
    tail(&folders.last()?.1.join("output.log"))
}
