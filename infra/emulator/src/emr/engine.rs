//! Cluster lifecycles and step processes.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::process::Command;
use tokio::sync::{oneshot, Notify};

use super::events::{Emitter, EmrEventStream, EventFaults};
use super::model::{ClusterRecord, StepRecord};

/// A step to add, as AddJobFlowSteps or RunJobFlow give it.
#[derive(Clone, Debug)]
pub struct NewStep {
    /// The step's `Name`.
    pub name: String,
    /// `HadoopJarStep.Jar` (`command-runner.jar` runs `args` as a command).
    pub jar: String,
    /// `HadoopJarStep.Args`.
    pub args: Vec<String>,
    /// `ActionOnFailure`: CONTINUE, CANCEL_AND_WAIT or TERMINATE_CLUSTER.
    pub action_on_failure: String,
}

/// How CancelSteps ends a running step (`StepCancellationOption`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancel {
    /// `SEND_INTERRUPT`, EMR's default: the process is sent SIGTERM and left to exit;
    /// one still running after `INTERRUPT_GRACE` is killed.
    Interrupt,
    /// `TERMINATE_PROCESS`: the process is killed at once (so is every step of a
    /// cluster that terminates).
    Terminate,
}

/// How long an interrupted step has to exit before it is killed.
const INTERRUPT_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Default)]
struct State {
    clusters: BTreeMap<String, ClusterRecord>,
    steps: Vec<StepRecord>,
    wake: HashMap<String, Arc<Notify>>,
    kill: HashMap<String, oneshot::Sender<Cancel>>,
    next_id: u64,
}

impl State {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-LOCAL{:08}", self.next_id)
    }
}

/// The clusters and steps of the local EMR.
#[derive(Clone)]
pub struct EmrEngine {
    state: Arc<Mutex<State>>,
    emitter: Emitter,
    log_root: PathBuf,
    /// AddJobFlowSteps calls still to answer with throttling (a fault knob).
    throttle_add_steps: Arc<AtomicUsize>,
    /// What a step's process starts with (the stack's client environment), and
    /// nothing of the emulator's own: no user's keys, profile or HOME reach a step.
    step_env: Arc<Mutex<Vec<(String, String)>>>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum EngineError {
    UnknownCluster(String),
    UnknownStep(String),
    Invalid(String),
    /// EMR's ThrottlingException, injected by `throttle_next_add_steps`.
    Throttled,
}

impl EmrEngine {
    pub fn new(log_root: PathBuf) -> (Self, EmrEventStream) {
        let (emitter, events) = Emitter::new();
        (
            Self {
                state: Arc::new(Mutex::new(State::default())),
                emitter,
                log_root,
                throttle_add_steps: Arc::default(),
                step_env: Arc::default(),
            },
            events,
        )
    }

    /// The stack's client environment, which every step starts from (with PATH, and its
    /// log folder as HOME).
    pub fn set_step_env(&self, env: Vec<(String, String)>) {
        *self.step_env.lock().unwrap() = env;
    }

    pub fn event_faults(&self) -> Arc<EventFaults> {
        self.emitter.faults.clone()
    }

    /// The next `count` AddJobFlowSteps calls are throttled, as EMR throttles a busy
    /// account: what a step's `Step.THROTTLING` retry policy is for.
    pub fn throttle_next_add_steps(&self, count: usize) {
        self.throttle_add_steps.store(count, Ordering::SeqCst);
    }

    /// Creates a cluster; it starts, runs `steps` one at a time, then waits for more
    /// (`keep_alive`) or terminates.
    pub fn create_cluster(
        &self,
        name: &str,
        log_uri: Option<String>,
        keep_alive: bool,
        tags: Vec<(String, String)>,
        steps: Vec<NewStep>,
    ) -> String {
        let id = self.state.lock().unwrap().id("j");
        self.create_cluster_with_id(&id, name, log_uri, keep_alive, tags, steps);
        id
    }

    /// The same with a chosen id: the stack's standing cluster has a fixed one, so
    /// pipeline definitions can name it.
    pub fn create_cluster_with_id(
        &self,
        id: &str,
        name: &str,
        log_uri: Option<String>,
        keep_alive: bool,
        tags: Vec<(String, String)>,
        steps: Vec<NewStep>,
    ) {
        let wake = Arc::new(Notify::new());
        let id = {
            let mut state = self.state.lock().unwrap();
            let id = id.to_owned();
            let cluster = ClusterRecord {
                id: id.clone(),
                name: name.to_owned(),
                state: "STARTING".to_owned(),
                reason: None,
                log_uri,
                keep_alive,
                tags,
                created: SystemTime::now(),
                ended: None,
                request: serde_json::Value::Null,
            };
            self.emitter.cluster(&cluster);
            state.clusters.insert(id.clone(), cluster);
            state.wake.insert(id.clone(), wake.clone());
            id
        };
        if !steps.is_empty() {
            self.add_steps(&id, steps)
                .expect("the cluster was just created");
        }
        tokio::spawn(self.clone().run_cluster(id, wake));
    }

