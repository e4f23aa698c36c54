//! What the pipelines-emulator command does: `up`, `run`, `rerun`, `stop`, `env`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::live_view;
use crate::paths;
use crate::pipeline::definition::Definition;
use crate::pipeline::{start_execution, Mocks, PipelineSpec, StartRequest};
use crate::stack::{DeployOptions, Emulator, STANDING_CLUSTER_ID};

/// How long `run` waits, after Ctrl-C, for the execution to stop before tearing down.
const STOP_GRACE: Duration = Duration::from_secs(60);

/// The file in which `up` and `run` say where their endpoints are (`paths::state_dir`).
fn endpoints_file() -> PathBuf {
    paths::state_dir().join("endpoints.json")
}

/// What `up` and `run` deploy beyond the template's defaults.
#[derive(Clone, Debug, Default)]
pub struct StackOptions {
    /// `--template FILE`
    pub template: Option<PathBuf>,
    /// `--template-param Name=Value`
    pub template_parameters: BTreeMap<String, String>,
    /// `--function NAME=COMMAND`
    pub functions: BTreeMap<String, String>,
    /// `--queue NAME=LOGICAL_ID`
    pub queues: BTreeMap<String, String>,
    /// `--queue-function NAME=COMMAND`
    pub queue_functions: BTreeMap<String, String>,
    /// `--mocks FILE`
    pub mocks: Option<PathBuf>,
    /// `--run-code`
    pub run_code: bool,
    /// `--python PATH`
    pub python: Option<String>,
}

async fn start_stack(options: &StackOptions) -> Result<Emulator, String> {
    let mut stack = Emulator::start()
        .await?
        .echo_logs(std::env::var_os("EMULATOR_LOGS").is_some());
    stack
        .deploy(&DeployOptions {
            template: options.template.clone(),
            parameters: options.template_parameters.clone(),
            visibility_timeout: None,
            extra_functions: options.functions.clone(),
            queue_routes: options.queues.clone(),
            queue_functions: options.queue_functions.clone(),
        })
        .await?;
    stack.start_standing_cluster();
    let env: serde_json::Map<String, serde_json::Value> = stack
        .client_env()
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    let endpoints = serde_json::json!({"sagemaker": stack.sagemaker.endpoint(), "emr": stack.emr.endpoint(),
        "moto": stack.moto.endpoint(), "view": stack.view_url(), "pid": std::process::id(), "env": env});
    write_private(&endpoints_file(), &endpoints.to_string())
        .map_err(|e| format!("{}: {e}", endpoints_file().display()))?;
    Ok(stack)
}

/// Writes the state file as the user's alone: the file 0600 (its folder, when made here,
/// 0700; a folder the user named is left as it is), written whole under another name and
/// renamed, so no reader sees it half written or open to others for a moment, and a link
/// planted at its name is replaced, not followed.
fn write_private(file: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = file.parent().unwrap_or(std::path::Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let partial = dir.join(format!(".endpoints.{}", std::process::id()));
    let _ = std::fs::remove_file(&partial);
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)?;
    out.write_all(text.as_bytes())?;
    std::fs::rename(&partial, file)
}

fn forget_endpoints() {
    let file = endpoints_file();
    let mine = std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["pid"] == std::process::id());
    if mine {
        let _ = std::fs::remove_file(file);
    }
}

/// Job steps run their code when `--run-code` or the mock file asks, in `--python`;
/// `--python` with neither is refused, not ignored.
async fn enable_code(
    stack: &Emulator,
    options: &StackOptions,
    mocks: &Mocks,
) -> Result<(), String> {
    if options.run_code || mocks.runs_code() {
        let python = options.python.as_deref().unwrap_or("python3");
        return stack.enable_code(python, options.run_code).await;
    }
    match &options.python {
        Some(python) => Err(format!(
            "--python {python}: no job step runs its code (give --run-code, or \"Run\": \"code\" to a step in the mock file)"
        )),
        None => Ok(()),
    }
}

