//! The emulator: SageMaker, EMR, moto (SQS, EventBridge) and the workspace's
//! functions, all on 127.0.0.1, all stopped when the stack is dropped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::auth::Credentials;
use crate::emr::{EmrEventStream, EmrServer};
use crate::lambda::{FunctionSpec, LocalFunction};
use crate::paths;
use crate::sagemaker::SageMakerServer;
use crate::stack::moto::MotoServer;
use crate::stack::step_runner::StackStepRunner;
use crate::view::ViewServer;

mod code;
mod deploy;
pub mod event_pattern;
pub mod moto;
pub mod sqs_source;
pub mod step_runner;
pub mod template;
pub mod work_folder;

pub use deploy::DeployOptions;

pub use crate::REGION;

/// An AWS SDK configuration for one of the stack's endpoints, with the stack's
/// credentials: what the CLI, the benchmarks and the tests talk to it with.
pub fn sdk_config(endpoint: &str, credentials: &Credentials) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(
                    &credentials.access_key_id,
                    &credentials.secret_access_key,
                    None,
                    None,
                    "pipelines-emulator",
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

/// The SageMaker Python SDK's default bucket on the local S3, named in the SDK config the
/// client environment points at: the SDK then never asks STS for an account to name one.
pub const SDK_DEFAULT_BUCKET: &str = "sagemaker-pipelines-emulator";

/// The SageMaker Python SDK's config (`SAGEMAKER_USER_CONFIG_OVERRIDE`, read by 2.x and
/// 3.x): no telemetry (it would call a regional S3 URL of AWS's) and the default bucket.
fn sdk_config_file() -> String {
    format!(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n      Session:\n        DefaultS3Bucket: {SDK_DEFAULT_BUCKET}\n"
    )
}

/// Lambda retries a failed asynchronous invocation (as EventBridge makes) twice.
const ASYNC_RETRIES: usize = 2;

type Functions = Arc<Mutex<BTreeMap<String, Arc<LocalFunction>>>>;
/// Where EMR's events go: a function, and the rule pattern they must match (none: all).
type EventTargets = Arc<Mutex<Vec<(String, Option<Value>)>>>;

/// The running stack: the SageMaker and EMR APIs, moto behind its signed front, the
/// template's functions and queues. Dropped, it stops every part of it.
pub struct Emulator {
    /// The SageMaker API and the pipelines it holds.
    pub sagemaker: SageMakerServer,
    /// The EMR API and its clusters.
    pub emr: EmrServer,
    /// SQS, EventBridge and S3 (moto), behind the SigV4 front.
    pub moto: MotoServer,
    /// The pipelines and executions in the browser.
    view: ViewServer,
    functions: Functions,
    emr_event_targets: EventTargets,
    router: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
    queue_urls: BTreeMap<String, String>,
    runner: Option<Arc<StackStepRunner>>,
    echo_logs: bool,
    credentials: Credentials,
    _work_dir: tempfile::TempDir,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.router.abort();
        self.background.iter().for_each(JoinHandle::abort);
    }
}

