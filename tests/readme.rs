//! The README and the guides of docs/ as a newcomer uses them: every command of their `sh` blocks names programs,
//! subcommands, flags, packages, binaries and files that exist; the commands that end by
//! themselves run as written; its examples (the mock file, the handler's main, the
//! SageMaker SDK pipeline) are the code the project runs.
//!
//! Not run here, only checked: `sam` (not installed by the test command), arm64 builds
//! (no aarch64 target on CI), the commands that need an AWS account, the benchmarks and
//! fuzzing.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use integration_tests::cli::{interrupt, pipelines_emulator, start_up, wait_for_status};
use integration_tests::readme::check::{problems, Workspace};
use integration_tests::readme::ShellCommand;
use integration_tests::readme::{
    blocks_of, command_starting_with, documents, inline_commands, readme, shell_commands,
};
use pipelines_emulator::{binary_dir, workspace_root};
use sagemaker_custom_steps::functions::flatten_json;
use sagemaker_custom_steps::lambda_step::StepFunctions;
use serde_json::Value;
use tokio::process::Command;

const DEADLINE: Duration = Duration::from_secs(120);

#[test]
fn every_readme_command_names_what_exists() {
    let mut workspace = Workspace::read();
    let mut found = Vec::new();
    let (mut all_commands, mut all_inline) = (0, 0);
    for (document, text) in documents() {
        let mut cwd = workspace_root();
        let commands = shell_commands(&text);
        let inline = inline_commands(&text);
        all_commands += commands.len();
        all_inline += inline.len();
        for command in &commands {
            for problem in problems(command, &mut workspace, &cwd) {
                found.push(format!(
                    "{document} line {}: `{}`: {problem}",
                    command.line,
                    command.text()
                ));
            }
            // `cd fuzz && cargo fuzz ...`: the next command runs there.
            cwd = match command.words.as_slice() {
                [cd, dir] if cd == "cd" => workspace_root().join(dir),
                _ => workspace_root(),
            };
        }
        for command in &inline {
            for problem in problems(command, &mut workspace, &workspace_root()) {
                found.push(format!(
                    "{document} line {}: `{}`: {problem}",
                    command.line,
                    command.text()
                ));
            }
        }
    }
    assert!(all_commands > 20, "{all_commands} commands");
    assert!(all_inline > 20, "{all_inline} inline commands");
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_check_finds_a_wrong_flag_package_and_file() {
    let mut workspace = Workspace::read();
    let markdown = "```sh\ntarget/debug/pipelines-emulator run infra/pipelines/demo.json --max-parralel 5\ncargo lambda build --release -p no-such-package\ncargo lambda invoke lambda-step --data-file events/no-such.json\nmake all\nscripts/bench --only memory,througput\n```\n";
    let found: Vec<Vec<String>> = shell_commands(markdown)
        .iter()
        .map(|c| problems(c, &mut workspace, &workspace_root()))
        .collect();
    assert!(found[0][0].ends_with("has no --max-parralel"), "{found:?}");
    assert_eq!(found[1], ["no package no-such-package"]);
    assert_eq!(found[2], ["events/no-such.json does not exist"]);
    assert!(found[3][0].starts_with("a program this test does not know"));
    assert_eq!(found[4].len(), 1, "{found:?}");
    assert!(
        found[4][0].contains("--only takes no througput"),
        "{found:?}"
    );
}

/// A README `pipelines-emulator` command, with a state folder of its own, as tests/cli.rs runs it.
fn run_as_written(command: &ShellCommand, state: &tempfile::TempDir) -> Command {
    assert_eq!(
        command.words[0], "target/debug/pipelines-emulator",
        "{command:?}"
    );
    let mut process = pipelines_emulator(state);
    process
        .args(&command.words[1..])
        .envs(command.env.iter().cloned());
    process
}

/// Runs the command as written until it ends; answers its exit code and stdout.
async fn run_to_its_end(command: &ShellCommand) -> (Option<i32>, String) {
    let state = tempfile::tempdir().unwrap();
    let output = tokio::time::timeout(DEADLINE, run_as_written(command, &state).output())
        .await
        .unwrap()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn the_pipelines_emulator_run_of_the_demo_succeeds_as_written() {
    let command =
        command_starting_with("target/debug/pipelines-emulator run infra/pipelines/demo.json");
    let (code, stdout) = run_to_its_end(&command).await;
    assert_eq!(code, Some(0), "{stdout}");
    let cluster = command.values_of("--param")[0].trim_start_matches("ClusterId=");
    assert!(stdout.contains(&format!("ClusterId={cluster}")), "{stdout}");
    assert!(stdout.contains("execution Succeeded"), "{stdout}");
}

#[tokio::test]
async fn the_mock_file_example_fails_the_register_step_with_its_reason() {
    let mocks = blocks_of(&readme(), "json")
        .into_iter()
        .find(|b| b.text.starts_with("{\"Steps\""))
        .expect("the README's mock file example");
    let parsed: Value = serde_json::from_str(&mocks.text).unwrap();
    let (step, mock) = parsed["Steps"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, mock)| mock.get("Fail").is_some())
        .expect("a mock that fails");
    let reason = mock["Fail"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mocks.json");
    std::fs::write(&file, &mocks.text).unwrap();
    let mut command =
        command_starting_with("target/debug/pipelines-emulator run tests/sdk/definitions");
    let at = command.words.iter().position(|w| w == "--mocks").unwrap();
    command.words[at + 1] = file.display().to_string();
    let (code, stdout) = run_to_its_end(&command).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("execution Failed: Step '{step}' failed: {reason}")),
        "{stdout}"
    );
}

