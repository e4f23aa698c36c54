//! Redrive's queues on SQS (aws-sdk-sqs).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};

use crate::aws::classify;
use crate::redrive::{Message, RedriveQueues, VISIBILITY};

/// How long a message move task may take before the CLI stops waiting for it.
const MOVE_TASK_DEADLINE: Duration = Duration::from_secs(600);

pub struct SqsQueues {
    pub client: aws_sdk_sqs::Client,
}

#[async_trait]
impl RedriveQueues for SqsQueues {
    async fn move_task(&self, dlq_arn: &str, queue_arn: &str) -> Result<Option<u64>, String> {
        // Asked once: an endpoint without the task may answer with a retryable error,
        // which is no reason to wait through the retries before moving by hand.
        let started = self
            .client
            .start_message_move_task()
            .source_arn(dlq_arn)
            .destination_arn(queue_arn)
            .customize()
            .config_override(
                aws_sdk_sqs::config::Builder::new()
                    .retry_config(aws_config::retry::RetryConfig::disabled()),
            )
            .send()
            .await;
        let handle = match started {
            Ok(answer) => answer.task_handle.unwrap_or_default(),
            // Endpoints without the task (moto, some regions' older APIs) answer with an
            // error: receive, send and delete instead.
            Err(e) => {
                eprintln!(
                    "redrive: no message move task here ({}); moving messages one by one",
                    classify("sqs:StartMessageMoveTask", e)
                );
                return Ok(None);
            }
        };
        let deadline = Instant::now() + MOVE_TASK_DEADLINE;
        loop {
            let tasks = self
                .client
                .list_message_move_tasks()
                .source_arn(dlq_arn)
                .send()
                .await
                .map_err(|e| classify("sqs:ListMessageMoveTasks", e).to_string())?;
            let task = tasks
                .results()
                .iter()
                .find(|t| t.task_handle() == Some(handle.as_str()) || tasks.results().len() == 1);
            match task.and_then(|t| t.status()) {
                Some("COMPLETED") => {
                    return Ok(Some(task.map(|t| t.approximate_number_of_messages_moved() as u64).unwrap_or(0)))
                }
                Some(status @ ("FAILED" | "CANCELLED")) => {
                    let reason = task.and_then(|t| t.failure_reason()).unwrap_or_default();
                    return Err(format!("the message move task ended {status}: {reason}"));
                }
                _ if Instant::now() > deadline => {
                    return Err(format!("the message move task {handle} is still running; see it with aws sqs list-message-move-tasks"))
                }
                // Waiting on SQS's own task: there is nothing to be notified by.
                _ => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    }

    async fn receive(&self, queue_url: &str) -> Result<Vec<Message>, String> {
        let answer = self
            .client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(VISIBILITY.as_secs() as i32)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| classify("sqs:ReceiveMessage", e).to_string())?;
        Ok(answer
            .messages()
            .iter()
            .map(|m| Message {
                id: m.message_id().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                attributes: m
                    .message_attributes()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| Some((k.clone(), v.string_value()?.to_owned())))
                    .collect(),
            })
            .collect())
    }

    async fn send(&self, queue_url: &str, message: &Message) -> Result<(), String> {
        let mut request = self
            .client
            .send_message()
            .queue_url(queue_url)
            .message_body(&message.body);
        for (name, value) in &message.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| e.to_string())?;
            request = request.message_attributes(name, attribute);
        }
        request
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("sqs:SendMessage", e).to_string())
    }

    async fn delete(&self, queue_url: &str, receipt: &str) -> Result<(), String> {
        self.client
            .delete_message()
            .queue_url(queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("sqs:DeleteMessage", e).to_string())
    }
}