impl Emulator {
    /// Starts the stack with the default options.
    pub async fn start() -> Result<Self, String> {
        let work_dir = work_folder::create().map_err(|e| format!("work folder: {e}"))?;
        std::fs::write(
            work_dir.path().join("sagemaker-config.yaml"),
            sdk_config_file(),
        )
        .map_err(|e| format!("work folder: {e}"))?;
        let credentials = Credentials::generate();
        let sagemaker = SageMakerServer::start(credentials.clone())
            .await
            .map_err(|e| format!("SageMaker endpoint: {e}"))?;
        let (emr, emr_events) =
            EmrServer::start(work_dir.path().join("emr-logs"), credentials.clone())
                .await
                .map_err(|e| format!("EMR endpoint: {e}"))?;
        let moto_home = work_folder::private_dir(work_dir.path(), "moto")
            .map_err(|e| format!("work folder: {e}"))?;
        let moto_env = [
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", &credentials.access_key_id),
            ("AWS_SECRET_ACCESS_KEY", &credentials.secret_access_key),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
            ("HOME", &moto_home.display().to_string()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let moto = MotoServer::start(
            &work_dir.path().join("moto.sock"),
            &moto_env,
            credentials.clone(),
        )
        .await?;
        let view = ViewServer::start(sagemaker.pipelines().clone(), work_dir.path().to_path_buf())
            .await
            .map_err(|e| format!("view: {e}"))?;
        let functions: Functions = Arc::default();
        let emr_event_targets: EventTargets = Arc::default();
        let router = tokio::spawn(route_emr_events(
            emr_events,
            functions.clone(),
            emr_event_targets.clone(),
        ));
        let stack = Self {
            sagemaker,
            emr,
            moto,
            view,
            functions,
            emr_event_targets,
            router,
            background: Vec::new(),
            queue_urls: BTreeMap::new(),
            runner: None,
            echo_logs: false,
            credentials,
            _work_dir: work_dir,
        };
        stack.emr.engine().set_step_env(stack.client_env());
        Ok(stack)
    }

    /// The URL of the view of the stack's pipelines and executions, with its token.
    pub fn view_url(&self) -> String {
        self.view.url()
    }

    /// An execution as one self-contained HTML file (`run --report`, `report`).
    pub fn report(&self, execution_arn: &str) -> Option<String> {
        let execution = self.sagemaker.pipelines().execution(execution_arn)?;
        let runner = self.sagemaker.pipelines().runner();
        Some(crate::view::report_in(
            self.work_dir(),
            runner.as_deref(),
            &execution,
        ))
    }

    /// The stack's own folder (functions' config, jobs' folders); gone when it stops.
    pub fn work_dir(&self) -> &std::path::Path {
        self._work_dir.path()
    }

    /// Echo every function's log lines on stderr (the CLI does; tests keep them).
    pub fn echo_logs(mut self, echo: bool) -> Self {
        self.echo_logs = echo;
        self
    }

    /// The keys this start made: every endpoint answers only requests signed with them.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The environment that points an AWS SDK (or the AWS CLI) at this stack: its
    /// endpoints and its keys (`up` and `env` print it).
    pub fn client_env(&self) -> Vec<(String, String)> {
        let moto = self.moto.endpoint();
        [
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", self.credentials.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY",
                self.credentials.secret_access_key.clone(),
            ),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_ENDPOINT_URL_SAGEMAKER", self.sagemaker.endpoint()),
            ("AWS_ENDPOINT_URL_EMR", self.emr.endpoint()),
            ("AWS_ENDPOINT_URL_SQS", moto.clone()),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", moto.clone()),
            ("AWS_ENDPOINT_URL_S3", moto.clone()),
            // The SageMaker SDK asks STS for the account of its default bucket.
            ("AWS_ENDPOINT_URL_STS", moto.clone()),
            // pipeline-steps doctor --stack reads a stack.
            ("AWS_ENDPOINT_URL_CLOUDFORMATION", moto.clone()),
            // Every other service (IAM, which the 3.x SDK reads a role from, Lambda,
            // CloudWatch Logs, ...) goes to moto too: no call leaves the machine.
            ("AWS_ENDPOINT_URL", moto),
            // The 3.x SDK checks a role's permissions with IAM's policy simulator
            // (SimulatePrincipalPolicy) before a ModelTrainer or a deploy, and moto
            // answers it with a 500: on the stack a role is a name, with nothing to check.
            ("SAGEMAKER_VALIDATE_ROLE", "false".to_owned()),
            (
                "SAGEMAKER_USER_CONFIG_OVERRIDE",
                self._work_dir
                    .path()
                    .join("sagemaker-config.yaml")
                    .display()
                    .to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// What a process the stack starts (a function, an EMR step, a job) begins with,
    /// and nothing of the user's environment: the client environment, no shared AWS
    /// config or credentials file, and `home` as its HOME (so no `~/.aws` either).
    pub fn child_env(&self, home: &std::path::Path) -> Vec<(String, String)> {
        child_env(self.client_env(), home)
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
        self.start_function(name, binary, settings, Duration::from_secs(60), 128, 1)
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
        // A function's HOME is a folder of its own in the stack's.
        let home = self.work_dir().join("functions").join(name);
        let _ = std::fs::create_dir_all(&home);
        let mut env = self.child_env(&home);
        env.extend(settings);
        FunctionSpec {
            name: name.to_owned(),
            binary,
            args,
            env,
            timeout: Duration::from_secs(60),
            memory_mb: 128,
            max_concurrency: 1,
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
        max_concurrency: u32,
    ) -> Result<Arc<LocalFunction>, String> {
        let mut spec =
            self.function_spec(name, paths::handler_binary(binary)?, Vec::new(), settings);
        spec.timeout = timeout;
        spec.memory_mb = memory_mb;
        spec.max_concurrency = max_concurrency;
        self.launch(name, spec, &format!("function {name}")).await
    }

    /// Starts a function and serves it by `name`; `what` names it in an error.
    async fn launch(
        &self,
        name: &str,
        spec: FunctionSpec,
        what: &str,
    ) -> Result<Arc<LocalFunction>, String> {
        let function = Arc::new(
            LocalFunction::start(spec)
                .await
                .map_err(|e| format!("{what}: {e}"))?,
        );
        self.functions
            .lock()
            .unwrap()
            .insert(name.to_owned(), function.clone());
        Ok(function)
    }

    /// The template's function named `name`.
    pub fn function(&self, name: &str) -> Option<Arc<LocalFunction>> {
        self.functions.lock().unwrap().get(name).cloned()
    }

    /// Shuts every function down as Lambda ends its execution environments (SIGTERM
    /// first to those that asked for it, see [`LocalFunction::shutdown`]), all at once.
    pub async fn shutdown_functions(&self) {
        let functions: Vec<_> = self.functions.lock().unwrap().values().cloned().collect();
        futures::future::join_all(functions.iter().map(|f| f.shutdown())).await;
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
        sdk_config(&self.moto.endpoint(), &self.credentials)
    }

    /// An SQS client of local SQS, signed with the stack's credentials.
    pub fn sqs_client(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.moto_config())
    }

    /// An EventBridge client of local EventBridge, signed with the stack's credentials.
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
}

/// `client` with what makes it a child's whole environment (`Emulator::child_env`).
pub fn child_env(
    mut client: Vec<(String, String)>,
    home: &std::path::Path,
) -> Vec<(String, String)> {
    client.extend(
        [
            ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
            ("HOME", home.display().to_string()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    client
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
