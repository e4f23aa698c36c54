//! Where the time went: a row per step, a bar from its start to its end on the
//! execution's time axis, so steps that ran at the same time sit side by side.

use std::fmt::Write;
use std::time::{Duration, SystemTime};

use super::html::{duration, escape};
use crate::pipeline::ExecutionRecord;

/// The execution's steps as bars; `link` gives a step's panel.
pub fn html(execution: &ExecutionRecord, link: &dyn Fn(&str) -> String) -> String {
    let start = execution.created;
    let now = SystemTime::now();
    let end = execution
        .steps
        .iter()
        .map(|s| s.ended.unwrap_or(now))
        .chain(std::iter::once(if execution.is_done() {
            execution.modified
        } else {
            now
        }))
        .max()
        .unwrap_or(now);
    let span = end
        .duration_since(start)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
        .max(0.001);
    let at = |t: SystemTime| {
        t.duration_since(start)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64()
            / span
            * 100.0
    };
    let mut out = format!(
        "<div class=\"timeline\"><div class=\"axis\"><span>0s</span><span>{}</span></div>",
        duration(start, Some(end))
    );
    for step in &execution.steps {
        let left = at(step.started);
        let width = (at(step.ended.unwrap_or(now)) - left).max(0.4);
        let _ = write!(
            out,
            "<div class=\"row\"><a class=\"label\" href=\"{link}\">{name}</a><div class=\"track\"><a href=\"{link}\" class=\"bar {cls}\" style=\"left:{left:.2}%;width:{width:.2}%\" title=\"{name}: {took}\">{took}</a></div></div>",
            link = escape(&link(&step.name)),
            name = escape(&step.name),
            cls = escape(&step.status.to_lowercase()),
            took = duration(step.started, step.ended),
        );
    }
    out.push_str("</div>");
    out
}
