//! The view's HTML: the pipelines page, an execution's page (its graph, its timeline,
//! a panel per step) and the same execution as one self-contained report file. One
//! renderer for both, so a report shows what the page showed.

use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::{graph, timeline};
use crate::pipeline::definition::Definition;
use crate::pipeline::{ExecutionRecord, StepRecord};

/// The page's style, embedded: nothing is fetched when a page or a report opens.
const STYLE: &str = include_str!("view.css");
/// The live page's script: it reloads the execution's body while it runs, keeping the
/// panels that are open.
const SCRIPT: &str = include_str!("view.js");
/// The last lines of a step's log a panel shows.
pub(super) const LOG_LINES: usize = 40;

/// Text made safe inside HTML, attribute values included.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: the style, the body, and the live script when `live`.
pub fn page(title: &str, body: &str, live: bool) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>{body}{}</body></html>",
        escape(title),
        if live { format!("<script>{SCRIPT}</script>") } else { String::new() }
    )
}

/// One pipeline's row on the pipelines page.
pub struct PipelineRow {
    /// Its name.
    pub name: String,
    /// How many versions it has.
    pub versions: u64,
    /// Its executions, newest first.
    pub executions: Vec<ExecutionRecord>,
}

/// The pipelines page: each pipeline, its versions, its executions newest first.
pub fn pipelines(rows: &[PipelineRow]) -> String {
    let mut body = String::from("<header><h1>Pipelines</h1></header><main>");
    if rows.is_empty() {
        body.push_str("<p class=\"empty\">No pipeline yet: create one with the SageMaker API (the SDK's <code>pipeline.upsert()</code>).</p>");
    }
    for row in rows {
        let last = row.executions.first().map_or("none", |e| e.status.as_str());
        let _ = write!(
            body,
            "<section class=\"pipeline\" id=\"pipeline-{id}\"><h2><a href=\"/pipelines/{url}\">{name}</a></h2>\
             <p>{versions} version(s) · last execution: <span class=\"status {cls}\">{last}</span></p>{table}</section>",
            id = escape(&row.name),
            url = escape(&row.name),
            name = escape(&row.name),
            versions = row.versions,
            cls = escape(&last.to_lowercase()),
            last = escape(last),
            table = executions_table(&row.name, &row.executions),
        );
    }
    body.push_str("</main>");
    body
}

/// A pipeline's executions as a table, newest first.
pub fn executions_table(pipeline: &str, executions: &[ExecutionRecord]) -> String {
    let mut table = String::from(
        "<table class=\"executions\"><tr><th>execution</th><th>status</th><th>parameters</th><th>start</th><th>end</th><th>duration</th></tr>",
    );
    for e in executions {
        let id = execution_id(&e.arn);
        let ended = e.is_done().then_some(e.modified);
        let _ = write!(
            table,
            "<tr><td><a href=\"{}\">{}</a></td><td><span class=\"status {}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&execution_url(pipeline, id)),
            escape(&e.display_name),
            escape(&e.status.to_lowercase()),
            escape(&e.status),
            escape(&parameters_text(e)),
            time(Some(e.created)),
            time(ended),
            duration(e.created, ended)
        );
    }
    table.push_str("</table>");
    table
}

/// An execution's id, the last segment of its ARN.
pub fn execution_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The URL of an execution's page.
pub fn execution_url(pipeline: &str, id: &str) -> String {
    format!("/pipelines/{pipeline}/executions/{id}")
}

/// Where a step's panel is: in a report, its anchor; on the page, a URL of its own.
pub enum Links {
    /// The served page, under this execution URL.
    Served(String),
    /// A report file: anchors only.
    Report,
}

impl Links {
    fn step(&self, name: &str) -> String {
        match self {
            Self::Served(base) => format!("{base}/steps/{name}#step-{name}"),
            Self::Report => format!("#step-{name}"),
        }
    }
}

/// An execution's body: its header (status, parameters, times, and the actions when
/// served), its graph, its timeline and a panel per step. `logs` finds a step's log.
pub fn execution(
    execution: &ExecutionRecord,
    links: &Links,
    open_step: Option<&str>,
    logs: &dyn Fn(&StepRecord) -> Option<String>,
) -> String {
    let definition = Definition::parse(&execution.definition_text).ok();
    let ended = execution.is_done().then_some(execution.modified);
    let mut body = format!(
        "<header><p class=\"crumbs\">{crumbs}</p><h1>{name} <span class=\"status {cls}\" id=\"execution-status\">{status}</span></h1>\
         <p>{pipeline} · started {start} · {took}{reason}</p><p>parameters: {params}</p>{actions}</header><main>",
        crumbs = match links {
            Links::Served(_) => format!("<a href=\"/\">Pipelines</a> / <a href=\"/pipelines/{0}\">{0}</a>", escape(&execution.pipeline_name)),
            Links::Report => "pipelines-emulator report".to_owned(),
        },
        name = escape(&execution.display_name),
        cls = escape(&execution.status.to_lowercase()),
        status = escape(&execution.status),
        pipeline = escape(&execution.pipeline_name),
        start = time(Some(execution.created)),
        took = match ended {
            Some(_) => format!("took {}", duration(execution.created, ended)),
            None => format!("running for {}", duration(execution.created, None)),
        },
        reason = execution
            .failed_step
            .as_deref()
            .map(|r| format!(" · <span class=\"reason\">{}</span>", escape(r)))
            .unwrap_or_default(),
        params = escape(&parameters_text(execution)),
        actions = match links {
            Links::Served(base) => actions(base, execution),
            Links::Report => String::new(),
        },
    );
    if let Some(definition) = &definition {
        let link = |name: &str| links.step(name);
        let _ = write!(
            body,
            "<h2>Graph</h2><div class=\"graph-box\">{}</div>",
            graph::svg(definition, &execution.steps, &link)
        );
    }
    let _ = write!(
        body,
        "<h2>Timeline</h2>{}",
        timeline::html(execution, &|n| links.step(n))
    );
    body.push_str("<h2>Steps</h2>");
    for step in &execution.steps {
        body.push_str(&panel(
            step,
            open_step == Some(step.name.as_str()),
            logs(step),
        ));
    }
    body.push_str("</main>");
    body
}