#[tokio::test]
async fn cargo_lambda_watch_and_invoke_answer_as_the_readme_shows() {
    let watch = command_starting_with("cargo lambda watch");
    let invoke = command_starting_with("cargo lambda invoke");
    // The README's words, on a port of this test's own and on loopback only.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port().to_string()
    };
    let cargo_lambda = workspace_root().join(".venv/bin/cargo-lambda");
    let path = format!(
        "{}:{}",
        workspace_root().join(".venv/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let server = Command::new(&cargo_lambda)
        .args(&watch.words[1..])
        .envs(watch.env.iter().cloned())
        .args(["--invoke-address", "127.0.0.1", "--invoke-port", &port])
        .current_dir(workspace_root())
        .env("PATH", &path)
        // Nothing may reach for the EC2 instance metadata service.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let address = format!("127.0.0.1:{port}");
    tokio::time::timeout(DEADLINE, async {
        while tokio::net::TcpStream::connect(&address).await.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("cargo lambda watch serves");
    // The first invocation waits for watch to build the function (a no-op after
    // scripts/setup, minutes if the build differs).
    let output = tokio::time::timeout(
        Duration::from_secs(600),
        Command::new(&cargo_lambda)
            .args(&invoke.words[1..])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port", &port])
            .current_dir(workspace_root())
            .env("PATH", &path)
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    let group = server.id().unwrap() as i32;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", "--", &format!("-{group}")])
        .status();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answered: Value = serde_json::from_slice(&output.stdout).unwrap();
    let event_file = invoke.values_of("--data-file")[0];
    let event: Value =
        serde_json::from_str(&std::fs::read_to_string(workspace_root().join(event_file)).unwrap())
            .unwrap();
    let expected = StepFunctions::new(None)
        .with(flatten_json())
        .invoke(event)
        .await
        .unwrap();
    assert_eq!(answered, expected);
}

#[test]
fn the_handler_main_shown_is_the_examples_main() {
    let shown = blocks_of(&readme(), "rust")
        .into_iter()
        .find(|b| b.text.contains("run_callback_handler"))
        .expect("the README's handler example");
    let source =
        std::fs::read_to_string(workspace_root().join("examples/src/bin/batch_job_callback.rs"))
            .unwrap();
    let code_of = |text: &str| -> String {
        text.lines()
            .map(|l| l.split("//").next().unwrap())
            .collect::<String>()
            .split_whitespace()
            .collect()
    };
    assert!(
        code_of(&source).contains(&code_of(&shown.text)),
        "README line {}: the example differs from examples/src/bin/batch_job_callback.rs",
        shown.line
    );
}

#[test]
fn the_pytest_example_shown_is_the_wheel_checks_test() {
    let shown = blocks_of(&readme(), "python")
        .into_iter()
        .find(|b| b.text.contains("pipelines_emulator"))
        .expect("the README's pytest example");
    let source =
        std::fs::read_to_string(workspace_root().join("tests/wheel/test_user_pipeline.py"))
            .unwrap();
    let code_of = |text: &str| -> String { text.split_whitespace().collect() };
    assert!(
        code_of(&source).contains(&code_of(&shown.text)),
        "README line {}: the example differs from tests/wheel/test_user_pipeline.py",
        shown.line
    );
}

#[test]
fn the_sdk_pipeline_shown_is_the_one_the_sdk_wrote() {
    let shown = blocks_of(&readme(), "python")
        .into_iter()
        .find(|b| b.text.contains("pipeline.upsert(") && !b.text.contains("pipelines_emulator"))
        .expect("the README's SDK example");
    let written: PathBuf = workspace_root().join("tests/sdk/definitions/v2/features.readme.py");
    let generated = std::fs::read_to_string(&written).unwrap_or_default();
    assert_eq!(
        generated.trim_end(),
        shown.text.trim_end(),
        "README line {}: the example is not the one tests/sdk/definitions/v2/features.json was \
         written from; run scripts/sdk-definitions and commit what it writes",
        shown.line
    );
}

/// The text of the README's one `sh` block that contains `marker`.
fn sh_block_with(marker: &str) -> String {
    let found: Vec<String> = blocks_of(&readme(), "sh")
        .into_iter()
        .filter(|b| b.text.contains(marker))
        .map(|b| b.text)
        .collect();
    assert_eq!(found.len(), 1, "one sh block should contain `{marker}`");
    found.into_iter().next().unwrap()
}

/// Runs README lines in bash as a user's second shell would: `.venv/bin` on PATH (the AWS
/// CLI), in `folder`, with the state folder of the stack `up` started.
async fn bash(script: &str, folder: &Path, state: &tempfile::TempDir) {
    let path = format!(
        "{}:{}",
        workspace_root().join(".venv/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = tokio::time::timeout(
        DEADLINE,
        Command::new("bash")
            .args(["-e", "-c", script])
            .current_dir(folder)
            .env("PATH", path)
            .env("EMULATOR_STATE_DIR", state.path())
            .env_remove("AWS_PROFILE")
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        output.status.success(),
        "{script}\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn the_local_s3_and_callback_commands_run_with_the_aws_cli_as_written() {
    let local_s3 = sh_block_with("aws s3 mb");
    let complete = sh_block_with("send-pipeline-execution-step-success");
    let (up_line, second_shell) = local_s3.split_once('\n').unwrap();
    assert!(
        up_line.starts_with("target/debug/pipelines-emulator up"),
        "{up_line}"
    );

    // A folder with the user's evaluation.json, and the repository's paths the commands
    // name: target/debug and tests.
    let folder = tempfile::tempdir().unwrap();
    let definition: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("tests/sdk/definitions/v2/abalone.json"))
            .unwrap(),
    )
    .unwrap();
    let threshold = definition["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["Name"] == "MseThreshold")
        .unwrap()["DefaultValue"]
        .as_f64()
        .unwrap();
    let evaluation = serde_json::json!({"regression_metrics": {"mse": {"value": threshold / 2.0}}});
    std::fs::write(
        folder.path().join("evaluation.json"),
        evaluation.to_string(),
    )
    .unwrap();
    std::fs::create_dir(folder.path().join("target")).unwrap();
    std::os::unix::fs::symlink(binary_dir(), folder.path().join("target/debug")).unwrap();
    std::os::unix::fs::symlink(workspace_root().join("tests"), folder.path().join("tests"))
        .unwrap();

    let state = tempfile::tempdir().unwrap();
    let (mut up, printed) = start_up(&state, &[]).await;
    let client = integration_tests::cli::sagemaker_client(&printed);
    bash(second_shell, folder.path(), &state).await;

    // The evaluation read from local S3 passes the threshold: the approval waits.
    let execution = client
        .list_pipeline_executions()
        .pipeline_name("abalone")
        .send()
        .await
        .unwrap()
        .pipeline_execution_summaries()[0]
        .pipeline_execution_arn()
        .unwrap()
        .to_owned();
    let approval = tokio::time::timeout(DEADLINE, async {
        loop {
            let steps = integration_tests::execution_steps(&client, &execution).await;
            if let Some(step) = steps
                .iter()
                .find(|s| s.step_name() == Some("AbaloneApprove"))
            {
                return step.step_status().unwrap().as_str().to_owned();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the approval step starts");
    assert_eq!(approval, "Executing");

    bash(&complete, folder.path(), &state).await;
    assert_eq!(
        wait_for_status(&client, &execution, "Succeeded").await,
        "Succeeded"
    );
    interrupt(&up);
    tokio::time::timeout(DEADLINE, up.wait())
        .await
        .unwrap()
        .unwrap();
}
