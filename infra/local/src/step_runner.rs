//! The local stack's side of pipeline steps: Callback messages go to moto's queues,
//! Lambda steps invoke the workspace's functions, EMR steps run on the local EMR.
//! Resources are matched by name as declared in infra/template.yaml.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::aws_json::AwsError;
use crate::emr::{EmrEngine, EngineError};
use crate::lambda::{InvokeError, LocalFunction};
use crate::pipeline::{EmrStepEnd, StepRunner};
use crate::sagemaker::Callbacks;
use crate::template::Template;

pub struct StackStepRunner {
    pub callbacks: Arc<Callbacks>,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub template: Template,
    /// Queue logical id → moto queue URL.
    pub queue_urls: BTreeMap<String, String>,
    pub functions: Arc<Mutex<BTreeMap<String, Arc<LocalFunction>>>>,
    pub emr: EmrEngine,
}

#[async_trait]
impl StepRunner for StackStepRunner {
    fn callbacks(&self) -> Arc<Callbacks> {
        self.callbacks.clone()
    }

    async fn send_callback_message(&self, queue_url: &str, body: &Value) -> Result<(), String> {
        let queue = self.template.queue_for_url(queue_url).ok_or_else(|| {
            format!("no queue of infra/template.yaml matches SqsQueueUrl {queue_url}")
        })?;
        let url = &self.queue_urls[&queue.logical_id];
        self.sqs
            .send_message()
            .queue_url(url)
            .message_body(body.to_string())
            .send()
            .await
            .map(drop)
            .map_err(|e| format!("SendMessage to {}: {e:?}", queue.logical_id))
    }

    async fn invoke_lambda(&self, function_arn: &str, inputs: &Value) -> Result<Value, String> {
        let definition = self
            .template
            .function_for_arn(function_arn)
            .ok_or_else(|| {
                format!("no function of infra/template.yaml matches FunctionArn {function_arn}")
            })?;
        let function = self
            .functions
            .lock()
            .unwrap()
            .get(&definition.logical_id)
            .cloned()
            .ok_or_else(|| format!("function {} is not running", definition.logical_id))?;
        function.invoke(inputs).await.map_err(|e| match e {
            InvokeError::Function {
                error_type,
                message,
            } => format!("{error_type}: {message}"),
            other => other.to_string(),
        })
    }

    async fn run_emr_step(
        &self,
        step_name: &str,
        arguments: &Value,
        mut stop: watch::Receiver<bool>,
    ) -> EmrStepEnd {
        let jar_step = &arguments["StepConfig"]["HadoopJarStep"];
        let step = crate::emr::NewStep {
            name: step_name.to_owned(),
            jar: jar_step["Jar"]
                .as_str()
                .unwrap_or("command-runner.jar")
                .to_owned(),
            args: jar_step["Args"]
                .as_array()
                .map(|a| a.iter().map(crate::pipeline::expressions::text).collect())
                .unwrap_or_default(),
            action_on_failure: "CONTINUE".to_owned(),
        };
        let (cluster_id, step_id) = match arguments["ClusterId"].as_str() {
            Some(cluster_id) => match self.emr.add_steps(cluster_id, vec![step]) {
                Ok(ids) => (cluster_id.to_owned(), ids[0].clone()),
                Err(e) => {
                    let fault = matches!(e, EngineError::Throttled).then_some("Step.THROTTLING");
                    let error = AwsError::from(e);
                    return EmrStepEnd::Failed {
                        reason: format!(
                            "AddJobFlowSteps on {cluster_id}: {}: {}",
                            error.code, error.message
                        ),
                        fault,
                        metadata: json!({}),
                    };
                }
            },
            None => {
                let cluster_id =
                    self.emr
                        .create_cluster(step_name, None, false, Vec::new(), vec![step]);
                let step_id = self
                    .emr
                    .steps(&cluster_id)
                    .ok()
                    .and_then(|s| s.first().map(|s| s.id.clone()));
                (cluster_id, step_id.unwrap_or_default())
            }
        };
        let metadata = json!({"ClusterId": cluster_id, "StepId": step_id, "StepName": step_name});
        // The emulator's own state, read every 50 ms until the step ends.
        let mut cancelled = false;
        loop {
            let Ok(record) = self.emr.step(&cluster_id, &step_id) else {
                return EmrStepEnd::Failed {
                    reason: format!("EMR step {step_id} disappeared"),
                    fault: None,
                    metadata,
                };
            };
            match record.state.as_str() {
                "COMPLETED" => {
                    return EmrStepEnd::Completed {
                        metadata,
                        step: record.to_json(),
                    }
                }
                "CANCELLED" | "INTERRUPTED" if cancelled => {
                    return EmrStepEnd::Stopped { metadata }
                }
                "FAILED" | "CANCELLED" | "INTERRUPTED" => {
                    let details = record
                        .failure
                        .map(|(reason, message, log)| format!(": {reason} {message} (log: {log})"))
                        .unwrap_or_default();
                    return EmrStepEnd::Failed {
                        reason: format!("EMR step {step_id} {}{details}", record.state),
                        fault: None,
                        metadata,
                    };
                }
                _ => {}
            }
            if *stop.borrow() && !cancelled {
                cancelled = true;
                let _ = self.emr.cancel_step(&cluster_id, &step_id);
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = stop.changed(), if !cancelled => {}
            }
        }
    }

    async fn read_s3_object(&self, uri: &str) -> Result<String, String> {
        let (bucket, key) = uri
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
            .ok_or_else(|| format!("'{uri}' is not an s3://bucket/key URI"))?;
        let object = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(service) => format!("no such object in the local S3 ({service})"),
                None => format!("the local S3 did not answer: {e}"),
            })?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| format!("reading {uri}: {e}"))?
            .into_bytes();
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("{uri} is not UTF-8 text"))
    }
}