/// The forms that start, stop, retry and rerun, through the same operations the SDK
/// calls; each posts to the served page.
fn actions(base: &str, execution: &ExecutionRecord) -> String {
    let mut out = String::from("<div class=\"actions\">");
    if execution.status == "Executing" {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"{}/stop\"><button id=\"stop\">Stop</button></form>",
            escape(base)
        );
    }
    if execution.status == "Failed" {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"{}/retry\"><button id=\"retry\">Retry</button></form>",
            escape(base)
        );
    }
    if execution.is_done() {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"{}/rerun\" id=\"rerun\"><label>Rerun selected steps <input name=\"steps\" placeholder=\"StepA,StepB\" required></label> <button>Rerun</button></form>",
            escape(base)
        );
    }
    out.push_str("</div>");
    out
}

/// A step's panel: what it is, how it ran, what it received and gave, why it failed,
/// and the end of its log.
fn panel(step: &StepRecord, open: bool, log: Option<String>) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("type", escape(&step.step_type)),
        (
            "status",
            format!(
                "<span class=\"status {}\">{}</span>",
                escape(&step.status.to_lowercase()),
                escape(&step.status)
            ),
        ),
        ("start", time(Some(step.started))),
        ("end", time(step.ended)),
        ("duration", duration(step.started, step.ended)),
        (
            "attempts",
            format!(
                "{} ({} retries)",
                step.attempts,
                step.attempts.saturating_sub(1)
            ),
        ),
    ];
    if let Some(source) = &step.cache_hit {
        rows.push((
            "cache hit",
            format!("reused the result of {}", escape(source)),
        ));
    }
    if let Some(source) = &step.selective_source {
        rows.push((
            "selective execution",
            format!("reused from {}", escape(source)),
        ));
    }
    if let Some(note) = &step.code_run {
        rows.push(("code", escape(note)));
    }
    if let Some(iteration) = &step.iteration {
        rows.push((
            "iteration",
            escape(&format!(
                "{} #{}: {}",
                iteration["ParentStepName"].as_str().unwrap_or_default(),
                iteration["Index"],
                iteration["Item"].as_str().unwrap_or_default()
            )),
        ));
    }
    if let Some(token) = step.metadata["Callback"]["CallbackToken"].as_str() {
        rows.push(("callback token", format!("<code>{}</code>", escape(token))));
    }
    if let Some(reason) = &step.failure_reason {
        rows.push((
            "failure reason",
            format!("<span class=\"reason\">{}</span>", escape(reason)),
        ));
    }
    let mut table = String::from("<table class=\"facts\">");
    for (key, value) in rows {
        let _ = write!(table, "<tr><th>{key}</th><td>{value}</td></tr>");
    }
    table.push_str("</table>");
    let json = |title: &str, value: Option<&Value>| {
        value
            .filter(|v| !v.is_null() && *v != &Value::Object(Default::default()))
            .map(|v| {
                format!(
                    "<h4>{title}</h4><pre>{}</pre>",
                    escape(&serde_json::to_string_pretty(v).unwrap_or_default())
                )
            })
            .unwrap_or_default()
    };
    format!(
        "<details class=\"panel\" id=\"step-{id}\"{open}><summary><span class=\"status {cls}\">{status}</span> {name} <small>{kind}</small></summary>{table}{inputs}{properties}{metadata}{log}</details>",
        id = escape(&step.name),
        open = if open { " open" } else { "" },
        cls = escape(&step.status.to_lowercase()),
        status = escape(&step.status),
        name = escape(&step.name),
        kind = escape(&step.step_type),
        inputs = json("arguments (references resolved)", step.inputs.as_ref())
            + &json("the message sent to its queue", step.message.as_ref()),
        properties = json("outputs and properties", step.properties.as_ref()),
        metadata = json("metadata", Some(&step.metadata)),
        log = log
            .map(|l| format!("<h4>log (last {LOG_LINES} lines)</h4><pre class=\"log\">{}</pre>", escape(&l)))
            .unwrap_or_default(),
    )
}

/// The last lines of a log file, if it exists.
pub fn tail(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    Some(lines[lines.len().saturating_sub(LOG_LINES)..].join("\n"))
}

fn parameters_text(execution: &ExecutionRecord) -> String {
    if execution.parameters.is_empty() {
        return "none".to_owned();
    }
    execution
        .parameters
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn time(at: Option<SystemTime>) -> String {
    at.map_or_else(
        || "—".to_owned(),
        |t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .format("%H:%M:%S%.3f")
                .to_string()
        },
    )
}

/// How long from `start` to `end` (or to now).
pub fn duration(start: SystemTime, end: Option<SystemTime>) -> String {
    let took = end
        .unwrap_or_else(SystemTime::now)
        .duration_since(start)
        .unwrap_or(Duration::ZERO);
    if took.as_secs() >= 60 {
        format!("{}m {:02}s", took.as_secs() / 60, took.as_secs() % 60)
    } else {
        format!("{:.1}s", took.as_secs_f64())
    }
}
