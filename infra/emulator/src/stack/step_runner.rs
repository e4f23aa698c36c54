//! The emulator's side of pipeline steps: Callback messages go to moto's queues,
//! Lambda steps invoke the workspace's functions, EMR steps run on the local EMR.
//! Resources are matched by name as declared in infra/template.yaml.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::aws_json::AwsError;
use crate::emr::{Cancel, EmrEngine, EngineError};
use crate::lambda::{InvokeError, LocalFunction};
use crate::pipeline::Callbacks;
use crate::pipeline::{EmrStepEnd, StepRunner};
use crate::stack::template::Template;

pub struct StackStepRunner {
    pub callbacks: Arc<Callbacks>,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub template: Template,
    /// Queue logical id → moto queue URL.
    pub queue_urls: BTreeMap<String, String>,
    pub functions: Arc<Mutex<BTreeMap<String, Arc<LocalFunction>>>>,
    pub emr: EmrEngine,
    /// Functions served by `--function`, by name.
    pub extra_functions: BTreeSet<String>,
    /// Queue name → template queue, from `--queue`.
    pub queue_routes: BTreeMap<String, String>,
    /// Jobs whose code runs (`--run-code`).
    pub code_jobs: crate::code_jobs::CodeJobs,
}

/// The last segment of an SqsQueueUrl: the queue's name.
fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

/// The function name in a FunctionArn (or a bare name), without version or alias.
fn function_name(arn: &str) -> &str {
    arn.split(":function:")
        .nth(1)
        .unwrap_or(arn)
        .split(':')
        .next()
        .unwrap_or_default()
}

impl StackStepRunner {
    /// The template queue (logical id) a Callback step's SqsQueueUrl reaches.
    pub fn queue_for(&self, queue_url: &str) -> Result<String, String> {
        if let Some(queue) = self.template.queue_for_url(queue_url) {
            return Ok(queue.logical_id.clone());
        }
        let name = queue_name(queue_url);
        if self.queue_urls.contains_key(name) {
            // A queue of `--queue-function`.
            return Ok(name.to_owned());
        }
        self.queue_routes.get(name).cloned().ok_or_else(|| {
            format!(
                "no queue of infra/template.yaml matches SqsQueueUrl {queue_url}; route it to one with --queue {name}=<logical id> (the template has {}), or serve it with --queue-function {name}=<command>",
                self.queue_urls.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// The running function a Lambda step's FunctionArn reaches.
    pub fn function_for(&self, function_arn: &str) -> Result<Arc<LocalFunction>, String> {
        let name = match self.template.function_for_arn(function_arn) {
            Some(definition) => definition.logical_id.clone(),
            None if self.extra_functions.contains(function_name(function_arn)) => {
                function_name(function_arn).to_owned()
            }
            None => {
                return Err(format!(
                    "no function of infra/template.yaml matches FunctionArn {function_arn}; serve it with --function {}=<command that speaks the Lambda Runtime API>",
                    function_name(function_arn)
                ))
            }
        };
        self.functions
            .lock()
            .unwrap()
            .get(&name)
            .cloned()
            .ok_or_else(|| format!("function {name} is not running"))
    }
}

#[async_trait]
impl StepRunner for StackStepRunner {
    fn callbacks(&self) -> Arc<Callbacks> {
        self.callbacks.clone()
    }

    async fn send_callback_message(&self, queue_url: &str, body: &Value) -> Result<(), String> {
        let queue = self.queue_for(queue_url)?;
        let url = &self.queue_urls[&queue];
        self.sqs
            .send_message()
            .queue_url(url)
            .message_body(body.to_string())
            .send()
            .await
            .map(drop)
            .map_err(|e| format!("SendMessage to {queue}: {e:?}"))
    }

    async fn invoke_lambda(&self, function_arn: &str, inputs: &Value) -> Result<Value, String> {
        let function = self.function_for(function_arn)?;
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
                        .map(|(reason, message, log)| match log.is_empty() {
                            true => format!(": {reason} {message}"),
                            false => format!(": {reason} {message} (log: {log})"),
                        })
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
                let _ = self
                    .emr
                    .cancel_step(&cluster_id, &step_id, Cancel::Interrupt);
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = stop.changed(), if !cancelled => {}
            }
        }
    }

    async fn run_code(
        &self,
        job: &crate::code_jobs::CodeJob,
        python: &std::path::Path,
        stop: watch::Receiver<bool>,
    ) -> crate::code_jobs::CodeJobEnd {
        self.code_jobs.run(job, python, stop).await
    }

    fn function_log(&self, function_arn: &str) -> Option<Vec<String>> {
        Some(self.function_for(function_arn).ok()?.logs())
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

    async fn delete_s3_objects(&self, uri: &str, prefix: bool) -> Result<usize, String> {
        let (bucket, key) = crate::code_jobs::staging::split_uri(uri)?;
        let keys = if prefix {
            let mut keys = Vec::new();
            let mut pages = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(key)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| format!("listing {uri}: {e}"))?;
                keys.extend(
                    page.contents()
                        .iter()
                        .filter_map(|o| o.key().map(str::to_owned)),
                );
            }
            keys
        } else {
            vec![key.to_owned()]
        };
        for key in &keys {
            self.s3
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| format!("deleting s3://{bucket}/{key}: {e}"))?;
        }
        Ok(keys.len())
    }
}
