//! The pipelines-emulator command as a user runs it: `run`'s live view and exit codes, a bad
//! definition, Ctrl-C, and `up` with `stop`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use integration_tests::cli::{
    interrupt, pipelines_emulator, read_until, start_up, wait_for_status,
};
use integration_tests::readme::command_starting_with;
use integration_tests::{create_and_start, definition, emr_callback_step, wait_until};
use pipelines_emulator::{binary_dir, workspace_root};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const DEADLINE: Duration = Duration::from_secs(120);

fn temp_definition(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.json");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// The processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    stat.rsplit(')')
                        .next()?
                        .split_whitespace()
                        .nth(1)?
                        .parse::<u32>()
                        .ok()
                })
                == Some(pid)
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

#[tokio::test]
async fn run_follows_the_demo_live_and_exits_0() {
    let state = tempfile::tempdir().unwrap();
    let output = tokio::time::timeout(
        DEADLINE,
        pipelines_emulator(&state)
            .args(["run", "infra/pipelines/demo.json"])
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "CheckCluster",
        "Executing",
        "ClusterReady",
        "Outcome=True",
        "BuildFeatures",
        "execution Succeeded",
        "BuildFeatures.State = COMPLETED",
        "CheckCluster.Ready = true",
    ] {
        assert!(
            stdout.contains(expected),
            "'{expected}' missing from:\n{stdout}"
        );
    }
}

