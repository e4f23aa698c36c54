//! The local EMR endpoint through the real aws-sdk-emr: every request member is honoured
//! or refused by name (the member walk), and what is honoured behaves as EMR behaves:
//! termination protection, paging with Marker, the time filters, and the two ways
//! CancelSteps ends a running step.

use std::time::{Duration, SystemTime};

use aws_sdk_emr::types::{
    ActionOnFailure, BootstrapActionConfig, HadoopJarStepConfig, JobFlowInstancesConfig,
    ScriptBootstrapActionConfig, StepCancellationOption, StepConfig, StepState,
};
use integration_tests::wait_until;
use pipelines_emulator::EmrServer;

async fn emr() -> (EmrServer, aws_sdk_emr::Client, tempfile::TempDir) {
    let logs = tempfile::tempdir().unwrap();
    let credentials = pipelines_emulator::Credentials::generate();
    let (server, _events) = EmrServer::start(logs.path().to_path_buf(), credentials.clone())
        .await
        .unwrap();
    let client = aws_sdk_emr::Client::new(&pipelines_emulator::sdk_config(
        &server.endpoint(),
        &credentials,
    ));
    (server, client, logs)
}

fn instances(protected: bool) -> JobFlowInstancesConfig {
    JobFlowInstancesConfig::builder()
        .instance_count(1)
        .master_instance_type("m5.xlarge")
        .keep_job_flow_alive_when_no_steps(true)
        .termination_protected(protected)
        .build()
}

/// A RunJobFlow request for a cluster that waits for steps (release 7.2.0).
fn job_flow(
    client: &aws_sdk_emr::Client,
    name: &str,
    protected: bool,
) -> aws_sdk_emr::operation::run_job_flow::builders::RunJobFlowFluentBuilder {
    client
        .run_job_flow()
        .name(name)
        .release_label("emr-7.2.0")
        .instances(instances(protected))
}

/// Runs that request; answers the cluster's id.
async fn start_cluster(client: &aws_sdk_emr::Client, name: &str, protected: bool) -> String {
    job_flow(client, name, protected)
        .send()
        .await
        .unwrap()
        .job_flow_id
        .unwrap()
}

fn command_step(name: &str, command: &[&str]) -> StepConfig {
    StepConfig::builder()
        .name(name)
        .action_on_failure(ActionOnFailure::Continue)
        .hadoop_jar_step(
            HadoopJarStepConfig::builder()
                .jar("command-runner.jar")
                .set_args(Some(command.iter().map(|a| a.to_string()).collect()))
                .build(),
        )
        .build()
}

fn refusal<E: aws_sdk_emr::error::ProvideErrorMetadata>(err: E) -> String {
    format!(
        "{}: {}",
        err.code().unwrap_or("?"),
        err.message().unwrap_or("")
    )
}

