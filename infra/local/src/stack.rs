//! The local stack: SageMaker, EMR, moto (SQS, EventBridge) and the workspace's
//! functions, all on 127.0.0.1, all stopped when the stack is dropped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::emr::{EmrEventStream, EmrServer};
use crate::lambda::{FunctionSpec, LocalFunction};
use crate::moto::MotoServer;
use crate::paths;
use crate::sagemaker::SageMakerServer;

pub const REGION: &str = "us-east-1";

/// Lambda retries a failed asynchronous invocation (as EventBridge makes) twice.
const ASYNC_RETRIES: usize = 2;

type Functions = Arc<Mutex<BTreeMap<String, Arc<LocalFunction>>>>;

pub struct LocalStack {
    pub sagemaker: SageMakerServer,
    pub emr: EmrServer,
    pub moto: MotoServer,
    functions: Functions,
    emr_event_targets: Arc<Mutex<Vec<String>>>,
    router: JoinHandle<()>,
    echo_logs: bool,
    _work_dir: tempfile::TempDir,
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        self.router.abort();
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
        let emr_event_targets: Arc<Mutex<Vec<String>>> = Arc::default();
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
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", moto),
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
        let mut env = self.client_env();
        env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let spec = FunctionSpec {
            name: name.to_owned(),
            binary: paths::handler_binary(binary)?,
            env,
            timeout: Duration::from_secs(60),
            memory_mb: 128,
            echo_logs: self.echo_logs,
        };
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
        self.emr_event_targets.lock().unwrap().push(name.to_owned());
    }
}

async fn route_emr_events(
    mut events: EmrEventStream,
    functions: Functions,
    targets: Arc<Mutex<Vec<String>>>,
) {
    while let Some(event) = events.recv().await {
        let names = targets.lock().unwrap().clone();
        for name in names {
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