    /// Keeps the RunJobFlow request a cluster was made from, for DescribeCluster.
    pub fn remember_request(&self, id: &str, request: &serde_json::Value) {
        if let Some(cluster) = self.state.lock().unwrap().clusters.get_mut(id) {
            cluster.request = request.clone();
        }
    }

    pub fn cluster(&self, id: &str) -> Result<ClusterRecord, EngineError> {
        self.state
            .lock()
            .unwrap()
            .clusters
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::UnknownCluster(id.to_owned()))
    }

    pub fn clusters(&self) -> Vec<ClusterRecord> {
        self.state
            .lock()
            .unwrap()
            .clusters
            .values()
            .cloned()
            .collect()
    }

    /// Steps of a cluster, newest first.
    pub fn steps(&self, cluster_id: &str) -> Result<Vec<StepRecord>, EngineError> {
        let state = self.state.lock().unwrap();
        if !state.clusters.contains_key(cluster_id) {
            return Err(EngineError::UnknownCluster(cluster_id.to_owned()));
        }
        Ok(state
            .steps
            .iter()
            .rev()
            .filter(|s| s.cluster_id == cluster_id)
            .cloned()
            .collect())
    }

    pub fn step(&self, cluster_id: &str, step_id: &str) -> Result<StepRecord, EngineError> {
        self.steps(cluster_id)?
            .into_iter()
            .find(|s| s.id == step_id)
            .ok_or_else(|| EngineError::UnknownStep(step_id.to_owned()))
    }