/// Reads a `--mocks` file; a bad one is refused before anything starts.
fn read_mocks(path: Option<&PathBuf>) -> Result<Mocks, String> {
    let Some(path) = path else {
        return Ok(Mocks::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Mocks::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The signals that stop the stack: Ctrl-C (SIGINT), and SIGTERM and SIGHUP, as
/// systemd, CI runners and supervisors stop a process and a closed terminal ends it.
/// Caught from the moment they are made: one that arrives while the stack starts, or
/// right after it printed its exports, stops it cleanly (its work folder removed, its
/// state file forgotten) instead of killing it.
struct Interrupts {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Interrupts {
    /// The next stop signal of any kind.
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
            _ = self.hangup.recv() => {}
        }
    }
}

fn interrupts() -> Result<Interrupts, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let catch = |kind| signal(kind).map_err(|e| format!("cannot catch the stop signals: {e}"));
    Ok(Interrupts {
        interrupt: catch(SignalKind::interrupt())?,
        terminate: catch(SignalKind::terminate())?,
        hangup: catch(SignalKind::hangup())?,
    })
}

/// `up`: the stack in the foreground until Ctrl-C.
pub async fn up(options: StackOptions) -> Result<(), String> {
    let mut interrupted = interrupts()?;
    let mocks = read_mocks(options.mocks.as_ref())?;
    let stack = start_stack(&options).await?;
    enable_code(&stack, &options, &mocks).await?;
    stack.sagemaker.pipelines().jobs().set_mocks(mocks);
    println!("emulator is up (Ctrl-C stops it)");
    println!("  SageMaker  {}", stack.sagemaker.endpoint());
    println!("  EMR        {}", stack.emr.endpoint());
    println!("  SQS, EventBridge, S3 (moto)  {}", stack.moto.endpoint());
    println!("  standing EMR cluster     {STANDING_CLUSTER_ID}");
    println!("  view       {}", stack.view_url());
    println!("point any AWS client at it with:");
    for line in export_lines(&stack.client_env()) {
        println!("  {line}");
    }
    interrupted.recv().await;
    forget_endpoints();
    stack.shutdown_functions().await;
    println!("emulator stopped");
    Ok(())
}

/// `run`: one definition end to end; answers the exit code (0 Succeeded, 1 Failed,
/// 2 Stopped).
pub async fn run(
    definition: PathBuf,
    parameters: Vec<(String, String)>,
    max_parallel: Option<usize>,
    report: Option<PathBuf>,
    options: StackOptions,
) -> Result<i32, String> {
    let mut interrupted = interrupts()?;
    let text = std::fs::read_to_string(&definition)
        .map_err(|e| format!("{}: {e}", definition.display()))?;
    let parsed = Definition::parse(&text).map_err(|e| format!("{}: {e}", definition.display()))?;
    let mocks = read_mocks(options.mocks.as_ref())?;
    mocks.check_against(&parsed)?;
    let stack = start_stack(&options).await?;
    stack
        .check_resources(&parsed)
        .map_err(|e| format!("{}: {e}", definition.display()))?;
    enable_code(&stack, &options, &mocks).await?;
    let pipelines = stack.sagemaker.pipelines().clone();
    pipelines.jobs().set_mocks(mocks);
    let name = definition
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("pipeline")
        .to_owned();
    pipelines
        .put_pipeline(
            PipelineSpec {
                name: name.clone(),
                definition_text: text,
                max_parallel,
                ..PipelineSpec::default()
            },
            false,
        )
        .map_err(|e| format!("{}: {e}", definition.display()))?;
    let start = StartRequest {
        parameters,
        max_parallel,
        ..StartRequest::default()
    };
    let arn = start_execution(&pipelines, &name, &start)?;
    eprintln!("view: {}", stack.view_url());
    let mut stdout = std::io::stdout();
    let columns = live_view::Columns::for_definition(&parsed);
    let follow = live_view::follow(&pipelines, &arn, columns, &mut stdout);
    tokio::pin!(follow);
    let execution = tokio::select! {
        execution = &mut follow => execution,
        _ = interrupted.recv() => {
            eprintln!("stopping the execution (Ctrl-C again to quit at once)");
            let _ = pipelines.request_stop(&arn);
            tokio::select! {
                execution = &mut follow => execution,
                _ = interrupted.recv() => { forget_endpoints(); return Ok(2) }
                _ = tokio::time::sleep(STOP_GRACE) => { forget_endpoints(); return Ok(2) }
            }
        }
    };
    println!("outputs:");
    for step in &execution.steps {
        for source in ["Callback", "Lambda"] {
            for output in step.metadata[source]["OutputParameters"]
                .as_array()
                .into_iter()
                .flatten()
            {
                println!(
                    "  {}.{} = {}",
                    step.name,
                    output["Name"].as_str().unwrap_or_default(),
                    output["Value"].as_str().unwrap_or_default()
                );
            }
        }
    }
    if let Some(path) = &report {
        let html = stack
            .report(&arn)
            .ok_or_else(|| format!("the execution {arn} is gone"))?;
        std::fs::write(path, html).map_err(|e| format!("--report {}: {e}", path.display()))?;
        println!("report: {}", path.display());
    }
    forget_endpoints();
    drop(stack);
    Ok(match execution.status.as_str() {
        "Succeeded" => 0,
        "Stopped" => 2,
        _ => 1,
    })
}

/// What the running stack (`up` or `run`) wrote of itself; refused when the process
/// that wrote it is gone or its SageMaker endpoint does not answer (the file is then
/// removed: it names a dead stack).
fn running_stack() -> Result<serde_json::Value, String> {
    let file = endpoints_file();
    let stack: serde_json::Value = std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| format!("no emulator is running ({} not found)", file.display()))?;
    let pid = stack["pid"].as_u64().unwrap_or_default();
    let alive = pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists();
    let answers = stack["sagemaker"]
        .as_str()
        .and_then(|url| url.strip_prefix("http://"))
        .and_then(|address| address.parse::<std::net::SocketAddr>().ok())
        .is_some_and(|address| {
            std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok()
        });
    if !(alive && answers) {
        let _ = std::fs::remove_file(&file);
        return Err(format!(
            "no emulator is running: the one {} names (pid {pid}) is gone; start one with `pipelines-emulator up`",
            file.display()
        ));
    }
    Ok(stack)
}

