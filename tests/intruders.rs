//! The stack probed as another user of the same machine would probe it: every endpoint
//! listens on 127.0.0.1, which any local process reaches, so each must refuse whoever
//! does not hold what this start of the stack handed its own user.

use std::time::Duration;

use integration_tests::deployed_stack;
use integration_tests::raw::{exchange, post_json, signature};
use pipelines_emulator::InvokeError;
use serde_json::json;

const INTRUDER: (&str, &str) = ("AKIAINTRUDERINTRUDER", "a-secret-of-its-own");

#[tokio::test]
async fn every_aws_endpoint_refuses_a_request_not_signed_with_the_stacks_keys() {
    let stack = deployed_stack(&[], None).await;
    let keys = stack.credentials();
    let ours = (keys.access_key_id.as_str(), keys.secret_access_key.as_str());
    let guessed_secret = (ours.0, "guessed");
    for (endpoint, service, target) in [
        (
            stack.sagemaker.endpoint(),
            "sagemaker",
            "SageMaker.ListPipelines",
        ),
        (
            stack.emr.endpoint(),
            "elasticmapreduce",
            "ElasticMapReduce.ListClusters",
        ),
        (stack.moto.endpoint(), "events", "AWSEvents.ListRules"),
    ] {
        for (keys, code) in [
            (None, "MissingAuthenticationTokenException"),
            (Some(INTRUDER), "UnrecognizedClientException"),
            (Some(guessed_secret), "InvalidSignatureException"),
        ] {
            let (status, body) = post_json(&endpoint, service, target, b"{}", keys).await;
            assert_eq!(status, 403, "{target} {keys:?}: {body}");
            assert!(body.contains(code), "{target} {keys:?}: {body}");
        }
        let (status, body) = post_json(&endpoint, service, target, b"{}", Some(ours)).await;
        assert_eq!(status, 200, "{target} with the stack's keys: {body}");
    }

    // S3 as a REST client meets it, in S3's own error shape.
    let moto = stack.moto.endpoint();
    let host = moto.strip_prefix("http://").unwrap().to_owned();
    let headers = vec![("host".to_owned(), host)];
    for (keys, code) in [
        (None, "AccessDenied"),
        (Some(INTRUDER), "InvalidAccessKeyId"),
        (Some(guessed_secret), "SignatureDoesNotMatch"),
        (Some(ours), "ListAllMyBucketsResult"),
    ] {
        let mut signed = headers.clone();
        if let Some(keys) = keys {
            signed.extend(signature(
                keys,
                "s3",
                "GET",
                &format!("{moto}/"),
                &headers,
                b"",
            ));
        }
        let (_, body) = exchange(&moto, "GET", "/", &signed, b"").await.unwrap();
        assert!(body.contains(code), "S3 with {keys:?}: {body}");
    }
}

#[tokio::test]
async fn a_functions_runtime_api_answers_its_own_process_only() {
    let stack = deployed_stack(&[], None).await;
    let function = stack.function("LambdaStepFunction").unwrap();
    // Its process runs and polls.
    let first = function
        .invoke(&json!({"function": "no-such-function"}))
        .await;
    assert!(
        matches!(first, Err(InvokeError::Function { .. })),
        "{first:?}"
    );
    // This test's process is not the function's: its poll for the next invocation, and
    // an answer posted for one, are closed unanswered.
    let api = format!("http://{}", function.runtime_api());
    let polled = tokio::time::timeout(
        Duration::from_secs(10),
        exchange(&api, "GET", "/2018-06-01/runtime/invocation/next", &[], b""),
    )
    .await
    .expect("closed within the deadline");
    assert_eq!(polled, None, "an intruder took an invocation");
    let answered = exchange(
        &api,
        "POST",
        "/2018-06-01/runtime/invocation/00000001-local/response",
        &[],
        b"{\"Ready\": true}",
    )
    .await;
    assert_eq!(answered, None, "an intruder posted an answer");
    // The function's own process is served as before.
    let again = function
        .invoke(&json!({"function": "no-such-function"}))
        .await;
    assert!(
        matches!(again, Err(InvokeError::Function { .. })),
        "{again:?}"
    );
}

/// As root, the test becomes another user (nobody) with setpriv, as a second user of a
/// shared machine is; elsewhere only the modes are checked.
#[tokio::test]
async fn another_user_can_neither_enter_the_work_folder_nor_reach_moto() {
    use std::os::unix::fs::PermissionsExt;
    let stack = deployed_stack(&[], None).await;
    let work = stack.work_dir();
    let mode = std::fs::metadata(work).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the work folder is the user's alone");
    let socket = work.join("moto.sock");
    let connect = format!(
        "import socket; s = socket.socket(socket.AF_UNIX); s.connect({:?}); print('connected')",
        socket.display().to_string()
    );
    let as_user = |nobody: bool, script: &str| {
        let mut command = if nobody {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
            c.arg("/usr/bin/python3");
            c
        } else {
            std::process::Command::new("/usr/bin/python3")
        };
        command.args(["-c", script]).output().unwrap()
    };
    assert!(
        as_user(false, &connect).status.success(),
        "the stack's user reaches moto"
    );
    let root = std::process::Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&root.stdout).trim() != "0" {
        eprintln!("not root: another user's view is not probed");
        return;
    }
    let refused = as_user(true, &connect);
    assert!(
        !refused.status.success(),
        "nobody connected to moto's socket"
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("PermissionError"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let listed = as_user(
        true,
        &format!("import os; os.listdir({:?})", work.display().to_string()),
    );
    assert!(!listed.status.success(), "nobody listed the work folder");
}
