//! The README as a newcomer uses it: every command of its `sh` blocks names programs,
//! subcommands, flags, packages, binaries and files that exist; the commands that end by
//! themselves run as written; its examples (the mock file, the handler's main, the
//! SageMaker SDK pipeline) are the code the project runs.
//!
//! Not run here, only checked: `sam` and the AWS CLI (not installed by the test command),
//! arm64 builds (no aarch64 target on CI), and the commands that need an AWS account.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use integration_tests::cli::{interrupt, start_up, wait_for_status};
use integration_tests::readme::ShellCommand;
use integration_tests::readme::{
    blocks_of, command_starting_with, inline_commands, readme, shell_commands,
};
use local_stack::paths::{binary_dir, workspace_root};
use sagemaker_custom_steps::functions::flatten_json;
use sagemaker_custom_steps::lambda_step::StepFunctions;
use serde_json::Value;
use tokio::process::Command;

const DEADLINE: Duration = Duration::from_secs(120);

/// Folders of the repository: a word starting with one names a file that must exist.
const REPOSITORY_FOLDERS: &[&str] = &[
    "scripts/",
    "events/",
    "infra/",
    "tests/",
    "examples/",
    "shared/",
    "handlers/",
    "fuzz/",
    "bench/",
    ".venv/bin/",
];

/// What the workspace offers a command: its packages, binaries, profiles and fuzz targets.
struct Workspace {
    packages: BTreeSet<String>,
    binaries: BTreeSet<String>,
    profiles: BTreeSet<String>,
    fuzz_targets: BTreeSet<String>,
    help: HashMap<Vec<String>, String>,
}

impl Workspace {
    fn read() -> Self {
        let metadata = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
            .args([
                "metadata",
                "--no-deps",
                "--format-version",
                "1",
                "--offline",
            ])
            .current_dir(workspace_root())
            .output()
            .unwrap();
        assert!(
            metadata.status.success(),
            "{}",
            String::from_utf8_lossy(&metadata.stderr)
        );
        let metadata: Value = serde_json::from_slice(&metadata.stdout).unwrap();
        let mut packages = BTreeSet::new();
        let mut binaries = BTreeSet::new();
        for package in metadata["packages"].as_array().unwrap() {
            packages.insert(package["name"].as_str().unwrap().to_owned());
            for target in package["targets"].as_array().unwrap() {
                if target["kind"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k == "bin")
                {
                    binaries.insert(target["name"].as_str().unwrap().to_owned());
                }
            }
        }
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        let mut profiles: BTreeSet<String> = ["dev", "release", "test", "bench"]
            .map(str::to_owned)
            .into();
        profiles.extend(
            manifest
                .lines()
                .filter_map(|l| l.strip_prefix("[profile.")?.strip_suffix(']'))
                .map(str::to_owned),
        );
        let fuzz = std::fs::read_to_string(workspace_root().join("fuzz/Cargo.toml")).unwrap();
        let fuzz_targets = fuzz
            .split("[[bin]]")
            .skip(1)
            .filter_map(|bin| bin.lines().find_map(|l| l.strip_prefix("name = ")))
            .map(|name| name.trim_matches('"').to_owned())
            .collect();
        Self {
            packages,
            binaries,
            profiles,
            fuzz_targets,
            help: HashMap::new(),
        }
    }

    /// What the `--help` of `program sub` does not list among the flags of `rest`, and
    /// the values it does not take where it lists its possible values.
    fn unknown_flags(&mut self, program: &Path, sub: &[&str], rest: &[String]) -> Vec<String> {
        let help = match self.help(program, sub) {
            Ok(help) => help,
            Err(e) => return vec![e],
        };
        let name = format!("`{} {}`", program.display(), sub.join(" "));
        let mut unknown: Vec<String> = flags(rest)
            .into_iter()
            .filter(|f| !lists(&help, f))
            .map(|f| format!("{name} has no {f}"))
            .collect();
        for pair in rest.windows(2) {
            let Some(possible) = possible_values(&help, &pair[0]) else {
                continue;
            };
            unknown.extend(
                pair[1]
                    .split(',')
                    .filter(|v| !possible.contains(&v.to_string()))
                    .map(|v| format!("{name} {} takes no {v} (only {possible:?})", pair[0])),
            );
        }
        unknown
    }

