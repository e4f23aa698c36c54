use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::JoinHandle;

use super::runtime_api::{Invocation, RuntimeApi};
use super::InvokeError;

/// How to run one function.
#[derive(Clone, Debug)]
pub struct FunctionSpec {
    /// The function's name, as the template's resource names it.
    pub name: String,
    /// The executable that runs the function (a bootstrap).
    pub binary: PathBuf,
    /// Arguments of the binary (an interpreter's script and handler, say).
    pub args: Vec<String>,
    /// The function's environment; nothing else of this process's environment is
    /// passed on but PATH, so no real credentials reach a local function.
    pub env: Vec<(String, String)>,
    /// How long an invocation may take (`Timeout`).
    pub timeout: Duration,
    /// `MemorySize`, given to the function as `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u32,
    /// Invocations its process serves at once: 1 as on Lambda (default); more, given
    /// as `AWS_LAMBDA_MAX_CONCURRENCY`, as on Lambda Managed Instances.
    pub max_concurrency: u32,
    /// Echo the function's log lines on stderr, prefixed with its name.
    pub echo_logs: bool,
}

/// Kept log lines per function; older ones are dropped past this.
const MAX_LOG_LINES: usize = 20_000;

/// A function process and its Runtime API. One invocation at a time, as in one Lambda
/// sandbox; a process that crashed or timed out is started again on the next call.
/// With `max_concurrency` above 1, as on Lambda Managed Instances: up to that many at
/// once in one process, further calls waiting for a free slot, and a timeout failing
/// its invocation only (the process and its other invocations go on).
pub struct LocalFunction {
    spec: FunctionSpec,
    api: Arc<RuntimeApi>,
    process: tokio::sync::Mutex<Option<Process>>,
    slots: Semaphore,
    logs: Arc<Mutex<VecDeque<String>>>,
    busy: Mutex<Duration>,
    /// Invocations enqueued and not yet answered, and the most there were at once.
    in_flight: Mutex<(usize, usize)>,
}

struct Process {
    pid: Option<u32>,
    spawned: std::time::Instant,
    watcher: JoinHandle<()>,
    /// The exit status, once the process has ended.
    exited: watch::Receiver<Option<String>>,
}

/// How long a runtime has between SIGTERM and SIGKILL when its extensions are
/// internal, as Lambda gives it.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

impl Drop for Process {
    fn drop(&mut self) {
        // Dropping the watcher's Child kills the process (kill_on_drop).
        self.watcher.abort();
    }
}

impl LocalFunction {
    /// Starts the function's Runtime API and its process.
    pub async fn start(spec: FunctionSpec) -> std::io::Result<Self> {
        let api = Arc::new(RuntimeApi::start(&spec.name).await?);
        let slots = Semaphore::new(spec.max_concurrency.max(1) as usize);
        let function = Self {
            spec,
            api,
            process: tokio::sync::Mutex::new(None),
            slots,
            logs: Arc::new(Mutex::new(VecDeque::new())),
            busy: Mutex::new(Duration::ZERO),
            in_flight: Mutex::new((0, 0)),
        };
        {
            let mut process = function.process.lock().await;
            *process = Some(function.spawn().map_err(std::io::Error::other)?);
        }
        Ok(function)
    }

    /// `host:port` of the function's Runtime API (its `AWS_LAMBDA_RUNTIME_API`).
    pub fn runtime_api(&self) -> String {
        self.api.address()
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Every line the function's processes have written so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().iter().cloned().collect()
    }

    /// The id of the current process, if one runs.
    pub async fn pid(&self) -> Option<u32> {
        self.process.lock().await.as_ref().and_then(|p| p.pid)
    }

    /// The current process's init: from its spawn to its first poll for an invocation,
    /// what Lambda's REPORT line gives as `Init Duration`. None until it has polled.
    pub async fn init_duration(&self) -> Option<Duration> {
        let spawned = self.process.lock().await.as_ref()?.spawned;
        Some(self.api.first_poll()?.saturating_duration_since(spawned))
    }

    /// Time spent in invocations so far, from enqueue to answer: the handler's own time
    /// as a pipeline step sees it.
    pub fn busy_time(&self) -> Duration {
        *self.busy.lock().unwrap()
    }

