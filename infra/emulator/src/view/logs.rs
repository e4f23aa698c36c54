//! Where a step's log is in the stack's folder: a job's output (its own code), an EMR
//! step's stdout.

use std::path::Path;

use super::html::tail;
use crate::pipeline::jobs::describe::name_member;
use crate::pipeline::StepRecord;

/// The end of a step's log, if it wrote one.
pub fn of(work: &Path, step: &StepRecord) -> Option<String> {
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