#[tokio::test]
async fn what_the_local_emr_cannot_do_is_refused_by_name() {
    let (_server, client, _logs) = emr().await;
    let err = job_flow(&client, "with-bootstrap", false)
        .bootstrap_actions(
            BootstrapActionConfig::builder()
                .name("install")
                .script_bootstrap_action(
                    ScriptBootstrapActionConfig::builder()
                        .path("s3://bucket/install.sh")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    let message = refusal(err.into_service_error());
    assert!(
        message.contains("ValidationException")
            && message.contains("BootstrapActions is not supported by the emulator"),
        "{message}"
    );
    let err = job_flow(&client, "concurrent", false)
        .step_concurrency_level(5)
        .send()
        .await
        .unwrap_err();
    let message = refusal(err.into_service_error());
    assert!(message.contains("StepConcurrencyLevel 5"), "{message}");
    assert!(client
        .list_clusters()
        .send()
        .await
        .unwrap()
        .clusters()
        .is_empty());
}

#[tokio::test]
async fn a_protected_cluster_is_not_terminated_and_lists_page_with_marker() {
    let (_server, client, _logs) = emr().await;
    let protected = start_cluster(&client, "protected", true).await;
    let err = client
        .terminate_job_flows()
        .job_flow_ids(&protected)
        .send()
        .await
        .unwrap_err();
    let message = refusal(err.into_service_error());
    assert!(message.contains("termination protected"), "{message}");
    let described = client
        .describe_cluster()
        .cluster_id(&protected)
        .send()
        .await
        .unwrap();
    let cluster = described.cluster().unwrap();
    assert_eq!(cluster.termination_protected(), Some(true));
    assert!(!cluster
        .status()
        .unwrap()
        .state()
        .unwrap()
        .as_str()
        .starts_with("TERMINAT"));

    let before_rest = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for n in 0..54 {
        start_cluster(&client, &format!("cluster-{n}"), false).await;
    }
    let first = client.list_clusters().send().await.unwrap();
    assert_eq!(first.clusters().len(), 50);
    let marker = first.marker().expect("a second page");
    let second = client.list_clusters().marker(marker).send().await.unwrap();
    assert_eq!(second.clusters().len(), 5);
    assert!(second.marker().is_none());
    let mut names: Vec<&str> = first
        .clusters()
        .iter()
        .chain(second.clusters())
        .filter_map(|c| c.name())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 55, "every cluster once across the pages");
    let before = client
        .list_clusters()
        .created_before(aws_sdk_emr::primitives::DateTime::from_secs_f64(
            before_rest,
        ))
        .send()
        .await
        .unwrap();
    let before: Vec<&str> = before.clusters().iter().filter_map(|c| c.name()).collect();
    assert_eq!(before, ["protected"]);
}

/// A step that notes a SIGTERM in its log folder (its working directory) and exits.
const NOTES_SIGTERM: &str =
    "trap 'echo term > sigterm; exit 0' TERM; echo started > started; while true; do sleep 0.1; done";

async fn running_step(
    client: &aws_sdk_emr::Client,
    cluster: &str,
    logs: &std::path::Path,
) -> String {
    let step = client
        .add_job_flow_steps()
        .job_flow_id(cluster)
        .steps(command_step("loop", &["sh", "-c", NOTES_SIGTERM]))
        .send()
        .await
        .unwrap()
        .step_ids()[0]
        .clone();
    let marker = |name: &str| walk(logs).into_iter().any(|p| p.ends_with(name));
    wait_until("the step is running", Duration::from_secs(20), || {
        marker("started")
    })
    .await;
    step
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

async fn step_state(client: &aws_sdk_emr::Client, cluster: &str, step: &str) -> StepState {
    let described = client
        .describe_step()
        .cluster_id(cluster)
        .step_id(step)
        .send()
        .await
        .unwrap();
    described
        .step()
        .unwrap()
        .status()
        .unwrap()
        .state()
        .unwrap()
        .clone()
}

/// Cancels a running step as asked and waits until DescribeStep says CANCELLED.
async fn cancel(
    client: &aws_sdk_emr::Client,
    cluster: &str,
    step: &str,
    how: StepCancellationOption,
) {
    client
        .cancel_steps()
        .cluster_id(cluster)
        .step_ids(step)
        .step_cancellation_option(how)
        .send()
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while step_state(client, cluster, step).await != StepState::Cancelled {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the step {step} ends cancelled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn cancel_steps_interrupts_or_kills_as_asked() {
    let (_server, client, logs) = emr().await;
    let cluster = start_cluster(&client, "cancels", false).await;

    let interrupted = running_step(&client, &cluster, logs.path()).await;
    cancel(
        &client,
        &cluster,
        &interrupted,
        StepCancellationOption::SendInterrupt,
    )
    .await;
    let noted: Vec<_> = walk(logs.path())
        .into_iter()
        .filter(|p| p.ends_with("sigterm"))
        .collect();
    assert_eq!(
        noted.len(),
        1,
        "SEND_INTERRUPT sends SIGTERM and lets the step exit"
    );

    for started in walk(logs.path())
        .into_iter()
        .filter(|p| p.ends_with("started"))
    {
        std::fs::remove_file(started).unwrap();
    }
    let killed = running_step(&client, &cluster, logs.path()).await;
    cancel(
        &client,
        &cluster,
        &killed,
        StepCancellationOption::TerminateProcess,
    )
    .await;
    let noted = walk(logs.path())
        .into_iter()
        .filter(|p| p.ends_with("sigterm"))
        .count();
    assert_eq!(
        noted, 1,
        "TERMINATE_PROCESS kills without a signal the step can catch"
    );
}
