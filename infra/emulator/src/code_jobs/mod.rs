//! Jobs whose code runs for real (`--run-code`): the step's own script, in the Python
//! interpreter the user names, with no Docker. A job gets a folder of its own that it
//! sees as `/opt/ml` ([`sandbox`]), its inputs from local S3 ([`staging`]), the stack's
//! endpoints and no others, and a log; it ends when its process does, when its
//! MaxRuntimeInSeconds passes, or when it is stopped.

mod output;
pub mod sandbox;
pub mod staging;

use output::{failure, keep_output};
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::watch;

/// One object or prefix of local S3 put below the job's `/opt/ml` before it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Download {
    pub s3_uri: String,
    /// Below `/opt/ml` (`processing/input/code`).
    pub local: PathBuf,
    /// How the URI is staged.
    pub kind: Staging,
}

/// What a download's S3 URI names, and so how it lands in the job's folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Staging {
    /// Every object under the prefix, by its key past the prefix.
    Prefix,
    /// One `.tar.gz` (a sourcedir, a model) unpacked into the folder.
    Archive,
    /// A manifest file (`[{"prefix": "s3://b/p/"}, "key", ...]`): each object it lists,
    /// by its key past the manifest's prefix.
    Manifest,
}

/// One folder below the job's `/opt/ml` copied to local S3 when it ends well.
#[derive(Clone, Debug, PartialEq)]
pub struct Upload {
    pub local: PathBuf,
    pub s3_uri: String,
}

/// A job to run: what SageMaker would have run in its container.
#[derive(Clone, Debug, PartialEq)]
pub struct CodeJob {
    /// The job's name (ProcessingJobName, TrainingJobName).
    pub name: String,
    /// Entrypoint and arguments; `python`/`python3` are the user's interpreter.
    pub command: Vec<String>,
    /// The job's Environment, beside the stack's endpoints.
    pub env: Vec<(String, String)>,
    /// Where the process starts, inside its namespace (`/opt/ml/...`).
    pub cwd: PathBuf,
    /// S3 objects copied below `/opt/ml` before the process starts (its inputs).
    pub downloads: Vec<Download>,
    /// Folders below `/opt/ml` copied to S3 when it ends well (its outputs).
    pub uploads: Vec<Upload>,
    /// Folders below `/opt/ml` that exist before the job starts (its outputs').
    pub folders: Vec<PathBuf>,
    /// Files below `/opt/ml` written before it starts (a training job's config).
    pub files: Vec<(PathBuf, String)>,
    /// Folders below `/opt/ml` packed into a `.tar.gz` at their S3 URI when it ends well
    /// (a training job's `model` as `model.tar.gz`).
    pub archives: Vec<Upload>,
    /// How long it may run before it is stopped and fails (`StoppingCondition`).
    pub max_runtime: Duration,
    /// What the step's description says of the run beyond its command (the interpreter's
    /// package in place of the image's, ...).
    pub note: Option<String>,
}

/// How a job ended.
#[derive(Clone, Debug, PartialEq)]
pub enum CodeJobEnd {
    /// Its process exited 0 and its outputs are in local S3. `root` is its `/opt/ml`,
    /// `log` its output.
    Completed {
        /// The job's `/opt/ml`.
        root: PathBuf,
        /// The file holding its output.
        log: PathBuf,
    },
    /// The failure reason: what went wrong and the last lines of the job's output.
    Failed(String),
    /// It was stopped (StopProcessingJob, StopTrainingJob, a stopped execution).
    Stopped,
}

/// After SIGTERM, how long a stopped job has before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// After a job's processes are gone, how long its output has to reach its log (a process
/// that left the job's group may still hold its pipes).
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// Where the lines of jobs' output are echoed.
pub type Echo = Arc<dyn Fn(String) + Send + Sync>;

/// An S3 client that reaches nothing (a closed port on loopback): for jobs whose inputs
/// are files of their own, as tests and benchmarks write them; a job that did call it
/// would fail at once, never reach elsewhere.
pub fn offline_s3() -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build(),
    )
}

