//! Deploying infra/template.yaml on the stack, and the resources outside it that
//! `--function`, `--queue` and `--queue-function` add.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::{run_schedule, Emulator, LOCAL_PIPELINE_ROLE, REGION};
use crate::lambda::LocalFunction;
use crate::paths;
use crate::pipeline::definition::{Definition, StepKind};
use crate::stack::sqs_source::SqsSource;
use crate::stack::step_runner::StackStepRunner;
use crate::stack::template::{EventSource, Template};

/// How to deploy infra/template.yaml on the stack.
#[derive(Clone, Debug, Default)]
pub struct DeployOptions {
    /// The SAM template to deploy (`--template`); by default the one beside the
    /// installed command, or the workspace's infra/template.yaml (`paths::template`).
    pub template: Option<std::path::PathBuf>,
    /// Template parameters, over their defaults.
    pub parameters: BTreeMap<String, String>,
    /// A shorter visibility timeout than the template's, so redelivery can be seen
    /// in seconds (tests of crashes and the DLQ).
    pub visibility_timeout: Option<Duration>,
    /// Functions the template does not define, by name, each served by a command
    /// that speaks the Lambda Runtime API (`--function NAME=COMMAND`).
    pub extra_functions: BTreeMap<String, String>,
    /// Queues the template does not define, by name, routed to a queue of the
    /// template by logical id (`--queue NAME=LOGICAL_ID`).
    pub queue_routes: BTreeMap<String, String>,
    /// Queues of your own, by name, each consumed by a function served by a command
    /// (`--queue-function NAME=COMMAND`): your callback handler, fed as Lambda's SQS
    /// event source feeds it (batches of 10, partial batch responses).
    pub queue_functions: BTreeMap<String, String>,
}

