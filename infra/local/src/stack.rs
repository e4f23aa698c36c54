//! The local stack: SageMaker, moto (SQS, EventBridge) and the workspace's functions,
//! all on 127.0.0.1, all stopped when the stack is dropped.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::lambda::{FunctionSpec, LocalFunction};
use crate::moto::MotoServer;
use crate::paths;
use crate::sagemaker::SageMakerServer;

pub const REGION: &str = "us-east-1";

pub struct LocalStack {
    pub sagemaker: SageMakerServer,
    pub moto: MotoServer,
    functions: BTreeMap<String, LocalFunction>,
    echo_logs: bool,
}

impl LocalStack {
    pub async fn start() -> Result<Self, String> {
        let sagemaker = SageMakerServer::start()
            .await
            .map_err(|e| format!("SageMaker endpoint: {e}"))?;
        let moto = MotoServer::start().await?;
        Ok(Self {
            sagemaker,
            moto,
            functions: BTreeMap::new(),
            echo_logs: false,
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
    ) -> Result<&LocalFunction, String> {
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
        let function = LocalFunction::start(spec)
            .await
            .map_err(|e| format!("function {name}: {e}"))?;
        self.functions.insert(name.to_owned(), function);
        Ok(&self.functions[name])
    }

    pub fn function(&self, name: &str) -> Option<&LocalFunction> {
        self.functions.get(name)
    }
}