/// Runs jobs' code with the stack's environment and local S3.
pub struct CodeJobs {
    /// The environment that points AWS SDKs at the stack (`env`'s exports).
    pub stack_env: Vec<(String, String)>,
    /// Local S3, where inputs are read and outputs written.
    pub s3: aws_sdk_s3::Client,
    /// The stack's folder; each job gets one below it.
    pub work: PathBuf,
    /// Where a job's output is echoed as it comes, `[job name] line`, beside the
    /// functions' logs (`EMULATOR_LOGS`); nowhere when `None`.
    echo: Option<Echo>,
    next: AtomicU64,
}

impl CodeJobs {
    /// Jobs run below `work` with `stack_env` and local S3 `s3`, echoing nowhere.
    pub fn new(stack_env: Vec<(String, String)>, s3: aws_sdk_s3::Client, work: PathBuf) -> Self {
        Self {
            stack_env,
            s3,
            work,
            echo: None,
            next: AtomicU64::new(1),
        }
    }

    /// Echo each job's output on stderr as the functions' logs are (`EMULATOR_LOGS`).
    pub fn echo_logs(self, echo: bool) -> Self {
        if echo {
            self.echo_to(|line| eprintln!("{line}"))
        } else {
            self
        }
    }

    /// Echo each line of each job's output, `[job name] line`, to `sink`.
    pub fn echo_to(mut self, sink: impl Fn(String) + Send + Sync + 'static) -> Self {
        self.echo = Some(Arc::new(sink));
        self
    }

    /// Runs `job` with `python` as its interpreter to its end, or until `stop` turns true.
    pub async fn run(
        &self,
        job: &CodeJob,
        python: &Path,
        stop: watch::Receiver<bool>,
    ) -> CodeJobEnd {
        let folder = self.work.join("jobs").join(format!(
            "{}-{}",
            job.name,
            self.next.fetch_add(1, Ordering::Relaxed)
        ));
        let root = folder.join("opt-ml");
        let log = folder.join("output.log");
        if let Err(reason) = self.stage(job, python, &folder, &root).await {
            return CodeJobEnd::Failed(format!("ClientError: {reason}"));
        }
        match self.execute(job, &folder, &root, &log, stop).await {
            Ok(Exit::Code(0)) => {}
            Ok(Exit::Code(code)) => {
                return CodeJobEnd::Failed(failure(
                    job,
                    &root,
                    &log,
                    &format!("exited with code {code}"),
                ))
            }
            Ok(Exit::Signal(signal)) => {
                return CodeJobEnd::Failed(failure(
                    job,
                    &root,
                    &log,
                    &format!("was killed by signal {signal}"),
                ))
            }
            Ok(Exit::TimedOut) => {
                return CodeJobEnd::Failed(failure(
                    job,
                    &root,
                    &log,
                    &format!(
                        "ran past its MaxRuntimeInSeconds ({} s) and was stopped",
                        job.max_runtime.as_secs()
                    ),
                ))
            }
            Ok(Exit::Stopped) => return CodeJobEnd::Stopped,
            Err(reason) => return CodeJobEnd::Failed(format!("ClientError: {reason}")),
        }
        for upload in &job.uploads {
            if let Err(reason) =
                staging::upload(&self.s3, &root.join(&upload.local), &upload.s3_uri).await
            {
                return CodeJobEnd::Failed(format!(
                    "ClientError: uploading the job's output: {reason}"
                ));
            }
        }
        for archive in &job.archives {
            let packed = folder.join("archive.tar.gz");
            let result = async {
                staging::pack(&root.join(&archive.local), &packed)?;
                staging::upload_file(&self.s3, &packed, &archive.s3_uri).await
            }
            .await;
            if let Err(reason) = result {
                return CodeJobEnd::Failed(format!(
                    "ClientError: packing the job's {}: {reason}",
                    archive.local.display()
                ));
            }
        }
        CodeJobEnd::Completed { root, log }
    }