/// The keys the running stack wrote in its state file.
fn stack_credentials(stack: &serde_json::Value) -> Result<crate::auth::Credentials, String> {
    let get = |key: &str| {
        stack["env"][key]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("the running stack's state file has no {key}"))
    };
    Ok(crate::auth::Credentials {
        access_key_id: get("AWS_ACCESS_KEY_ID")?,
        secret_access_key: get("AWS_SECRET_ACCESS_KEY")?,
    })
}

/// `env`: the running stack's client environment as `export` lines, for
/// `eval "$(pipelines-emulator env)"` in another shell.
pub fn env() -> Result<(), String> {
    let stack = running_stack()?;
    let env = stack["env"].as_object().ok_or(
        "the running stack wrote no environment (started by an older pipelines-emulator?)",
    )?;
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    for line in export_lines(&env) {
        println!("{line}");
    }
    Ok(())
}

/// The variables of the user's own AWS set-up that would ride along with the stack's
/// keys: a session token (sent to the local endpoints, and refused there) and a
/// profile (which the SDKs would look for).
const USER_AWS_VARIABLES: &str =
    "AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE";

/// `env` as shell lines: each value single-quoted (a `;` or `$(...)` in a value stays
/// text under `eval`), after unsetting the user's token and profile.
pub fn export_lines(env: &[(String, String)]) -> Vec<String> {
    std::iter::once(format!("unset {USER_AWS_VARIABLES}"))
        .chain(
            env.iter()
                .filter(|(key, _)| is_name(key))
                .map(|(key, value)| format!("export {key}={}", shell_quote(value))),
        )
        .collect()
}