#[tokio::test]
async fn run_exits_1_when_the_execution_fails_and_3_for_a_bad_definition() {
    let state = tempfile::tempdir().unwrap();
    let failed = pipelines_emulator(&state)
        .args([
            "run",
            "infra/pipelines/demo.json",
            "--param",
            "ClusterId=j-NOSUCH",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stdout)
        .contains("execution Failed: EMR cluster j-NOSUCH cannot take the step"));

    let lambda = |name: &str, after: &str| {
        json!({"Name": name, "Type": "Lambda", "Arguments": {},
        "FunctionArn": integration_tests::LAMBDA_ARN, "DependsOn": [after]})
    };
    let (_dir, path) = temp_definition(&definition(
        json!([]),
        json!([lambda("a", "b"), lambda("b", "a")]),
    ));
    let bad = pipelines_emulator(&state)
        .arg("run")
        .arg(&path)
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("the steps a → b → a form a cycle"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[tokio::test]
async fn ctrl_c_stops_the_execution_exits_2_and_leaves_no_process_behind() {
    let steps = json!([emr_callback_step("Long", &["sleep", "60"])]);
    let (_dir, path) = temp_definition(&definition(json!([]), steps));
    let state = tempfile::tempdir().unwrap();
    let mut child = pipelines_emulator(&state)
        .arg("run")
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    read_until(&mut lines, "Long").await;
    let pid = child.id().unwrap();
    let children = children_of(pid);
    assert!(
        children.len() >= 4,
        "moto and the functions run under it: {children:?}"
    );

    interrupt(&child);
    let rest = read_until(&mut lines, "execution Stopped").await;
    assert!(rest.iter().any(|l| l.contains("Stopped")), "{rest:?}");
    let status = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(2));
    integration_tests::wait_until(
        "every child process is gone",
        Duration::from_secs(10),
        || children.iter().all(|c| !alive(*c)),
    )
    .await;
}

#[tokio::test]
async fn up_serves_until_ctrl_c_and_stop_stops_an_execution_on_it() {
    let state = tempfile::tempdir().unwrap();
    let (mut up, printed) = start_up(&state, &[]).await;
    let client = integration_tests::cli::sagemaker_client(&printed);
    let steps = json!([emr_callback_step("Long", &["sleep", "60"])]);
    let arn = create_and_start(&client, "long", &definition(json!([]), steps), &[]).await;

    let stop = pipelines_emulator(&state)
        .args(["stop", &arn])
        .output()
        .await
        .unwrap();
    assert_eq!(
        stop.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    assert_eq!(wait_for_status(&client, &arn, "Stopped").await, "Stopped");

    interrupt(&up);
    let code = tokio::time::timeout(DEADLINE, up.wait())
        .await
        .unwrap()
        .unwrap()
        .code();
    assert_eq!(code, Some(0));
    let missing = pipelines_emulator(&state)
        .args(["stop", &arn])
        .output()
        .await
        .unwrap();
    assert_eq!(missing.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no emulator is running"));
}

#[tokio::test]
async fn env_prints_what_up_exported_and_pipeline_steps_runs_on_it_after_eval() {
    let state = tempfile::tempdir().unwrap();
    let (mut up, printed) = start_up(&state, &[]).await;
    let exported: Vec<&str> = printed
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with("export ") || l.starts_with("unset "))
        .collect();
    // The state file holds the stack's keys: the user's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state.path().join("endpoints.json")), 0o600);
    let env = pipelines_emulator(&state)
        .arg("env")
        .output()
        .await
        .unwrap();
    assert_eq!(env.status.code(), Some(0));
    let mut printed_by_env: Vec<&str> = std::str::from_utf8(&env.stdout).unwrap().lines().collect();
    let mut expected = exported.clone();
    printed_by_env.sort_unstable();
    expected.sort_unstable();
    assert_eq!(printed_by_env, expected);

    // The README's local on-call flow, in a shell of its own with no AWS settings.
    let path = format!(
        "{}:{}",
        binary_dir().display(),
        std::env::var("PATH").unwrap()
    );
    let waiting = Command::new("bash")
        .args([
            "-c",
            r#"eval "$(pipelines-emulator env)" && pipeline-steps waiting --json"#,
        ])
        .env("PATH", path)
        .env("EMULATOR_STATE_DIR", state.path())
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_ENDPOINT_URL_SAGEMAKER")
        .output()
        .await
        .unwrap();
    assert_eq!(
        waiting.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&waiting.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&waiting.stdout).unwrap();
    assert_eq!(listed, json!([]));

    interrupt(&up);
    tokio::time::timeout(DEADLINE, up.wait())
        .await
        .unwrap()
        .unwrap();
    let gone = pipelines_emulator(&state)
        .arg("env")
        .output()
        .await
        .unwrap();
    assert_eq!(gone.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no emulator is running"));
}

#[tokio::test]
async fn boto3_finds_the_sagemaker_api_of_the_service_model_on_up() {
    let state = tempfile::tempdir().unwrap();
    let (mut up, printed) =
        start_up(&state, &["--mocks", "infra/pipelines/abalone-mocks.json"]).await;
    let exports = integration_tests::cli::exports(&printed);
    assert!(
        exports.iter().any(|(k, _)| k == "AWS_ENDPOINT_URL_S3"),
        "the S3 endpoint is printed: {printed:#?}"
    );
    let output = Command::new(workspace_root().join(".venv/bin/python"))
        .arg(workspace_root().join("tests/boto3_api.py"))
        .envs(exports)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("checks passed"), "{stdout}");

    // The inner loop from the command line: the bias check again, on the results of the
    // latest ended execution the boto3 checks left.
    let rerun = pipelines_emulator(&state)
        .args(["rerun", "model-bias-check", "ModelBiasCheckStep"])
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&rerun.stdout);
    assert_eq!(
        rerun.status.code(),
        Some(0),
        "{said}{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let line = |step: &str| {
        said.lines()
            .find(|l| l.trim_start().starts_with(step))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("TrainAbaloneModel").ends_with("reused"), "{said}");
    assert!(line("ModelBiasCheckStep").ends_with("ran"), "{said}");
    assert!(
        line("RegisterAbaloneModel").is_empty(),
        "nothing downstream runs: {said}"
    );
    let none = pipelines_emulator(&state)
        .args(["rerun", "abalone", "AbaloneEval"])
        .output()
        .await
        .unwrap();
    assert_eq!(none.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no Succeeded or Failed execution"));
    interrupt(&up);
    let _ = tokio::time::timeout(DEADLINE, up.wait()).await;
}

/// Runs `pipelines-emulator run` with these arguments; asserts its exit code and that its
/// output (stdout, then stderr) says each of `expected`.
async fn expect_run(state: &tempfile::TempDir, args: &[&str], code: i32, expected: &[&str]) {
    let output = pipelines_emulator(state)
        .arg("run")
        .args(args)
        .output()
        .await
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(code), "{args:?}: {said}");
    for needle in expected {
        assert!(said.contains(needle), "{args:?}: no '{needle}' in {said}");
    }
}

#[tokio::test]
async fn run_takes_the_sdks_definitions_as_they_are() {
    let state = tempfile::tempdir().unwrap();
    for major in ["v2", "v3"] {
        let dir = format!("tests/sdk/definitions/{major}");
        let file = |name: &str| format!("{dir}/{name}.json");
        expect_run(
            &state,
            &[&file("branch-chain")],
            0,
            &["Second.value = one-two", "After.outcome = true"],
        )
        .await;
        expect_run(
            &state,
            &[&file("conditions"), "--param", "Mode=off"],
            1,
            &["execution Failed: a condition failed for mode off"],
        )
        .await;
        expect_run(
            &state,
            &[&file("enum-parameter"), "--param", "Env=staging"],
            3,
            &["parameter 'Env': \"staging\" is not one of its EnumValues"],
        )
        .await;
        expect_run(
            &state,
            &[&file("nested-condition")],
            3,
            &["nested Condition steps are not supported"],
        )
        .await;
    }
}

#[tokio::test]
async fn run_takes_the_abalone_pipeline_with_mocks_and_boto3_completes_its_callback() {
    let state = tempfile::tempdir().unwrap();
    // As "Run your own pipeline locally" shows it.
    let shown = command_starting_with(
        "target/debug/pipelines-emulator run tests/sdk/definitions/v2/abalone.json",
    );
    let mut run = pipelines_emulator(&state)
        .args(&shown.words[1..])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(run.stdout.take().unwrap()).lines();
    let seen = read_until(&mut lines, "AbaloneApprove").await;
    assert!(
        seen.iter()
            .any(|l| l.contains("AbaloneTrain") && l.contains("training-job/pipelines-")),
        "{seen:#?}"
    );
    let completed = Command::new(workspace_root().join(".venv/bin/python"))
        .arg(workspace_root().join("tests/complete_callback.py"))
        .arg(state.path())
        .args(["AbaloneApprove", "Approved=true"])
        .output()
        .await
        .unwrap();
    assert!(
        completed.status.success(),
        "{}",
        String::from_utf8_lossy(&completed.stderr)
    );
    let mut all = seen;
    all.extend(read_until(&mut lines, "execution Succeeded").await);
    for step in [
        "AbaloneRegister-RegisterModel",
        "AbaloneCreateModel-CreateModel",
        "AbaloneTransform",
        "AbaloneApprove",
    ] {
        assert!(
            all.iter()
                .any(|l| l.contains(step) && l.contains("Succeeded")),
            "{step}: {all:#?}"
        );
    }
    let code = tokio::time::timeout(DEADLINE, run.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code.code(), Some(0));
}

#[tokio::test]
async fn a_bad_mock_file_is_refused_before_anything_starts() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (text, expected) in [
        ("{not json", "the mock file: key must be a string"),
        (r#"{"Steps": {"AbaloneTrain": {"Second": 1}}}"#, "unknown field `Second`"),
        (
            r#"{"Steps": {"AbaloneTrian": {"Seconds": 1}}}"#,
            "the mock file names step 'AbaloneTrian', which the pipeline does not have (its job steps: AbaloneProcess, AbaloneTrain, AbaloneEval,",
        ),
        (
            r#"{"Steps": {"AbaloneNotify": {"Seconds": 1}}}"#,
            "step 'AbaloneNotify', a Lambda step, which runs for real",
        ),
    ] {
        let path = dir.path().join("mocks.json");
        std::fs::write(&path, text).unwrap();
        let path = path.display().to_string();
        expect_run(
            &state,
            &["tests/sdk/definitions/v2/abalone.json", "--mocks", &path],
            3,
            &[expected],
        )
        .await;
    }
}

#[tokio::test]
async fn functions_and_queues_outside_the_template_are_served_with_their_flags() {
    let state = tempfile::tempdir().unwrap();
    let steps = json!([
        {"Name": "Score", "Type": "Lambda", "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:python-scorer",
         "Arguments": {"model": "a-model-of-twenty-chars", "threshold": 0.1},
         "OutputParameters": [{"OutputName": "Score", "OutputType": "Float"},
                              {"OutputName": "Passed", "OutputType": "Boolean"},
                              {"OutputName": "Runtime", "OutputType": "String"}]}
    ]);
    let (_dir, path) = temp_definition(&definition(json!([]), steps));
    let path = path.display().to_string();
    expect_run(&state, &[&path], 3, &[
        "step 'Score': no function of infra/template.yaml matches FunctionArn arn:aws:lambda:us-east-1:123456789012:function:python-scorer; serve it with --function python-scorer=",
    ])
    .await;
    // The flags as "Resources outside the template" shows them.
    let shown = command_starting_with(
        "target/debug/pipelines-emulator run pipeline.json --function python-scorer",
    );
    let function = shown.values_of("--function")[0];
    expect_run(
        &state,
        &[&path, "--function", function],
        0,
        &[
            "Score.Runtime = python",
            "Score.Score = 0.23",
            "Score.Passed = true",
        ],
    )
    .await;

    let queue = "https://sqs.us-east-1.amazonaws.com/123456789012/approvals-queue";
    let steps = json!([{"Name": "Approve", "Type": "Callback", "SqsQueueUrl": queue,
        "Arguments": {"task": "event"}, "OutputParameters": []}]);
    let (_dir, path) = temp_definition(&definition(json!([]), steps));
    expect_run(
        &state,
        &[&path.display().to_string()],
        3,
        &["route it to one with --queue approvals-queue=<logical id>"],
    )
    .await;
    let mut routed = pipelines_emulator(&state)
        .arg("run")
        .arg(&path)
        .args(["--queue", shown.values_of("--queue")[0]])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(routed.stdout.take().unwrap()).lines();
    read_until(&mut lines, "Approve").await;
    let completed = Command::new(workspace_root().join(".venv/bin/python"))
        .arg(workspace_root().join("tests/complete_callback.py"))
        .arg(state.path())
        .arg("Approve")
        .output()
        .await
        .unwrap();
    assert!(
        completed.status.success(),
        "{}",
        String::from_utf8_lossy(&completed.stderr)
    );
    read_until(&mut lines, "execution Succeeded").await;
}

#[tokio::test]
async fn a_stack_killed_outright_leaves_no_process_behind() {
    let state = tempfile::tempdir().unwrap();
    let (mut up, _) = start_up(&state, &[]).await;
    let pid = up.id().unwrap();
    let children = children_of(pid);
    assert!(
        children.len() >= 4,
        "moto server and the template's functions: {children:?}"
    );
    // SIGKILL: no destructor runs, so only the kernel can end the children.
    up.kill().await.unwrap();
    wait_until("no child outlives the stack", DEADLINE, || {
        !children.iter().any(|c| alive(*c))
    })
    .await;
}

#[tokio::test]
async fn ctrl_c_right_after_up_prints_its_exports_stops_it_cleanly() {
    let state = tempfile::tempdir().unwrap();
    let (mut up, _) = start_up(&state, &[]).await;
    // At once, as a user who changed their mind: the handler is already in place.
    interrupt(&up);
    let status = tokio::time::timeout(DEADLINE, up.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        !state.path().join("endpoints.json").exists(),
        "up left the endpoints of a stopped stack behind"
    );
}

#[tokio::test]
async fn env_refuses_the_endpoints_of_a_stack_that_is_gone() {
    let state = tempfile::tempdir().unwrap();
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id().unwrap();
    gone.wait().await.unwrap();
    let file = state.path().join("endpoints.json");
    std::fs::write(
        &file,
        json!({"sagemaker": "http://127.0.0.1:9", "pid": pid,
            "env": {"AWS_ENDPOINT_URL_SAGEMAKER": "http://127.0.0.1:9"}})
        .to_string(),
    )
    .unwrap();
    let env = pipelines_emulator(&state)
        .arg("env")
        .output()
        .await
        .unwrap();
    assert_eq!(env.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&env.stderr);
    assert!(stderr.contains(&format!("(pid {pid}) is gone")), "{stderr}");
    assert!(env.stdout.is_empty(), "no exports of a dead stack");
    assert!(!file.exists(), "the stale file is removed");
}

/// The stack's work folder, from the SDK config path `up` exports inside it.
fn work_folder(printed: &[String]) -> PathBuf {
    let exports = integration_tests::cli::exports(printed);
    let config = &exports
        .iter()
        .find(|(k, _)| k == "SAGEMAKER_USER_CONFIG_OVERRIDE")
        .unwrap()
        .1;
    PathBuf::from(config).parent().unwrap().to_path_buf()
}

fn signal(child: &tokio::process::Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn up_stopped_by_sigterm_or_sighup_leaves_nothing_and_a_killed_ones_folder_is_swept() {
    for stop in ["TERM", "HUP"] {
        let state = tempfile::tempdir().unwrap();
        let (mut up, printed) = start_up(&state, &[]).await;
        let work = work_folder(&printed);
        assert!(work.is_dir());
        signal(&up, stop);
        let status = tokio::time::timeout(DEADLINE, up.wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.code(), Some(0), "SIG{stop} stops up as Ctrl-C does");
        assert!(
            !work.exists(),
            "SIG{stop} left the work folder {}",
            work.display()
        );
        assert!(!state.path().join("endpoints.json").exists());
    }

    // Killed outright, no destructor runs: the next start sweeps what it left.
    let state = tempfile::tempdir().unwrap();
    let (mut killed, printed) = start_up(&state, &[]).await;
    let left = work_folder(&printed);
    signal(&killed, "KILL");
    let _ = killed.wait().await;
    assert!(left.is_dir(), "SIGKILL runs no clean-up");
    let (mut next, _) = start_up(&state, &[]).await;
    assert!(!left.exists(), "the next start swept {}", left.display());
    interrupt(&next);
    let _ = tokio::time::timeout(DEADLINE, next.wait()).await;
}