    /// Invocations handed to the process and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.lock().unwrap().0
    }

    /// The most invocations the function has had in flight at once.
    pub fn peak_in_flight(&self) -> usize {
        self.in_flight.lock().unwrap().1
    }

    /// Invokes the function with `payload` and waits for its answer.
    pub async fn invoke(&self, payload: &Value) -> Result<Value, InvokeError> {
        let started = std::time::Instant::now();
        let answer = self.invoke_once(payload).await;
        *self.busy.lock().unwrap() += started.elapsed();
        answer
    }

    async fn invoke_once(&self, payload: &Value) -> Result<Value, InvokeError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| InvokeError::Crashed("the function was shut down".to_owned()))?;
        {
            let mut process = self.process.lock().await;
            let running = process
                .as_ref()
                .is_some_and(|p| p.exited.borrow().is_none());
            if !running {
                *process = Some(self.spawn()?);
            }
        }
        let (reply, answer) = oneshot::channel();
        self.api.enqueue(Invocation {
            payload: Bytes::from(payload.to_string()),
            timeout: self.spec.timeout,
            reply,
        });
        let _counted = InFlightCount::enter(&self.in_flight);
        match tokio::time::timeout(self.spec.timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(InvokeError::Crashed("no answer".to_owned())),
            Err(_) => {
                let error = InvokeError::Timeout(self.spec.timeout);
                // Lambda Managed Instances fail the invocation and leave the process
                // and its other invocations running; Lambda (default) ends the sandbox.
                if self.spec.max_concurrency <= 1 {
                    *self.process.lock().await = None;
                    self.api.fail_all(&error);
                }
                Err(error)
            }
        }
    }

    /// Ends the function's process as Lambda ends an execution environment: SIGTERM
    /// first when it registered an extension (the runtime then has 500 ms), SIGKILL
    /// otherwise and after. Invocations still unanswered end as crashed; calls after
    /// this fail. Returns how the process ended, if one ran.
    pub async fn shutdown(&self) -> Option<String> {
        self.slots.close();
        let mut process = self.process.lock().await.take()?;
        if self.api.extensions_registered() {
            if let Some(pid) = process.pid {
                // SAFETY: kill has no memory effects. The pid is our child's: it is
                // only free for reuse once the watcher has reaped it, which `exited`
                // shows (a race of a few instructions remains, as with any kill).
                if process.exited.borrow().is_none() {
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
                }
            }
            let ended = process.exited.wait_for(Option::is_some);
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, ended).await;
        }
        let status = process.exited.borrow().clone();
        // Dropping the process kills it if it is still running.
        drop(process);
        self.api.fail_all(&InvokeError::Crashed(
            "the function was shut down".to_owned(),
        ));
        status.or_else(|| Some("killed".to_owned()))
    }

    fn spawn(&self) -> Result<Process, InvokeError> {
        let spec = &self.spec;
        let mut command = Command::new(&spec.binary);
        crate::child::dies_with_parent(&mut command)
            .args(&spec.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", self.api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                spec.memory_mb.to_string(),
            )
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", spec.name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .envs((spec.max_concurrency > 1).then(|| {
                (
                    "AWS_LAMBDA_MAX_CONCURRENCY",
                    spec.max_concurrency.to_string(),
                )
            }))
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        self.api.process_started();
        let spawned = std::time::Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| InvokeError::Spawn(format!("{}: {e}", spec.binary.display())))?;
        for stream in crate::child::take_output(&mut child) {
            tokio::spawn(keep_lines(
                stream,
                self.logs.clone(),
                spec.name.clone(),
                spec.echo_logs,
            ));
        }
        let pid = child.id();
        self.api.serve_process(pid.unwrap_or_default());
        let (exit, exited) = watch::channel(None);
        let watcher = tokio::spawn(watch_exit(child, self.api.clone(), exit));
        Ok(Process {
            pid,
            spawned,
            watcher,
            exited,
        })
    }
}

/// One invocation counted in flight until dropped.
struct InFlightCount<'a>(&'a Mutex<(usize, usize)>);

impl<'a> InFlightCount<'a> {
    fn enter(count: &'a Mutex<(usize, usize)>) -> Self {
        let mut count_and_peak = count.lock().unwrap();
        count_and_peak.0 += 1;
        count_and_peak.1 = count_and_peak.1.max(count_and_peak.0);
        Self(count)
    }
}

impl Drop for InFlightCount<'_> {
    fn drop(&mut self) {
        self.0.lock().unwrap().0 -= 1;
    }
}

/// Waits for the process to end, then fails what it left unanswered.
async fn watch_exit(mut child: Child, api: Arc<RuntimeApi>, exited: watch::Sender<Option<String>>) {
    let status = match child.wait().await {
        Ok(status) => status.to_string(),
        Err(e) => e.to_string(),
    };
    exited.send_replace(Some(status.clone()));
    api.fail_all(&InvokeError::Crashed(status));
}

async fn keep_lines(
    stream: crate::child::OutputStream,
    logs: Arc<Mutex<VecDeque<String>>>,
    name: String,
    echo: bool,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if echo {
            eprintln!("[{name}] {}", crate::child::printable(&line));
        }
        let mut logs = logs.lock().unwrap();
        if logs.len() == MAX_LOG_LINES {
            logs.pop_front();
        }
        logs.push_back(line);
    }
}
