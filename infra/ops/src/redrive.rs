//! `redrive`: moves the dead-letter queue's messages back to the queue. SQS's message
//! move task does it server-side where the endpoint offers it; elsewhere each message is
//! received, sent and deleted, with a journal of the ones sent but not yet deleted, so a
//! crash between the send and the delete neither loses nor doubles a message: the next
//! run deletes what the journal says was sent, without sending it again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

/// How long a message moved by hand stays invisible in the dead-letter queue.
pub const VISIBILITY: Duration = Duration::from_secs(120);

/// A message as it is moved: its string attributes go with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub body: String,
    pub receipt: String,
    pub attributes: BTreeMap<String, String>,
}

/// The queues, as redrive uses them.
#[async_trait]
pub trait RedriveQueues: Send + Sync {
    /// Moves every message with SQS's message move task and waits for it; `None` when
    /// the endpoint does not offer the task.
    async fn move_task(&self, dlq_arn: &str, queue_arn: &str) -> Result<Option<u64>, String>;
    async fn receive(&self, queue_url: &str) -> Result<Vec<Message>, String>;
    async fn send(&self, queue_url: &str, message: &Message) -> Result<(), String>;
    async fn delete(&self, queue_url: &str, receipt: &str) -> Result<(), String>;
}

/// The ids of messages sent to the queue whose copy in the dead-letter queue is not
/// yet deleted, kept in a file that outlives a crash.
pub struct Journal {
    path: PathBuf,
    sent: BTreeSet<String>,
}

impl Journal {
    pub fn open(path: &Path) -> Result<Self, String> {
        let sent = match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("the journal {}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => return Err(format!("the journal {}: {e}", path.display())),
        };
        Ok(Self {
            path: path.to_owned(),
            sent,
        })
    }

    fn save(&self) -> Result<(), String> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        // Written aside, then renamed: the journal is never half written.
        let partial = self.path.with_extension("partial");
        let text = serde_json::to_string(&self.sent).expect("a set of strings is JSON");
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut file = std::fs::File::create(&partial)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&partial, &self.path)
        };
        write().map_err(|e| format!("the journal {}: {e}", self.path.display()))
    }

    fn mark_sent(&mut self, id: &str) -> Result<(), String> {
        self.sent.insert(id.to_owned());
        self.save()
    }

    fn forget(&mut self, id: &str) -> Result<(), String> {
        self.sent.remove(id);
        self.save()
    }
}

/// What a redrive did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Moved {
    /// Messages now on the queue.
    pub moved: u64,
    /// Messages an earlier, interrupted run had sent, deleted from the DLQ now.
    pub finished_from_before: u64,
    /// Whether SQS's message move task did it.
    pub by_move_task: bool,
}

/// Moves every message of the dead-letter queue back to the queue.
pub async fn redrive(
    queues: &dyn RedriveQueues,
    queue: (&str, &str),
    dlq: (&str, &str),
    journal: &mut Journal,
) -> Result<Moved, String> {
    let ((queue_url, queue_arn), (dlq_url, dlq_arn)) = (queue, dlq);
    if journal.sent.is_empty() {
        if let Some(moved) = queues.move_task(dlq_arn, queue_arn).await? {
            return Ok(Moved {
                moved,
                by_move_task: true,
                ..Moved::default()
            });
        }
    }
    let mut result = Moved::default();
    loop {
        let batch = queues.receive(dlq_url).await?;
        if batch.is_empty() {
            return Ok(result);
        }
        for message in batch {
            if journal.sent.contains(&message.id) {
                queues.delete(dlq_url, &message.receipt).await?;
                journal.forget(&message.id)?;
                result.finished_from_before += 1;
                continue;
            }
            queues.send(queue_url, &message).await?;
            journal.mark_sent(&message.id)?;
            queues.delete(dlq_url, &message.receipt).await?;
            journal.forget(&message.id)?;
            result.moved += 1;
        }
    }
}

/// The default journal of a dead-letter queue: in `$XDG_STATE_HOME` (or
/// `~/.local/state`), `pipeline-steps/redrive-<queue name>.json`.
pub fn default_journal(dlq_arn: &str) -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    let name = dlq_arn.rsplit(':').next().unwrap_or("dlq");
    base.join("pipeline-steps")
        .join(format!("redrive-{name}.json"))
}

#[cfg(test)]
#[path = "redrive_tests.rs"]
mod tests;
