//! A job's life on the real sandbox, with no S3 staging: its environment, its own
//! `/opt/ml`, its failure file and its MaxRuntimeInSeconds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;

use super::{CodeJob, CodeJobEnd, CodeJobs};

/// Jobs with no inputs or outputs: S3 is never called, so the client points nowhere.
fn jobs(work: &Path) -> CodeJobs {
    CodeJobs::new(
        vec![("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:9".into())],
        super::offline_s3(),
        work.to_path_buf(),
    )
}

fn job(script: &str, max_runtime: Duration) -> CodeJob {
    CodeJob {
        name: "job".into(),
        command: vec!["/bin/sh".into(), "-c".into(), script.into()],
        env: vec![("MODE".into(), "test".into())],
        cwd: PathBuf::from("/opt/ml"),
        downloads: Vec::new(),
        uploads: Vec::new(),
        folders: vec![PathBuf::from("output")],
        files: vec![(
            PathBuf::from("input/config/hyperparameters.json"),
            "{}".into(),
        )],
        archives: Vec::new(),
        max_runtime,
        note: None,
    }
}

async fn run(script: &str, max_runtime: Duration) -> (CodeJobEnd, tempfile::TempDir) {
    let work = tempfile::tempdir().unwrap();
    let (_stop, stopped) = watch::channel(false);
    let end = jobs(work.path())
        .run(
            &job(script, max_runtime),
            Path::new("/usr/bin/python3"),
            stopped,
        )
        .await;
    (end, work)
}

#[tokio::test]
async fn a_job_sees_its_folder_as_opt_ml_its_files_and_the_stacks_endpoints() {
    let (end, _work) = run(
        "test \"$(pwd)\" = /opt/ml && test -f /opt/ml/input/config/hyperparameters.json \
         && test \"$MODE\" = test && test \"$AWS_ENDPOINT_URL\" = http://127.0.0.1:9 \
         && test \"$AWS_CONFIG_FILE\" = /dev/null && command -v python3 | grep -q /bin/python3 \
         && echo done > /opt/ml/output/seen",
        Duration::from_secs(30),
    )
    .await;
    let CodeJobEnd::Completed { root, .. } = end else {
        panic!("{end:?}")
    };
    assert_eq!(
        std::fs::read_to_string(root.join("output/seen")).unwrap(),
        "done\n"
    );
    assert!(
        !Path::new("/opt/ml/output/seen").exists(),
        "nothing reached the machine's /opt"
    );
}

#[tokio::test]
async fn what_a_job_writes_to_its_failure_file_is_the_reason() {
    let (end, _work) = run(
        "echo 'ModelError: no rows to train on' > /opt/ml/output/failure; exit 2",
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        end,
        CodeJobEnd::Failed("AlgorithmError: ModelError: no rows to train on".into())
    );
}

#[tokio::test]
async fn a_job_past_its_max_runtime_is_stopped_and_fails_saying_so() {
    let started = std::time::Instant::now();
    let (end, _work) = run("echo started; sleep 30", Duration::from_secs(1)).await;
    let CodeJobEnd::Failed(reason) = end else {
        panic!("{end:?}")
    };
    assert!(
        reason.contains(
            "ran past its MaxRuntimeInSeconds (1 s) and was stopped; its last lines: started"
        ),
        "{reason}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "SIGTERM ended the sleep"
    );
}

#[tokio::test]
async fn a_jobs_output_is_logged_echoed_by_line_and_what_it_left_running_ends_with_it() {
    let work = tempfile::tempdir().unwrap();
    let echoed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = echoed.clone();
    let jobs = jobs(work.path()).echo_to(move |line| sink.lock().unwrap().push(line));
    let (_stop, stopped) = watch::channel(false);
    let started = std::time::Instant::now();
    // A background sleep holds the job's output open long after the job's own process;
    // a `setsid` one leaves the job's process group and session, and a double fork its
    // parent. Each sleep's odd length marks it among the machine's processes.
    let end = jobs
        .run(
            &job(
                "echo to stdout; echo to stderr >&2; printf 'bytes \\377\\n'; \
                 sleep 60.0101 & setsid sleep 60.0102 & (setsid sh -c 'sleep 60.0103 &' &); \
                 exit 0",
                Duration::from_secs(30),
            ),
            Path::new("/usr/bin/python3"),
            stopped,
        )
        .await;
    let CodeJobEnd::Completed { log, .. } = end else {
        panic!("{end:?}")
    };
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the job ended with its own process, not with what it left running"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for marker in ["60.0101", "60.0102", "60.0103"] {
        while running(marker) {
            assert!(
                std::time::Instant::now() < deadline,
                "the sleep {marker} the job left still runs"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let logged = std::fs::read(&log).unwrap();
    for line in ["to stdout\n", "to stderr\n"] {
        assert!(
            logged.windows(line.len()).any(|w| w == line.as_bytes()),
            "{line:?} in the log"
        );
    }
    assert!(
        logged.windows(7).any(|w| w == b"bytes \xff"),
        "bytes that are not UTF-8 kept as they are"
    );
    let mut echoed = echoed.lock().unwrap().clone();
    echoed.sort();
    assert_eq!(
        echoed,
        ["[job] bytes \u{fffd}", "[job] to stderr", "[job] to stdout"]
    );
}

/// Whether a live process (not a zombie) of the machine has `marker` in its command line.
fn running(marker: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let path = entry.path();
        let cmdline = std::fs::read(path.join("cmdline")).unwrap_or_default();
        let zombie = std::fs::read_to_string(path.join("stat")).map_or(true, |s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        });
        !zombie && String::from_utf8_lossy(&cmdline).contains(marker)
    })
}

#[tokio::test]
async fn a_jobs_processes_see_a_pid_namespace_of_their_own() {
    let (end, _work) = run(
        "test \"$$\" -le 3 && sh -c 'echo $$' > /opt/ml/output/child.pid",
        Duration::from_secs(30),
    )
    .await;
    let CodeJobEnd::Completed { root, .. } = end else {
        panic!("{end:?}")
    };
    let child: u32 = std::fs::read_to_string(root.join("output/child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        child < 10,
        "pids count from 1 in the job's namespace: {child}"
    );
}
