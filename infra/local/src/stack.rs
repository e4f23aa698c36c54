//! The local stack: SageMaker, EMR, moto (SQS, EventBridge) and the workspace's
//! functions, all on 127.0.0.1, all stopped when the stack is dropped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::emr::{EmrEventStream, EmrServer};
use crate::event_pattern;
use crate::lambda::{FunctionSpec, LocalFunction};
use crate::moto::MotoServer;
use crate::paths;
use crate::pipeline::definition::{Definition, StepKind};
use crate::sagemaker::SageMakerServer;
use crate::sqs_source::SqsSource;
use crate::step_runner::StackStepRunner;
use crate::template::{EventSource, Template};

pub const REGION: &str = "us-east-1";

/// An AWS SDK configuration for one of the stack's endpoints, with its fixed test
/// credentials: what the CLI, the benchmarks and the tests talk to it with.
pub fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(
                    "testing",
                    "testing",
                    None,
                    None,
                    "local-stack",
                ),
            ),
        )
        .endpoint_url(endpoint)
        .build()
}

/// The long-running cluster `up` and `run` start, standing in for a team's shared
/// cluster: its id is fixed so pipeline definitions can name it.
pub const STANDING_CLUSTER_ID: &str = "j-LOCALCLUSTER1";

/// The pipeline execution role the template's queue policy lets send, unless
/// `PipelineExecutionRoleArns` is given (the template has no default for it).
pub const LOCAL_PIPELINE_ROLE: &str = "arn:aws:iam::123456789012:role/pipeline";

/// Lambda retries a failed asynchronous invocation (as EventBridge makes) twice.
const ASYNC_RETRIES: usize = 2;

type Functions = Arc<Mutex<BTreeMap<String, Arc<LocalFunction>>>>;
/// Where EMR's events go: a function, and the rule pattern they must match (none: all).
type EventTargets = Arc<Mutex<Vec<(String, Option<Value>)>>>;

/// How to deploy infra/template.yaml on the stack.
#[derive(Clone, Debug, Default)]
pub struct DeployOptions {
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

pub struct LocalStack {
    pub sagemaker: SageMakerServer,
    pub emr: EmrServer,
    pub moto: MotoServer,
    functions: Functions,
    emr_event_targets: EventTargets,
    router: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
    queue_urls: BTreeMap<String, String>,
    runner: Option<Arc<StackStepRunner>>,
    echo_logs: bool,
    _work_dir: tempfile::TempDir,
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        self.router.abort();
        self.background.iter().for_each(JoinHandle::abort);
    }
}

impl LocalStack {
    pub async fn start() -> Result<Self, String> {
        let work_dir = tempfile::Builder::new()
            .prefix("local-stack-")
            .tempdir()
            .map_err(|e| format!("work folder: {e}"))?;
        let sagemaker = SageMakerServer::start()
            .await
            .map_err(|e| format!("SageMaker endpoint: {e}"))?;
        let (emr, emr_events) = EmrServer::start(work_dir.path().join("emr-logs"))
            .await
            .map_err(|e| format!("EMR endpoint: {e}"))?;
        let moto = MotoServer::start().await?;
        let functions: Functions = Arc::default();
        let emr_event_targets: EventTargets = Arc::default();
        let router = tokio::spawn(route_emr_events(
            emr_events,
            functions.clone(),
            emr_event_targets.clone(),
        ));
        Ok(Self {
            sagemaker,
            emr,
            moto,
            functions,
            emr_event_targets,
            router,
            background: Vec::new(),
            queue_urls: BTreeMap::new(),
            runner: None,
            echo_logs: false,
            _work_dir: work_dir,
        })
    }

    /// Echo every function's log lines on stderr (the CLI does; tests keep them).
    pub fn echo_logs(mut self, echo: bool) -> Self {
        self.echo_logs = echo;
        self
    }