    /// The job's folder, its inputs, and the `python` it runs.
    async fn stage(
        &self,
        job: &CodeJob,
        python: &Path,
        folder: &Path,
        root: &Path,
    ) -> Result<(), String> {
        let made = |path: &Path| {
            std::fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))
        };
        made(root)?;
        for folder in &job.folders {
            made(&root.join(folder))?;
        }
        for download in &job.downloads {
            let local = root.join(&download.local);
            made(&local)?;
            match download.kind {
                Staging::Archive => {
                    // Outside the job's /opt/ml, and gone once unpacked (a job may
                    // unpack several: a model and its inference code).
                    let archive = folder.join("download.tar.gz");
                    staging::download_file(&self.s3, &download.s3_uri, &archive).await?;
                    let unpacked = staging::unpack(&archive, &local);
                    let _ = std::fs::remove_file(&archive);
                    unpacked?;
                }
                Staging::Prefix => {
                    staging::download(&self.s3, &download.s3_uri, &local).await?;
                }
                Staging::Manifest => {
                    staging::download_manifest(&self.s3, &download.s3_uri, &local).await?;
                }
            }
        }
        for (path, text) in &job.files {
            let path = root.join(path);
            if let Some(parent) = path.parent() {
                made(parent)?;
            }
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        // Shell scripts rather than symlinks: a venv's interpreter finds its venv from
        // the path it is started by. pip too is the interpreter's own (the 3.x SDK's
        // sm_train.sh looks for one, and installs a requirements.txt with it).
        let bin = folder.join("bin");
        made(&bin)?;
        for (name, module) in [
            ("python", ""),
            ("python3", ""),
            ("pip", " -m pip"),
            ("pip3", " -m pip"),
        ] {
            let shim = bin.join(name);
            std::fs::write(
                &shim,
                format!("#!/bin/sh\nexec '{}'{module} \"$@\"\n", python.display()),
            )
            .map_err(|e| format!("{}: {e}", shim.display()))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("{}: {e}", shim.display()))?;
        }
        Ok(())
    }

    async fn execute(
        &self,
        job: &CodeJob,
        folder: &Path,
        root: &Path,
        log: &Path,
        mut stop: watch::Receiver<bool>,
    ) -> Result<Exit, String> {
        let (program, args) = job.command.split_first().ok_or("the job has no command")?;
        let output = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let output = Arc::new(Mutex::new(output));
        let path = format!(
            "{}:{}",
            folder.join("bin").display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        );
        let mut command = Command::new(program);
        crate::child::dies_with_parent(&mut command)
            .args(args)
            .env_clear()
            .envs(self.stack_env.iter().map(|(k, v)| (k, v)))
            // No profile of the user's can send a call elsewhere.
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("HOME", folder)
            .env("PATH", &path)
            .envs(job.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        sandbox::confine(&mut command, root, folder, &job.cwd).map_err(|e| e.to_string())?;
        let mut child = command
            .spawn()
            .map_err(|e| format!("starting {program}: {e}"))?;
        let echo = self.echo.clone().map(|sink| (job.name.clone(), sink));
        let copies: Vec<_> = crate::child::take_output(&mut child)
            .into_iter()
            .map(|stream| tokio::spawn(keep_output(stream, output.clone(), echo.clone())))
            .collect();
        let group = child.id().map(|pid| pid as i32);
        let ended = tokio::select! {
            status = child.wait() => Exit::from(status.map_err(|e| e.to_string())?),
            _ = tokio::time::sleep(job.max_runtime) => Exit::TimedOut,
            _ = stop.wait_for(|stopping| *stopping) => Exit::Stopped,
        };
        if let Some(group) = group {
            if matches!(ended, Exit::TimedOut | Exit::Stopped) {
                // As SageMaker stops a job: SIGTERM to all its processes, SIGKILL after a
                // grace.
                // SAFETY: kill(2) on the job's own process group.
                unsafe { libc::kill(-group, libc::SIGTERM) };
                let _ = tokio::time::timeout(STOP_GRACE, child.wait()).await;
            }
            // What the job left running ends with it, as a container's processes do.
            // SAFETY: kill(2) on the job's own process group.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        let _ = child.wait().await;
        for copy in copies {
            let _ = tokio::time::timeout(OUTPUT_GRACE, copy).await;
        }
        Ok(ended)
    }
}

enum Exit {
    Code(i32),
    Signal(i32),
    TimedOut,
    Stopped,
}

impl From<std::process::ExitStatus> for Exit {
    fn from(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match status.code() {
            Some(code) => Self::Code(code),
            None => Self::Signal(status.signal().unwrap_or_default()),
        }
    }
}