    pub fn add_steps(
        &self,
        cluster_id: &str,
        steps: Vec<NewStep>,
    ) -> Result<Vec<String>, EngineError> {
        if self
            .throttle_add_steps
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(EngineError::Throttled);
        }
        let mut state = self.state.lock().unwrap();
        let cluster = state
            .clusters
            .get(cluster_id)
            .ok_or_else(|| EngineError::UnknownCluster(cluster_id.to_owned()))?;
        if cluster.is_terminated() || cluster.state == "TERMINATING" {
            return Err(EngineError::Invalid(format!(
                "A job flow that is shutting down, terminated, or finished may not be modified: {cluster_id}"
            )));
        }
        let cluster_name = cluster.name.clone();
        let mut ids = Vec::new();
        for step in steps {
            let id = state.id("s");
            let record = StepRecord {
                id: id.clone(),
                name: step.name,
                cluster_id: cluster_id.to_owned(),
                state: "PENDING".to_owned(),
                jar: step.jar,
                args: step.args,
                action_on_failure: step.action_on_failure,
                failure: None,
                created: SystemTime::now(),
                started: None,
                ended: None,
                log_dir: self.log_root.join(cluster_id).join("steps").join(&id),
            };
            self.emitter.step(&record, &cluster_name);
            state.steps.push(record);
            ids.push(id);
        }
        if let Some(wake) = state.wake.get(cluster_id) {
            wake.notify_one();
        }
        Ok(ids)
    }

    /// Cancels a PENDING step at once, and a RUNNING one by interrupting its process.
    pub fn cancel_step(
        &self,
        cluster_id: &str,
        step_id: &str,
        how: Cancel,
    ) -> Result<Result<(), String>, EngineError> {
        let mut state = self.state.lock().unwrap();
        let cluster_name = state
            .clusters
            .get(cluster_id)
            .map(|c| c.name.clone())
            .ok_or_else(|| EngineError::UnknownCluster(cluster_id.to_owned()))?;
        let step = state
            .steps
            .iter_mut()
            .find(|s| s.cluster_id == cluster_id && s.id == step_id)
            .ok_or_else(|| EngineError::UnknownStep(step_id.to_owned()))?;
        match step.state.as_str() {
            "PENDING" => {
                step.state = "CANCELLED".to_owned();
                step.ended = Some(SystemTime::now());
                self.emitter.step(step, &cluster_name);
                Ok(Ok(()))
            }
            "RUNNING" => {
                step.state = "CANCEL_PENDING".to_owned();
                self.emitter.step(step, &cluster_name);
                if let Some(kill) = state.kill.remove(step_id) {
                    let _ = kill.send(how);
                }
                Ok(Ok(()))
            }
            other => Ok(Err(format!(
                "step {step_id} is {other} and cannot be cancelled"
            ))),
        }
    }

    pub fn terminate(&self, cluster_id: &str) -> Result<(), EngineError> {
        self.end_cluster(
            cluster_id,
            "TERMINATED",
            ("USER_REQUEST", "Terminated by user request"),
        )
    }

    /// Ends a cluster: pending steps are cancelled, a running one interrupted.
    fn end_cluster(
        &self,
        cluster_id: &str,
        end_state: &str,
        reason: (&str, &str),
    ) -> Result<(), EngineError> {
        let mut state = self.state.lock().unwrap();
        let cluster = state
            .clusters
            .get_mut(cluster_id)
            .ok_or_else(|| EngineError::UnknownCluster(cluster_id.to_owned()))?;
        if cluster.is_terminated() || cluster.state == "TERMINATING" {
            return Ok(());
        }
        cluster.state = "TERMINATING".to_owned();
        cluster.reason = Some((reason.0.to_owned(), reason.1.to_owned()));
        let snapshot = cluster.clone();
        self.emitter.cluster(&snapshot);
        let now = SystemTime::now();
        let mut killed = Vec::new();
        for step in state
            .steps
            .iter_mut()
            .filter(|s| s.cluster_id == cluster_id)
        {
            match step.state.as_str() {
                "PENDING" => step.state = "CANCELLED".to_owned(),
                "RUNNING" | "CANCEL_PENDING" => {
                    step.state = "INTERRUPTED".to_owned();
                    killed.push(step.id.clone());
                }
                _ => continue,
            }
            step.ended = Some(now);
            self.emitter.step(step, &snapshot.name);
        }
        for id in killed {
            if let Some(kill) = state.kill.remove(&id) {
                let _ = kill.send(Cancel::Terminate);
            }
        }
        let cluster = state.clusters.get_mut(cluster_id).expect("present above");
        cluster.state = end_state.to_owned();
        cluster.ended = Some(now);
        let snapshot = cluster.clone();
        self.emitter.cluster(&snapshot);
        if let Some(wake) = state.wake.get(cluster_id) {
            wake.notify_one();
        }
        Ok(())
    }

    fn set_cluster_state(&self, cluster_id: &str, new_state: &str) {
        let mut state = self.state.lock().unwrap();
        if let Some(cluster) = state.clusters.get_mut(cluster_id) {
            if cluster.state != new_state
                && !cluster.is_terminated()
                && cluster.state != "TERMINATING"
            {
                cluster.state = new_state.to_owned();
                self.emitter.cluster(cluster);
            }
        }
    }

    /// Takes the oldest PENDING step and marks it RUNNING; None when there is none or
    /// the cluster has ended.
    fn next_step(&self, cluster_id: &str) -> Option<(StepRecord, oneshot::Receiver<Cancel>)> {
        let mut state = self.state.lock().unwrap();
        let cluster = state.clusters.get(cluster_id)?;
        if cluster.is_terminated() || cluster.state == "TERMINATING" {
            return None;
        }
        let cluster_name = cluster.name.clone();
        let step = state
            .steps
            .iter_mut()
            .find(|s| s.cluster_id == cluster_id && s.state == "PENDING")?;
        step.state = "RUNNING".to_owned();
        step.started = Some(SystemTime::now());
        self.emitter.step(step, &cluster_name);
        let record = step.clone();
        let (kill, killed) = oneshot::channel();
        state.kill.insert(record.id.clone(), kill);
        Some((record, killed))
    }

    fn finish_step(&self, step_id: &str, outcome: StepEnd) -> Option<String> {
        let mut state = self.state.lock().unwrap();
        state.kill.remove(step_id);
        let step = state.steps.iter_mut().find(|s| s.id == step_id)?;
        if step.is_ended() {
            // Terminating the cluster already ended it (INTERRUPTED).
            return None;
        }
        step.ended = Some(SystemTime::now());
        match outcome {
            StepEnd::Exited(0) => step.state = "COMPLETED".to_owned(),
            StepEnd::Killed => step.state = "CANCELLED".to_owned(),
            StepEnd::Exited(code) => {
                step.state = "FAILED".to_owned();
                let log = step.log_dir.join("stderr").display().to_string();
                step.failure = Some((
                    "Unknown Error.".to_owned(),
                    format!("Command exited with status {code}"),
                    log,
                ));
            }
            StepEnd::NotRunnable(why) => {
                step.state = "FAILED".to_owned();
                step.failure = Some(("Unknown Error.".to_owned(), why, String::new()));
            }
        }
        let action = (step.state == "FAILED").then(|| step.action_on_failure.clone());
        let snapshot = step.clone();
        let cluster_name = state
            .clusters
            .get(&snapshot.cluster_id)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        self.emitter.step(&snapshot, &cluster_name);
        action
    }

    fn has_pending(&self, cluster_id: &str) -> bool {
        let state = self.state.lock().unwrap();
        state
            .steps
            .iter()
            .any(|s| s.cluster_id == cluster_id && s.state == "PENDING")
    }

    fn keeps_alive(&self, cluster_id: &str) -> bool {
        self.state
            .lock()
            .unwrap()
            .clusters
            .get(cluster_id)
            .is_some_and(|c| c.keep_alive)
    }

    fn is_ended(&self, cluster_id: &str) -> bool {
        self.state
            .lock()
            .unwrap()
            .clusters
            .get(cluster_id)
            .is_none_or(|c| c.is_terminated() || c.state == "TERMINATING")
    }

    async fn run_cluster(self, cluster_id: String, wake: Arc<Notify>) {
        self.set_cluster_state(&cluster_id, "BOOTSTRAPPING");
        self.set_cluster_state(&cluster_id, "RUNNING");
        loop {
            if self.is_ended(&cluster_id) {
                return;
            }
            if let Some((step, killed)) = self.next_step(&cluster_id) {
                self.set_cluster_state(&cluster_id, "RUNNING");
                let env = self.step_env.lock().unwrap().clone();
                let end = run_step(&step, killed, env).await;
                match self.finish_step(&step.id, end).as_deref() {
                    Some("TERMINATE_CLUSTER" | "TERMINATE_JOB_FLOW") => {
                        let _ = self.end_cluster(
                            &cluster_id,
                            "TERMINATED_WITH_ERRORS",
                            ("STEP_FAILURE", "Shut down as step failed"),
                        );
                    }
                    Some("CANCEL_AND_WAIT") => {
                        for pending in self.steps(&cluster_id).unwrap_or_default() {
                            if pending.state == "PENDING" {
                                let _ =
                                    self.cancel_step(&cluster_id, &pending.id, Cancel::Terminate);
                            }
                        }
                    }
                    _ => {}
                }
                continue;
            }
            if self.has_pending(&cluster_id) {
                continue;
            }
            if !self.keeps_alive(&cluster_id) {
                let _ = self.end_cluster(
                    &cluster_id,
                    "TERMINATED",
                    ("ALL_STEPS_COMPLETED", "Steps completed"),
                );
                return;
            }
            self.set_cluster_state(&cluster_id, "WAITING");
            wake.notified().await;
        }
    }
}

