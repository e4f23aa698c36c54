//! Nothing of the user's reaches a step: the stack is started by a user whose
//! environment holds real-looking AWS credentials, a session token, a profile that does
//! not exist and a HOME with `~/.aws`; none of it may reach moto, a function or an EMR
//! step. One test in a binary of its own, as it sets this process's environment.

use std::time::{Duration, Instant};

use integration_tests::deployed_stack;
use pipelines_emulator::STANDING_CLUSTER_ID;
use serde_json::json;

const CANARY: &str = "canary7f3a";

#[tokio::test]
async fn no_credential_profile_or_home_of_the_user_reaches_any_child_of_the_stack() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/credentials"),
        format!("[default]\naws_access_key_id = AKIA{CANARY}\naws_secret_access_key = {CANARY}\n"),
    )
    .unwrap();
    // SAFETY: set before the stack or any other thread of this test binary starts.
    for (key, value) in [
        ("AWS_ACCESS_KEY_ID", format!("AKIA{CANARY}")),
        ("AWS_SECRET_ACCESS_KEY", CANARY.to_owned()),
        ("AWS_SESSION_TOKEN", CANARY.to_owned()),
        ("AWS_PROFILE", format!("{CANARY}-no-such-profile")),
        ("HOME", home.path().display().to_string()),
    ] {
        std::env::set_var(key, value);
    }
    // moto starts (a profile that does not exist would stop it), and so do the functions.
    let stack = deployed_stack(&[], None).await;
    let function = stack.function("LambdaStepFunction").unwrap();
    let _ = function
        .invoke(&json!({"function": "no-such-function"}))
        .await;

    // An EMR step prints its environment, and holds on while the processes are read.
    let emr = aws_sdk_emr::Client::new(&pipelines_emulator::sdk_config(
        &stack.emr.endpoint(),
        stack.credentials(),
    ));
    let step = aws_sdk_emr::types::StepConfig::builder()
        .name("print-env")
        .action_on_failure(aws_sdk_emr::types::ActionOnFailure::Continue)
        .hadoop_jar_step(
            aws_sdk_emr::types::HadoopJarStepConfig::builder()
                .jar("command-runner.jar")
                .args("sh")
                .args("-c")
                .args("env; echo HOME=$HOME; sleep 2")
                .build(),
        )
        .build();
    let added = emr
        .add_job_flow_steps()
        .job_flow_id(STANDING_CLUSTER_ID)
        .steps(step)
        .send()
        .await
        .unwrap();
    let step_id = added.step_ids()[0].clone();

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    loop {
        let state = emr
            .describe_step()
            .cluster_id(STANDING_CLUSTER_ID)
            .step_id(&step_id)
            .send()
            .await
            .unwrap()
            .step
            .unwrap()
            .status
            .unwrap()
            .state
            .unwrap();
        // Every process below this one, the running step included, while it runs.
        for (pid, environ) in descendants_environ() {
            assert!(
                !environ.contains(CANARY),
                "process {pid} of the stack carries the user's environment: {environ}"
            );
            seen += 1;
        }
        if state.as_str() == "COMPLETED" {
            break;
        }
        assert!(Instant::now() < deadline, "the step did not end: {state:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        seen >= 3,
        "moto, the functions and the step were read ({seen})"
    );
    let printed = std::fs::read_to_string(
        stack
            .work_dir()
            .join("emr-logs")
            .join(STANDING_CLUSTER_ID)
            .join("steps")
            .join(&step_id)
            .join("stdout"),
    )
    .unwrap();
    assert!(!printed.contains(CANARY), "{printed}");
    assert!(
        printed.contains(&format!(
            "AWS_ACCESS_KEY_ID={}",
            stack.credentials().access_key_id
        )),
        "the step has the stack's keys: {printed}"
    );
    let step_home = printed
        .lines()
        .find_map(|l| l.strip_prefix("HOME="))
        .unwrap();
    assert!(
        step_home.starts_with(&stack.work_dir().display().to_string()),
        "the step's HOME is its own: {step_home}"
    );
}

/// (pid, environment) of every live process below this one.
fn descendants_environ() -> Vec<(u32, String)> {
    let members = pipelines_emulator::family(std::process::id());
    members
        .into_iter()
        .skip(1)
        .filter_map(|pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            Some((pid, String::from_utf8_lossy(&environ).replace('\0', " ")))
        })
        .collect()
}
