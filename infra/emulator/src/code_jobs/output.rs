//! A job's output: kept in its log as it comes (echoed beside the functions' logs on
//! request), and its last lines, or the job's own failure file, as its failure reason.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, BufReader};

use super::{CodeJob, Echo};
use crate::child::{printable, OutputStream};

/// Lines of a job's output that end its failure reason.
const TAIL_LINES: usize = 12;
/// SageMaker's FailureReason is at most 1,024 characters.
const MAX_REASON: usize = 1024;
/// Copies one of a job's output streams into its log, echoing each line as `[job] line`
/// when `echo` names the job and the sink. Bytes, not text: a job may print anything.
pub(super) async fn keep_output(
    stream: OutputStream,
    log: Arc<Mutex<std::fs::File>>,
    echo: Option<(String, Echo)>,
) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let _ = log.lock().unwrap().write_all(&line);
        if let Some((job, sink)) = &echo {
            let text = String::from_utf8_lossy(&line);
            sink(format!("[{job}] {}", printable(text.trim_end())));
        }
    }
}

/// A failed job's reason, as SageMaker gives it (`AlgorithmError: ...`): the job's own
/// `/opt/ml/output/failure` when it wrote one, else how it ended and its last lines. What
/// is cut to fit is the start, so the error a traceback ends with stays.
pub(super) fn failure(job: &CodeJob, root: &Path, log: &Path, how: &str) -> String {
    let written = std::fs::read_to_string(root.join("output/failure")).unwrap_or_default();
    let written = printable(&written);
    let (head, detail) = if written.trim().is_empty() {
        (
            format!(
                "AlgorithmError: {} {how}; its last lines: ",
                job.command.join(" ")
            ),
            tail(log),
        )
    } else {
        // A driver that tells the user's fault from its own says which it is.
        let written = written.trim();
        let head =
            if written.starts_with("ClientError: ") || written.starts_with("AlgorithmError: ") {
                ""
            } else {
                "AlgorithmError: "
            };
        (head.to_owned(), written.to_owned())
    };
    let room = MAX_REASON.saturating_sub(head.len() + 3);
    if detail.len() <= room {
        return head + &detail;
    }
    let mut cut = detail.len() - room;
    while !detail.is_char_boundary(cut) {
        cut += 1;
    }
    format!("{head}...{}", &detail[cut..])
}

/// The last lines of a job's log, joined by " | " (a reason is one line).
fn tail(log: &Path) -> String {
    let Ok(mut file) = std::fs::File::open(log) else {
        return "(no output)".into();
    };
    let length = file.metadata().map(|m| m.len()).unwrap_or_default();
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(8192)));
    let mut bytes = Vec::new();
    let _ = file.take(8192).read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let last = &lines[lines.len().saturating_sub(TAIL_LINES)..];
    if last.is_empty() {
        "(no output)".into()
    } else {
        printable(&last.join(" | ")).into_owned()
    }
}