    /// The `--help` text of a program's subcommand (cached).
    fn help(&mut self, program: &Path, args: &[&str]) -> Result<String, String> {
        let mut key = vec![program.display().to_string()];
        key.extend(args.iter().map(|a| a.to_string()));
        if let Some(text) = self.help.get(&key) {
            return Ok(text.clone());
        }
        let output = std::process::Command::new(program)
            .args(args)
            .arg("--help")
            .current_dir(workspace_root())
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        if !output.status.success() {
            return Err(format!(
                "`{} {} --help` fails: {}",
                program.display(),
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        self.help.insert(key, text.clone());
        Ok(text)
    }
}

/// The flags of `words` (up to a `--`), as written: `--flag`, `--flag=value`, `-p`.
fn flags(words: &[String]) -> Vec<&str> {
    words
        .iter()
        .take_while(|w| *w != "--")
        .filter(|w| w.starts_with('-') && w.len() > 1)
        .map(|w| w.split('=').next().unwrap())
        .collect()
}

/// The values clap lists for `flag` (`[possible values: a, b]`), if it lists them.
fn possible_values(help: &str, flag: &str) -> Option<Vec<String>> {
    let line = help
        .lines()
        .find(|l| l.trim_start().split([' ', ',']).any(|w| w == flag))?;
    let list = line.split("[possible values: ").nth(1)?.split(']').next()?;
    Some(list.split(", ").map(str::to_owned).collect())
}

/// Whether `help` lists `flag` as a word of its own.
fn lists(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(at, _)| {
        let before = help[..at].chars().next_back();
        let after = help[at + flag.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '-')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
    })
}

/// Every path of the repository a command names: words, and the parts of `NAME=value`
/// and of quoted commands inside them.
fn repository_paths(command: &ShellCommand) -> Vec<String> {
    command
        .words
        .iter()
        .flat_map(|w| w.split([' ', '=']))
        .filter(|part| REPOSITORY_FOLDERS.iter().any(|f| part.starts_with(f)))
        .map(str::to_owned)
        .collect()
}

/// What is wrong with one README command, if anything.
fn problems(command: &ShellCommand, workspace: &mut Workspace, cwd: &Path) -> Vec<String> {
    let mut problems: Vec<String> = repository_paths(command)
        .into_iter()
        .filter(|p| !cwd.join(p).exists())
        .map(|p| format!("{p} does not exist"))
        .collect();
    let words: Vec<&str> = command.words.iter().map(String::as_str).collect();
    match words.as_slice() {
        // scripts/bench passes its arguments to the bench binary.
        ["scripts/bench", ..] => problems.extend(workspace.unknown_flags(
            &binary_dir().join("bench"),
            &[],
            &command.words[1..],
        )),
        ["cargo", "run", "-p", package, "--", ..] if workspace.binaries.contains(*package) => {
            problems.extend(workspace.unknown_flags(
                &binary_dir().join(package),
                &[],
                &command.words[5..],
            ))
        }
        [script, ..] if script.starts_with("scripts/") => {
            if !cwd.join(script).is_file() {
                problems.push(format!("no script {script}"));
            }
        }
        [binary, rest @ ..]
            if binary.starts_with("target/debug/")
                || ["pipeline-steps", "local-stack"].contains(binary) =>
        {
            let name = binary.trim_start_matches("target/debug/");
            match rest.first().filter(|w| !w.starts_with('-')) {
                Some(sub) => problems.extend(workspace.unknown_flags(
                    &binary_dir().join(name),
                    &[sub],
                    &command.words[2..],
                )),
                None => problems.extend(workspace.unknown_flags(
                    &binary_dir().join(name),
                    &[],
                    &command.words[1..],
                )),
            }
        }
        ["cargo", "lambda", sub, ..] => {
            let cargo_lambda = workspace_root().join(".venv/bin/cargo-lambda");
            problems.extend(workspace.unknown_flags(
                &cargo_lambda,
                &["lambda", sub],
                &command.words[3..],
            ));
            if *sub == "invoke" {
                if let Some(function) = words.get(3).filter(|w| !w.starts_with('-')) {
                    if !workspace.binaries.contains(*function) {
                        problems.push(format!("no binary {function} to invoke"));
                    }
                }
            }
        }
        ["cargo", "fuzz", "run", target, ..] => {
            if !workspace.fuzz_targets.contains(*target) {
                problems.push(format!("no fuzz target {target}"));
            }
        }
        ["cargo", "test" | "run" | "build" | "doc" | "install", ..] => {}
        ["sam", "build" | "deploy", ..] => {}
        ["aws", ..] => {}
        ["eval", inner] => match inner.strip_prefix("$(").and_then(|c| c.strip_suffix(')')) {
            Some(inner) => {
                let words = shlex::split(inner).unwrap_or_default();
                let inner = ShellCommand {
                    line: command.line,
                    env: Vec::new(),
                    words,
                };
                problems.extend(self::problems(&inner, workspace, cwd));
            }
            None => problems.push("eval of something other than $(command)".into()),
        },
        ["cd", _] => {}
        ["rustup", "target", "add", _] => {}
        _ => problems.push("a program this test does not know: add a check for it".into()),
    }
    for package in command.values_of("-p") {
        if !workspace.packages.contains(package) {
            problems.push(format!("no package {package}"));
        }
    }
    for binary in command.values_of("--bin") {
        if !workspace.binaries.contains(binary) {
            problems.push(format!("no binary {binary}"));
        }
    }
    for profile in command.values_of("--profile") {
        if !workspace.profiles.contains(profile) {
            problems.push(format!("no profile {profile}"));
        }
    }
    problems
}

#[test]
fn every_readme_command_names_what_exists() {
    let mut workspace = Workspace::read();
    let mut cwd = workspace_root();
    let mut found = Vec::new();
    let commands = shell_commands(&readme());
    assert!(commands.len() > 20, "{commands:#?}");
    let inline = inline_commands(&readme());
    assert!(inline.len() > 20, "{inline:#?}");
    for command in &commands {
        for problem in problems(command, &mut workspace, &cwd) {
            found.push(format!(
                "README line {}: `{}`: {problem}",
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
                "README line {}: `{}`: {problem}",
                command.line,
                command.text()
            ));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_check_finds_a_wrong_flag_package_and_file() {
    let mut workspace = Workspace::read();
    let markdown = "```sh\ntarget/debug/local-stack run infra/pipelines/demo.json --max-parralel 5\ncargo lambda build --release -p no-such-package\ncargo lambda invoke lambda-step --data-file events/no-such.json\nmake all\nscripts/bench --only memory,througput\n```\n";
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

/// The command with a state folder of its own, as tests/cli.rs runs it.
fn run_as_written(command: &ShellCommand, state: &tempfile::TempDir) -> Command {
    let mut process = Command::new(workspace_root().join(&command.words[0]));
    process
        .args(&command.words[1..])
        .envs(command.env.iter().cloned())
        .current_dir(workspace_root())
        .env("LOCAL_STACK_STATE_DIR", state.path())
        .kill_on_drop(true);
    process
}

#[tokio::test]
async fn the_local_stack_run_of_the_demo_succeeds_as_written() {
    let command = command_starting_with("target/debug/local-stack run infra/pipelines/demo.json");
    let state = tempfile::tempdir().unwrap();
    let output = tokio::time::timeout(DEADLINE, run_as_written(&command, &state).output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
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
    let mut command = command_starting_with("target/debug/local-stack run tests/sdk/definitions");
    let at = command.words.iter().position(|w| w == "--mocks").unwrap();
    command.words[at + 1] = file.display().to_string();
    let state = tempfile::tempdir().unwrap();
    let output = tokio::time::timeout(DEADLINE, run_as_written(&command, &state).output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
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
fn the_sdk_pipeline_shown_is_the_one_the_sdk_wrote() {
    let shown = blocks_of(&readme(), "python")
        .into_iter()
        .find(|b| b.text.contains("pipeline.upsert("))
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
            .env("LOCAL_STACK_STATE_DIR", state.path())
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
        up_line.starts_with("target/debug/local-stack up"),
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
    let endpoint = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("export AWS_ENDPOINT_URL_SAGEMAKER="))
        .unwrap()
        .to_owned();
    let client = aws_sdk_sagemaker::Client::new(&local_stack::stack::sdk_config(&endpoint));
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