enum StepEnd {
    Exited(i32),
    Killed,
    NotRunnable(String),
}

/// Runs a command-runner.jar step: Args is the command line; its output is kept in the
/// step's log folder as stdout and stderr, as EMR keeps them. The process starts from
/// `env` alone, with the log folder as its HOME.
async fn run_step(
    step: &StepRecord,
    killed: oneshot::Receiver<Cancel>,
    env: Vec<(String, String)>,
) -> StepEnd {
    if step.jar != "command-runner.jar" {
        return StepEnd::NotRunnable(format!(
            "the local EMR runs command-runner.jar steps only, not {}",
            step.jar
        ));
    }
    let Some((program, args)) = step.args.split_first() else {
        return StepEnd::NotRunnable("Args is empty".to_owned());
    };
    if let Err(e) = std::fs::create_dir_all(&step.log_dir) {
        return StepEnd::NotRunnable(format!("log folder {}: {e}", step.log_dir.display()));
    }
    let open = |name: &str| std::fs::File::create(step.log_dir.join(name)).map(Stdio::from);
    let (Ok(stdout), Ok(stderr)) = (open("stdout"), open("stderr")) else {
        return StepEnd::NotRunnable("cannot write the step's logs".to_owned());
    };
    let env = crate::stack::child_env(env, &step.log_dir);
    let child = crate::child::dies_with_parent(&mut Command::new(program))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env)
        .current_dir(&step.log_dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => return StepEnd::NotRunnable(format!("cannot run {program}: {e}")),
    };
    tokio::select! {
        status = child.wait() => match status {
            Ok(status) => StepEnd::Exited(status.code().unwrap_or(-1)),
            Err(e) => StepEnd::NotRunnable(e.to_string()),
        },
        Ok(how) = killed => {
            if how == Cancel::Interrupt {
                if let Some(pid) = child.id() {
                    // SAFETY: kill(2) on the pid of a child this task still owns.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
                }
                if tokio::time::timeout(INTERRUPT_GRACE, child.wait()).await.is_ok() {
                    return StepEnd::Killed;
                }
            }
            let _ = child.kill().await;
            StepEnd::Killed
        }
    }
}
