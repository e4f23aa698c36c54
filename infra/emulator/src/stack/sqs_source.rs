//! An SQS event source, as Lambda's event source mapping runs it: receive a batch,
//! invoke the function, delete what succeeded. With ReportBatchItemFailures only the
//! listed records stay; a function error leaves the whole batch. What stays comes back
//! after the visibility timeout, and the queue's redrive policy moves it to the DLQ.

use std::sync::Arc;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use serde_json::{json, Map, Value};
use tracing::warn;

use crate::lambda::LocalFunction;

pub struct SqsSource {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub queue_arn: String,
    pub function: Arc<LocalFunction>,
    pub batch_size: u32,
    pub report_batch_item_failures: bool,
}

impl SqsSource {
    pub async fn run(self: Arc<Self>) {
        loop {
            if let Err(e) = self.poll_once().await {
                warn!(queue = %self.queue_url, error = %e, "polling the queue failed");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
    }

    async fn poll_once(&self) -> Result<(), String> {
        let answer = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.batch_size.clamp(1, 10) as i32)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        let messages = answer.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(());
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: Map<String, Value> = m
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": crate::stack::REGION,
                })
            })
            .collect();
        let keep: Vec<String> = match self.function.invoke(&json!({"Records": records})).await {
            Ok(response) if self.report_batch_item_failures => response["batchItemFailures"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .filter_map(|i| i["itemIdentifier"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            Ok(_) => Vec::new(),
            Err(e) => {
                warn!(function = self.function.name(), error = %e, "batch failed; its messages return after the visibility timeout");
                return Ok(());
            }
        };
        let done: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| !keep.iter().any(|k| Some(k.as_str()) == m.message_id()))
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        if !done.is_empty() {
            self.sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(done))
                .send()
                .await
                .map_err(|e| format!("{e:?}"))?;
        }
        Ok(())
    }
}
