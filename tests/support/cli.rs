//! The `pipelines-emulator` command as a user runs it, from the workspace root, with a state
//! folder of its own per test (so that `stop` and `env` reach the stack of their test).

use std::process::Stdio;
use std::time::Duration;

use pipelines_emulator::{binary_dir, workspace_root};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const DEADLINE: Duration = Duration::from_secs(120);

/// The command, with a state folder of its own per test, so that `stop` reaches the
/// stack of its own test.
pub fn pipelines_emulator(state: &tempfile::TempDir) -> Command {
    let mut command = Command::new(binary_dir().join("pipelines-emulator"));
    command
        .current_dir(workspace_root())
        .env("EMULATOR_STATE_DIR", state.path())
        .kill_on_drop(true);
    command
}

/// Reads stdout lines until one contains `marker`; answers every line read.
pub async fn read_until(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    marker: &str,
) -> Vec<String> {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let hit = line.contains(marker);
            seen.push(line);
            if hit {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "no line with '{marker}' in {seen:#?}"
    );
    seen
}

/// Starts `pipelines-emulator up` with these arguments; answers it and the lines it printed
/// until its last export, once it serves.
pub async fn start_up(state: &tempfile::TempDir, args: &[&str]) -> (Child, Vec<String>) {
    let mut up = pipelines_emulator(state)
        .arg("up")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(up.stdout.take().unwrap()).lines();
    let printed = read_until(&mut lines, "export SAGEMAKER_USER_CONFIG_OVERRIDE").await;
    // Keep reading, so that `up` never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (up, printed)
}

/// Sends Ctrl-C (SIGINT) to a child, as a user at the terminal would.
pub fn interrupt(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The execution's status once it is `wanted`, or the last one seen at the deadline.
pub async fn wait_for_status(
    client: &aws_sdk_sagemaker::Client,
    arn: &str,
    wanted: &str,
) -> String {
    let mut status = String::new();
    let end = std::time::Instant::now() + DEADLINE;
    while status != wanted && std::time::Instant::now() < end {
        let described = client
            .describe_pipeline_execution()
            .pipeline_execution_arn(arn)
            .send()
            .await
            .unwrap();
        status = described
            .pipeline_execution_status
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    status
}

/// The `export NAME='VALUE'` lines `up` and `env` print, as a shell would read them.
pub fn exports(printed: &[String]) -> Vec<(String, String)> {
    printed
        .iter()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let words = shlex::split(v).unwrap_or_else(|| panic!("unquotable export {k}={v}"));
            (k.to_owned(), words.concat())
        })
        .collect()
}

/// aws-sdk-sagemaker configured from the exports `up` printed: its endpoint and keys.
pub fn sagemaker_client(printed: &[String]) -> aws_sdk_sagemaker::Client {
    let exports = exports(printed);
    let get = |name: &str| {
        exports
            .iter()
            .find(|(k, _)| k == name)
            .unwrap_or_else(|| panic!("{name} is not exported: {printed:#?}"))
            .1
            .clone()
    };
    let credentials = pipelines_emulator::Credentials {
        access_key_id: get("AWS_ACCESS_KEY_ID"),
        secret_access_key: get("AWS_SECRET_ACCESS_KEY"),
    };
    aws_sdk_sagemaker::Client::new(&pipelines_emulator::sdk_config(
        &get("AWS_ENDPOINT_URL_SAGEMAKER"),
        &credentials,
    ))
}