    /// The environment that points an AWS SDK (or the AWS CLI) at this stack.
    pub fn client_env(&self) -> Vec<(String, String)> {
        let moto = self.moto.endpoint();
        [
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_ENDPOINT_URL_SAGEMAKER", self.sagemaker.endpoint()),
            ("AWS_ENDPOINT_URL_EMR", self.emr.endpoint()),
            ("AWS_ENDPOINT_URL_SQS", moto.clone()),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", moto.clone()),
            ("AWS_ENDPOINT_URL_S3", moto.clone()),
            // The SageMaker SDK asks STS for the account of its default bucket.
            ("AWS_ENDPOINT_URL_STS", moto.clone()),
            // pipeline-steps doctor --stack reads a stack.
            ("AWS_ENDPOINT_URL_CLOUDFORMATION", moto),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Starts a workspace handler binary as function `name`, with its settings on top
    /// of the stack's client environment.
    pub async fn add_function(
        &mut self,
        name: &str,
        binary: &str,
        settings: &[(&str, &str)],
    ) -> Result<Arc<LocalFunction>, String> {
        let settings = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.start_function(name, binary, settings, Duration::from_secs(60), 128)
            .await
    }

    /// How to run a process as a function of this stack: its settings on top of the
    /// stack's client environment. Benchmarks start other runtimes with it.
    pub fn function_spec(
        &self,
        name: &str,
        binary: std::path::PathBuf,
        args: Vec<String>,
        settings: Vec<(String, String)>,
    ) -> FunctionSpec {
        let mut env = self.client_env();
        env.extend(settings);
        FunctionSpec {
            name: name.to_owned(),
            binary,
            args,
            env,
            timeout: Duration::from_secs(60),
            memory_mb: 128,
            echo_logs: self.echo_logs,
        }
    }

    async fn start_function(
        &mut self,
        name: &str,
        binary: &str,
        settings: Vec<(String, String)>,
        timeout: Duration,
        memory_mb: u32,
    ) -> Result<Arc<LocalFunction>, String> {
        let mut spec =
            self.function_spec(name, paths::handler_binary(binary)?, Vec::new(), settings);
        spec.timeout = timeout;
        spec.memory_mb = memory_mb;
        let function = Arc::new(
            LocalFunction::start(spec)
                .await
                .map_err(|e| format!("function {name}: {e}"))?,
        );
        self.functions
            .lock()
            .unwrap()
            .insert(name.to_owned(), function.clone());
        Ok(function)
    }

    pub fn function(&self, name: &str) -> Option<Arc<LocalFunction>> {
        self.functions.lock().unwrap().get(name).cloned()
    }

    /// Delivers every EMR status event to function `name`, as the EventBridge rules of
    /// the template do in AWS.
    pub fn route_emr_events_to(&self, name: &str) {
        self.emr_event_targets
            .lock()
            .unwrap()
            .push((name.to_owned(), None));
    }

    /// Starts the standing cluster (WAITING, tagged for the template's IAM fence).
    pub fn start_standing_cluster(&self) {
        self.emr.engine().create_cluster_with_id(
            STANDING_CLUSTER_ID,
            "local-cluster",
            Some("s3://local-logs/emr/".to_owned()),
            true,
            vec![("sagemaker-pipeline-steps".to_owned(), "callback".to_owned())],
            Vec::new(),
        );
    }

    /// The moto URL of a queue of the template, once deployed.
    pub fn queue_url(&self, logical_id: &str) -> Option<&str> {
        self.queue_urls.get(logical_id).map(String::as_str)
    }

    fn moto_config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.moto.endpoint())
    }

    pub fn sqs_client(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.moto_config())
    }

    pub fn eventbridge_client(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.moto_config())
    }

    /// moto's S3, path-style as a local endpoint needs.
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.moto_config())
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Deploys infra/template.yaml: its queues (with redrive) on moto, its functions
    /// with their settings, their SQS event sources, EventBridge rules and schedules,
    /// and the pipeline runner of the SageMaker endpoint.
    pub async fn deploy(&mut self, options: &DeployOptions) -> Result<Template, String> {
        let mut parameters = options.parameters.clone();
        parameters
            .entry("PipelineExecutionRoleArns".to_owned())
            .or_insert_with(|| LOCAL_PIPELINE_ROLE.to_owned());
        let template = Template::load(
            &paths::workspace_root().join("infra/template.yaml"),
            &parameters,
        )?;
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
                        self.background.push(tokio::spawn(source.run()));
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
            self.background.push(tokio::spawn(source.run()));
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
        let function = Arc::new(
            LocalFunction::start(spec)
                .await
                .map_err(|e| format!("{flag} {name}={command}: {e}"))?,
        );
        self.functions
            .lock()
            .unwrap()
            .insert(name.to_owned(), function.clone());
        Ok(function)
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

/// Fires a rule's schedule: the event EventBridge sends on `rate(...)`.
async fn run_schedule(name: String, every: Duration, function: Arc<LocalFunction>) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        ticks.tick().await;
        let event = serde_json::json!({
            "version": "0", "id": format!("schedule-{name}"), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012",
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "region": REGION, "resources": [format!("arn:aws:events:{REGION}:123456789012:rule/{name}")], "detail": {}
        });
        deliver(&function, &event).await;
    }
}

async fn route_emr_events(mut events: EmrEventStream, functions: Functions, targets: EventTargets) {
    while let Some(event) = events.recv().await {
        let targets = targets.lock().unwrap().clone();
        for (name, pattern) in targets {
            if pattern.is_some_and(|p| !event_pattern::matches(&p, &event)) {
                continue;
            }
            let Some(function) = functions.lock().unwrap().get(&name).cloned() else {
                continue;
            };
            deliver(&function, &event).await;
        }
    }
}

async fn deliver(function: &LocalFunction, event: &Value) {
    for attempt in 0..=ASYNC_RETRIES {
        match function.invoke(event).await {
            Ok(_) => return,
            Err(e) => {
                warn!(function = function.name(), attempt, error = %e, "event delivery failed")
            }
        }
    }
}