impl Emulator {
    /// Deploys infra/template.yaml: its queues (with redrive) on moto, its functions
    /// with their settings, their SQS event sources, EventBridge rules and schedules,
    /// and the pipeline runner of the SageMaker endpoint.
    pub async fn deploy(&mut self, options: &DeployOptions) -> Result<Template, String> {
        let mut parameters = options.parameters.clone();
        parameters
            .entry("PipelineExecutionRoleArns".to_owned())
            .or_insert_with(|| LOCAL_PIPELINE_ROLE.to_owned());
        let path = options.template.clone().unwrap_or_else(paths::template);
        let template = Template::load(&path, &parameters)?;
        let sqs = self.sqs_client();
        let events = self.eventbridge_client();

        // Dead-letter queues first: a redrive policy names its target's ARN.
        let mut queues = template.queues.clone();
        queues.sort_by_key(|q| q.redrive.is_some());
        let mut arns = BTreeMap::new();
        for queue in &queues {
            let visibility = options
                .visibility_timeout
                .unwrap_or(queue.visibility_timeout);
            let mut request = sqs.create_queue().queue_name(&queue.logical_id).attributes(
                aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                visibility.as_secs().to_string(),
            );
            if let Some((dlq, max_receive)) = &queue.redrive {
                let target = arns.get(dlq).ok_or_else(|| {
                    format!("queue {} redrives to unknown {dlq}", queue.logical_id)
                })?;
                let policy = serde_json::json!({"deadLetterTargetArn": target, "maxReceiveCount": max_receive.to_string()});
                request = request.attributes(
                    aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
                    policy.to_string(),
                );
            }
            let url = request
                .send()
                .await
                .map_err(|e| format!("creating queue {}: {e:?}", queue.logical_id))?
                .queue_url
                .unwrap_or_default();
            arns.insert(
                queue.logical_id.clone(),
                format!("arn:aws:sqs:{REGION}:123456789012:{}", queue.logical_id),
            );
            self.queue_urls.insert(queue.logical_id.clone(), url);
        }
        for (queue, policy) in &template.queue_policies {
            let url = self
                .queue_urls
                .get(queue)
                .ok_or_else(|| format!("a queue policy names unknown queue {queue}"))?;
            sqs.set_queue_attributes()
                .queue_url(url)
                .attributes(
                    aws_sdk_sqs::types::QueueAttributeName::Policy,
                    policy.to_string(),
                )
                .send()
                .await
                .map_err(|e| format!("setting the policy of {queue}: {e:?}"))?;
        }

        for definition in &template.functions {
            let settings = definition.environment.clone().into_iter().collect();
            let function = self
                .start_function(
                    &definition.logical_id,
                    &definition.binary,
                    settings,
                    definition.timeout,
                    definition.memory_mb,
                    definition.max_concurrency,
                )
                .await?;
            for source in &definition.events {
                match source {
                    EventSource::Sqs {
                        queue,
                        batch_size,
                        report_batch_item_failures,
                        ..
                    } => {
                        let source = SqsSource {
                            sqs: sqs.clone(),
                            queue_url: self
                                .queue_urls
                                .get(queue)
                                .cloned()
                                .ok_or_else(|| format!("no queue {queue}"))?,
                            queue_arn: arns[queue].clone(),
                            function: function.clone(),
                            batch_size: *batch_size,
                            report_batch_item_failures: *report_batch_item_failures,
                        };
                        // Lambda's pollers keep a function's concurrency busy: as many
                        // batches in flight as one process takes at once.
                        let source = Arc::new(source);
                        for _ in 0..definition.max_concurrency {
                            self.background.push(tokio::spawn(source.clone().run()));
                        }
                    }
                    EventSource::Rule { name, pattern } => {
                        // The rule exists on the bus too, as emr-preflight checks it.
                        events
                            .put_rule()
                            .name(name)
                            .event_pattern(pattern.to_string())
                            .send()
                            .await
                            .map_err(|e| format!("creating rule {name}: {e:?}"))?;
                        events
                            .put_targets()
                            .rule(name)
                            .targets(
                                aws_sdk_eventbridge::types::Target::builder()
                                    .id(&definition.logical_id)
                                    .arn(format!(
                                        "arn:aws:lambda:{REGION}:123456789012:function:{}",
                                        definition.logical_id
                                    ))
                                    .build()
                                    .map_err(|e| format!("target of rule {name}: {e}"))?,
                            )
                            .send()
                            .await
                            .map_err(|e| format!("targeting rule {name}: {e:?}"))?;
                        self.emr_event_targets
                            .lock()
                            .unwrap()
                            .push((definition.logical_id.clone(), Some(pattern.clone())));
                    }
                    EventSource::Schedule { name, every } => {
                        self.background.push(tokio::spawn(run_schedule(
                            name.clone(),
                            *every,
                            function.clone(),
                        )));
                    }
                }
            }
        }

        for (name, command) in &options.extra_functions {
            self.start_command_function("--function", name, command)
                .await?;
        }
        for (name, command) in &options.queue_functions {
            let url = sqs
                .create_queue()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| format!("creating queue {name}: {e:?}"))?
                .queue_url
                .unwrap_or_default();
            let function = self
                .start_command_function("--queue-function", name, command)
                .await?;
            let source = SqsSource {
                sqs: sqs.clone(),
                queue_url: url.clone(),
                queue_arn: format!("arn:aws:sqs:{REGION}:123456789012:{name}"),
                function,
                batch_size: 10,
                report_batch_item_failures: true,
            };
            self.background.push(tokio::spawn(Arc::new(source).run()));
            self.queue_urls.insert(name.clone(), url);
        }
        for (name, logical_id) in &options.queue_routes {
            if !self.queue_urls.contains_key(logical_id) {
                return Err(format!(
                    "--queue {name}={logical_id}: the template has no queue {logical_id} (it has {})",
                    self.queue_urls.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        let runner = StackStepRunner {
            callbacks: self.sagemaker.callbacks().clone(),
            extra_functions: options.extra_functions.keys().cloned().collect(),
            queue_routes: options.queue_routes.clone(),
            sqs,
            s3: self.s3_client(),
            template: template.clone(),
            queue_urls: self.queue_urls.clone(),
            functions: self.functions.clone(),
            emr: self.emr.engine().clone(),
            code_jobs: crate::code_jobs::CodeJobs::new(
                self.client_env(),
                self.s3_client(),
                self.work_dir().to_path_buf(),
            )
            .echo_logs(self.echo_logs),
        };
        let runner = Arc::new(runner);
        self.runner = Some(runner.clone());
        self.sagemaker.pipelines().attach_runner(runner);
        Ok(template)
    }

    /// Starts a function from a command line (split on spaces) that speaks the Lambda
    /// Runtime API, with the stack's client environment.
    async fn start_command_function(
        &mut self,
        flag: &str,
        name: &str,
        command: &str,
    ) -> Result<Arc<LocalFunction>, String> {
        let mut words = command.split_whitespace();
        let program = words
            .next()
            .ok_or_else(|| format!("{flag} {name}: the command is empty"))?;
        let spec = self.function_spec(
            name,
            std::path::PathBuf::from(program),
            words.map(str::to_owned).collect(),
            Vec::new(),
        );
        self.launch(name, spec, &format!("{flag} {name}={command}"))
            .await
    }

    /// Whether every queue and function a definition names is served: by the
    /// template, `--function` or `--queue`. The refusal names the step and the flag.
    pub fn check_resources(&self, definition: &Definition) -> Result<(), String> {
        let runner = self.runner.as_ref().ok_or("the template is not deployed")?;
        for step in &definition.steps {
            let served = match &step.kind {
                StepKind::Lambda { function_arn, .. } => {
                    runner.function_for(function_arn).map(drop)
                }
                StepKind::Callback { queue_url, .. } => runner.queue_for(queue_url).map(drop),
                _ => Ok(()),
            };
            served.map_err(|e| format!("step '{}': {e}", step.name))?;
        }
        Ok(())
    }
}
