//! Seeing a run: the emulator's pipelines and executions in the browser (served by the
//! stack, live) and any execution as one self-contained HTML report, from one renderer.

mod graph;
mod html;
mod logs;
mod server;
mod timeline;

pub use server::ViewServer;

use crate::pipeline::{ExecutionRecord, StepRecord};

/// One execution as a single HTML file that opens from disk with no network: its graph,
/// its timeline and every step's panel, style embedded, no script.
pub fn report(execution: &ExecutionRecord, logs: &dyn Fn(&StepRecord) -> Option<String>) -> String {
    let body = html::execution(execution, &html::Links::Report, None, logs);
    html::page(
        &format!("{} — {}", execution.pipeline_name, execution.display_name),
        &body,
        false,
    )
}

/// The report of an execution of the stack whose folder is `work` and whose steps
/// `runner` ran.
pub fn report_in(
    work: &std::path::Path,
    runner: Option<&dyn crate::pipeline::StepRunner>,
    execution: &ExecutionRecord,
) -> String {
    report(execution, &|step| logs::of(work, runner, step))
}

/// GETs `path` of the view at `address` (`127.0.0.1:<port>`) with the stack's token:
/// the answer's status and body.
pub async fn fetch(address: &str, path: &str, token: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nCookie: {}={token}\r\nConnection: close\r\n\r\n",
        server::COOKIE
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    let body = answer.get(split + 4..).unwrap_or_default();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head.contains("transfer-encoding: chunked") {
        unchunk(body)
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// A chunked HTTP/1.1 body, joined.
fn unchunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let rest = &body[end + 2..];
        match size {
            Some(size) if size > 0 && rest.len() >= size => {
                out.extend_from_slice(&rest[..size]);
                body = rest[size..].strip_prefix(b"\r\n").unwrap_or(&rest[size..]);
            }
            _ => break,
        }
    }
    out
}
