use std::sync::Mutex;

use super::*;

/// Two queues in memory; `crash_on_delete` makes the next deletes fail, as a process
/// killed between the send and the delete would leave things.
#[derive(Default)]
struct InMemoryQueues {
    queue: Mutex<Vec<Message>>,
    dlq: Mutex<Vec<Message>>,
    /// Messages received and not deleted, which reappear on the next run.
    in_flight: Mutex<Vec<Message>>,
    crash_on_delete: Mutex<usize>,
    move_task: bool,
}

#[async_trait]
impl RedriveQueues for InMemoryQueues {
    async fn move_task(&self, _dlq: &str, _queue: &str) -> Result<Option<u64>, String> {
        if !self.move_task {
            return Ok(None);
        }
        let moved: Vec<Message> = self.dlq.lock().unwrap().drain(..).collect();
        let count = moved.len() as u64;
        self.queue.lock().unwrap().extend(moved);
        Ok(Some(count))
    }

    async fn receive(&self, _url: &str) -> Result<Vec<Message>, String> {
        let mut dlq = self.dlq.lock().unwrap();
        let take = dlq.len().min(10);
        let batch: Vec<Message> = dlq.drain(..take).collect();
        self.in_flight.lock().unwrap().extend(batch.clone());
        Ok(batch)
    }

    async fn send(&self, _url: &str, message: &Message) -> Result<(), String> {
        self.queue.lock().unwrap().push(message.clone());
        Ok(())
    }

    async fn delete(&self, _url: &str, receipt: &str) -> Result<(), String> {
        let mut crash = self.crash_on_delete.lock().unwrap();
        if *crash > 0 {
            *crash -= 1;
            return Err("killed".to_owned());
        }
        self.in_flight
            .lock()
            .unwrap()
            .retain(|m| m.receipt != receipt);
        Ok(())
    }
}

impl InMemoryQueues {
    /// What a restart sees: the messages received but not deleted are visible again.
    fn restart(&self) {
        let back: Vec<Message> = self.in_flight.lock().unwrap().drain(..).collect();
        self.dlq.lock().unwrap().extend(back);
    }
}

fn messages(count: usize) -> Vec<Message> {
    (0..count)
        .map(|i| Message {
            id: format!("m{i}"),
            body: format!("{{\"token\": \"Token{i:05}\"}}"),
            receipt: format!("r{i}"),
            attributes: BTreeMap::from([("origin".to_owned(), "dlq".to_owned())]),
        })
        .collect()
}

const QUEUE: (&str, &str) = ("queue-url", "queue-arn");
const DLQ: (&str, &str) = ("dlq-url", "dlq-arn");

#[tokio::test]
async fn every_message_moves_once_with_its_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let queues = InMemoryQueues::default();
    *queues.dlq.lock().unwrap() = messages(25);
    let mut journal = Journal::open(&dir.path().join("j.json")).unwrap();
    let moved = redrive(&queues, QUEUE, DLQ, &mut journal).await.unwrap();
    assert_eq!(moved.moved, 25);
    assert!(!moved.by_move_task);
    assert_eq!(*queues.queue.lock().unwrap(), messages(25));
    assert!(queues.dlq.lock().unwrap().is_empty());
    assert!(queues.in_flight.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_crash_between_send_and_delete_neither_loses_nor_doubles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.json");
    let queues = InMemoryQueues::default();
    *queues.dlq.lock().unwrap() = messages(3);
    *queues.crash_on_delete.lock().unwrap() = 1;
    let mut journal = Journal::open(&path).unwrap();
    assert!(redrive(&queues, QUEUE, DLQ, &mut journal).await.is_err());
    assert_eq!(
        queues.queue.lock().unwrap().len(),
        1,
        "m0 was sent before the crash"
    );

    queues.restart();
    let mut journal = Journal::open(&path).unwrap();
    let moved = redrive(&queues, QUEUE, DLQ, &mut journal).await.unwrap();
    assert_eq!(moved.finished_from_before, 1);
    assert_eq!(moved.moved, 2);
    let ids: Vec<String> = queues
        .queue
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.id.clone())
        .collect();
    assert_eq!(ids, ["m0", "m1", "m2"], "each message once");
    assert!(queues.dlq.lock().unwrap().is_empty());
    assert!(Journal::open(&path).unwrap().sent.is_empty());
}

#[tokio::test]
async fn the_move_task_is_used_where_the_endpoint_offers_it() {
    let dir = tempfile::tempdir().unwrap();
    let queues = InMemoryQueues {
        move_task: true,
        ..InMemoryQueues::default()
    };
    *queues.dlq.lock().unwrap() = messages(4);
    let mut journal = Journal::open(&dir.path().join("j.json")).unwrap();
    let moved = redrive(&queues, QUEUE, DLQ, &mut journal).await.unwrap();
    assert_eq!((moved.moved, moved.by_move_task), (4, true));
    assert_eq!(queues.queue.lock().unwrap().len(), 4);
}