fn is_name(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// `rerun`: the named steps of a pipeline again on the running stack, on the results of
/// its latest ended execution or `from`.
pub async fn rerun(
    pipeline: String,
    steps: Vec<String>,
    from: Option<String>,
) -> Result<i32, String> {
    let endpoints = running_stack()?;
    let endpoint = endpoints["sagemaker"]
        .as_str()
        .ok_or("the endpoints file names no SageMaker endpoint")?;
    let credentials = stack_credentials(&endpoints)?;
    crate::rerun::rerun(endpoint, &credentials, &pipeline, &steps, from).await
}

/// `stop`: asks the running stack (`up` or `run`) to stop an execution.
pub async fn stop(execution_arn: String) -> Result<(), String> {
    let endpoints = running_stack()?;
    let endpoint = endpoints["sagemaker"]
        .as_str()
        .ok_or("the endpoints file names no SageMaker endpoint")?;
    let credentials = stack_credentials(&endpoints)?;
    aws_sdk_sagemaker::Client::new(&crate::stack::sdk_config(endpoint, &credentials))
        .stop_pipeline_execution()
        .pipeline_execution_arn(&execution_arn)
        // The model's ClientRequestToken takes 32 to 128 characters.
        .client_request_token(format!(
            "pipelines-emulator-stop-{:0>24}",
            std::process::id()
        ))
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            Some(service) => service.to_string(),
            None => format!("{e:?}"),
        })?;
    println!("stopping {execution_arn}");
    Ok(())
}

/// `report`: an execution of the running stack as one HTML file, fetched from the
/// stack's view with the token its state file keeps.
pub async fn report(execution_arn: &str, output: &std::path::Path) -> Result<(), String> {
    let stack = running_stack()?;
    let view = stack["view"]
        .as_str()
        .ok_or("the running stack serves no view (started by an older pipelines-emulator?)")?;
    let (address, token) = view
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once("/?token="))
        .ok_or_else(|| format!("the running stack's view URL is not one it makes: {view}"))?;
    let (pipeline, id) = execution_arn
        .split_once(":pipeline/")
        .and_then(|(_, rest)| rest.split_once("/execution/"))
        .filter(|(p, i)| !p.is_empty() && !i.is_empty() && !i.contains('/'))
        .ok_or_else(|| format!("'{execution_arn}' is not a pipeline execution ARN"))?;
    let path = format!("/pipelines/{pipeline}/executions/{id}/report");
    let (status, body) = crate::view::fetch(address, &path, token)
        .await
        .map_err(|e| format!("the running stack's view at {address}: {e}"))?;
    if status != 200 {
        return Err(format!(
            "no report of {execution_arn}: the stack answered {status} (is it an execution of this stack?)"
        ));
    }
    std::fs::write(output, body).map_err(|e| format!("{}: {e}", output.display()))?;
    println!("report: {}", output.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_file_is_the_users_alone_and_a_folder_made_for_it_too() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let temp = tempfile::tempdir().unwrap();
        let file = temp.path().join("state/pipelines-emulator/endpoints.json");
        write_private(&file, "{}").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
        assert_eq!(mode(&temp.path().join("state")), 0o700);
        // Written again over a link planted at its name: the link is replaced.
        std::fs::remove_file(&file).unwrap();
        let elsewhere = temp.path().join("elsewhere");
        std::fs::write(&elsewhere, "theirs").unwrap();
        std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
        write_private(&file, "{\"mine\": 1}").unwrap();
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "theirs");
        assert!(!std::fs::symlink_metadata(&file)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn env_lines_stay_text_under_eval() {
        let env = vec![
            ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
            ("X".to_owned(), "a'b; touch /tmp/owned $(id)".to_owned()),
            ("BAD NAME".to_owned(), "v".to_owned()),
        ];
        let lines = export_lines(&env);
        assert_eq!(lines[0], format!("unset {USER_AWS_VARIABLES}"));
        assert_eq!(lines[1], "export AWS_REGION='us-east-1'");
        assert_eq!(lines[2], "export X='a'\\''b; touch /tmp/owned $(id)'");
        assert_eq!(
            lines.len(),
            3,
            "a name that is not a shell name is left out"
        );
        let script = format!("{}\nprintf %s \"$X\"", lines.join("\n"));
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), env[1].1);
    }
}
