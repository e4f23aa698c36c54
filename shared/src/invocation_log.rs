//! Log lines written once per invocation instead of once per line.
//!
//! Every write to stdout is a system call and, in Lambda, a wake-up of the log collector
//! reading the other end. A batch of 10 logs a line per message, so writing an
//! invocation's lines together when it ends takes nine of every ten writes off the hot
//! path (about 5% of callback-queue's throughput). WARN and ERROR lines, and every line
//! logged outside an invocation (init, the runtime between invocations), are written at
//! once, after what is pending so the order holds. A sandbox killed in the middle of an
//! invocation (a timeout) loses only that invocation's INFO lines; its messages are
//! redelivered and logged again.
//!
//! Under concurrency (Lambda Managed Instances) several invocations are under way at
//! once: lines are held while any is, and the end of each writes out all that is
//! pending, so no line waits longer than the invocation it was logged beside. Every
//! line names its invocation: the runtime's span carries its `requestId`.
//!
//! The format is still lambda_runtime's subscriber (JSON under Lambda's advanced logging
//! controls, the level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`); only the writer is ours.

use std::future::Future;
use std::io::{self, Write};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use lambda_runtime::tracing::subscriber::filter::LevelFilter;
use lambda_runtime::tracing::subscriber::fmt::MakeWriter;
use lambda_runtime::tracing::{Level, Metadata};

/// Pending lines are written at this size even before the invocation ends, so a large
/// batch cannot hold an unbounded amount of log in memory.
const WRITE_AT_BYTES: usize = 64 * 1024;

/// Log lines held for the invocation under way, written together when it ends.
pub struct InvocationLog(Mutex<Lines>);

struct Lines {
    /// Invocations under way in this process.
    in_invocation: usize,
    pending: Vec<u8>,
    out: Box<dyn Write + Send>,
}

static STDOUT_LOG: OnceLock<InvocationLog> = OnceLock::new();

/// Installs lambda_runtime's subscriber writing to stdout through an `InvocationLog`.
///
/// The level Lambda gives (`AWS_LAMBDA_LOG_LEVEL`, or `RUST_LOG` as one word) becomes a
/// plain level filter; only `RUST_LOG` directives (`aws_smithy_runtime=debug,info`) take
/// lambda_runtime's `EnvFilter`, whose parsing is a measurable part of a cold start.
pub fn init() -> &'static InvocationLog {
    let log = STDOUT_LOG.get_or_init(|| InvocationLog::new(Box::new(io::stdout())));
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG"));
    let Some(level) = plain_level(level.as_deref().unwrap_or("INFO")) else {
        lambda_runtime::tracing::init_default_subscriber_with_writer(log);
        return log;
    };
    // lambda_runtime's format: no target, no time (Lambda stamps each line), JSON under
    // Lambda's advanced logging controls.
    let subscriber = lambda_runtime::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_max_level(level)
        .with_writer(log);
    let installed = if std::env::var("AWS_LAMBDA_LOG_FORMAT")
        .is_ok_and(|format| format.eq_ignore_ascii_case("json"))
    {
        subscriber.json().try_init()
    } else {
        subscriber.try_init()
    };
    // Another subscriber installed first (a test's) keeps its place.
    drop(installed);
    log
}

/// The level a setting names, when it is a level alone (`INFO`, `debug`).
fn plain_level(setting: &str) -> Option<LevelFilter> {
    let setting = setting.trim();
    if setting.contains(['=', ',', '[', '/']) {
        return None;
    }
    setting.parse().ok()
}

impl InvocationLog {
    /// A log writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self(Mutex::new(Lines {
            in_invocation: 0,
            pending: Vec::with_capacity(4096),
            out,
        }))
    }

    /// Runs one invocation's work, then writes the lines it logged (also when the work
    /// panics).
    pub async fn around<F: Future>(&self, work: F) -> F::Output {
        let _invocation = self.invocation();
        work.await
    }

    /// Holds INFO and DEBUG lines until the returned guard is dropped.
    pub fn invocation(&self) -> Invocation<'_> {
        self.lines().in_invocation += 1;
        Invocation(self)
    }

    /// Writes what is pending now (a shutdown with invocations still under way).
    pub fn flush(&self) {
        self.lines().write_out();
    }

    fn lines(&self) -> MutexGuard<'_, Lines> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, line: &[u8], at_once: bool) {
        let mut lines = self.lines();
        lines.pending.extend_from_slice(line);
        if at_once || lines.in_invocation == 0 || lines.pending.len() >= WRITE_AT_BYTES {
            lines.write_out();
        }
    }
}

impl Lines {
    fn write_out(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        // A log that cannot be written must not fail the invocation: the lines are dropped.
        let _ = self
            .out
            .write_all(&self.pending)
            .and_then(|()| self.out.flush());
        self.pending.clear();
    }
}

/// An invocation under way: its lines are written when this is dropped.
pub struct Invocation<'a>(&'a InvocationLog);

impl Drop for Invocation<'_> {
    fn drop(&mut self) {
        let mut lines = self.0.lines();
        lines.in_invocation = lines.in_invocation.saturating_sub(1);
        lines.write_out();
    }
}

/// One formatted event, handed over by the subscriber in a single write.
pub struct LineSink<'a> {
    log: &'a InvocationLog,
    at_once: bool,
}

impl Write for LineSink<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.log.append(line, self.at_once);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for &'static InvocationLog {
    type Writer = LineSink<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineSink {
            log: self,
            at_once: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        LineSink {
            log: self,
            // Levels compare by verbosity: WARN and ERROR are the ones at or below WARN.
            at_once: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use lambda_runtime::tracing::subscriber::fmt;

    use super::*;

    /// What reached the output, and in how many writes.
    #[derive(Clone, Default)]
    struct Output(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Output {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut out = self.0.lock().unwrap();
            out.0.extend_from_slice(buf);
            out.1 += 1;
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Output {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().0.clone()).unwrap()
        }

        fn writes(&self) -> usize {
            self.0.lock().unwrap().1
        }
    }

    fn leaked_log(output: &Output) -> &'static InvocationLog {
        Box::leak(Box::new(InvocationLog::new(Box::new(output.clone()))))
    }

    fn with_subscriber(log: &'static InvocationLog, body: impl FnOnce()) {
        tracing::subscriber::with_default(fmt().with_writer(log).without_time().finish(), body);
    }

    #[test]
    fn a_level_alone_is_a_plain_filter_and_directives_are_left_to_env_filter() {
        assert_eq!(plain_level("INFO"), Some(LevelFilter::INFO));
        assert_eq!(plain_level(" debug "), Some(LevelFilter::DEBUG));
        assert_eq!(plain_level("aws_smithy_runtime=debug,info"), None);
        assert_eq!(plain_level("warn,sagemaker_custom_steps=trace"), None);
        assert_eq!(plain_level("loud"), None);
    }

    #[test]
    fn info_lines_wait_for_the_end_of_the_invocation_and_go_out_in_one_write() {
        let output = Output::default();
        let log = leaked_log(&output);
        let invocation = log.invocation();
        with_subscriber(log, || {
            for i in 0..10 {
                tracing::info!(message_number = i, "reported");
            }
        });
        assert_eq!(output.text(), "");
        drop(invocation);
        assert_eq!(output.writes(), 1);
        assert_eq!(output.text().lines().count(), 10);
        assert!(output
            .text()
            .lines()
            .last()
            .unwrap()
            .contains("message_number=9"));
    }

    #[test]
    fn a_warning_goes_out_at_once_after_the_pending_lines() {
        let output = Output::default();
        let log = leaked_log(&output);
        let _invocation = log.invocation();
        with_subscriber(log, || {
            tracing::info!("first");
            tracing::warn!("second");
        });
        let text = output.text();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("first") && lines[1].contains("second"));
        with_subscriber(log, || tracing::error!("third"));
        assert!(output.text().lines().last().unwrap().contains("third"));
    }

    #[test]
    fn a_long_invocation_writes_before_it_ends() {
        let output = Output::default();
        let log = leaked_log(&output);
        let long = "x".repeat(1000);
        let invocation = log.invocation();
        with_subscriber(log, || {
            for _ in 0..100 {
                tracing::info!(detail = %long, "line");
            }
        });
        assert!(output.writes() >= 1);
        let written = output.text().len();
        assert!(written >= WRITE_AT_BYTES, "{written} bytes written");
        drop(invocation);
        assert_eq!(output.text().lines().count(), 100);
    }

    #[test]
    fn lines_outside_an_invocation_are_written_at_once() {
        let output = Output::default();
        let log = leaked_log(&output);
        with_subscriber(log, || tracing::info!("init"));
        assert!(output.text().contains("init"));
        drop(log.invocation());
        with_subscriber(log, || tracing::info!("between invocations"));
        assert!(output.text().contains("between invocations"));
    }

    #[test]
    fn concurrent_invocations_hold_lines_until_one_ends_then_write_them_all() {
        let output = Output::default();
        let log = leaked_log(&output);
        let first = log.invocation();
        let second = log.invocation();
        with_subscriber(log, || {
            tracing::info!("from the first");
            tracing::info!("from the second");
        });
        assert_eq!(output.text(), "");
        drop(second);
        assert_eq!(output.text().lines().count(), 2);
        with_subscriber(log, || tracing::info!("the first goes on"));
        assert_eq!(
            output.text().lines().count(),
            2,
            "held: the first is under way"
        );
        drop(first);
        assert!(output.text().contains("the first goes on"));
        with_subscriber(log, || tracing::info!("between invocations"));
        assert!(output.text().contains("between invocations"));
    }

    #[test]
    fn flush_writes_what_an_unfinished_invocation_logged() {
        let output = Output::default();
        let log = leaked_log(&output);
        let _under_way = log.invocation();
        with_subscriber(log, || tracing::info!("before the shutdown"));
        log.flush();
        assert!(output.text().contains("before the shutdown"));
    }

    #[test]
    fn a_panicking_invocation_still_writes_its_lines() {
        let output = Output::default();
        let log = leaked_log(&output);
        let panicked = std::panic::catch_unwind(|| {
            let _invocation = log.invocation();
            with_subscriber(log, || tracing::info!("before the panic"));
            panic!("handler bug");
        });
        assert!(panicked.is_err());
        assert!(output.text().contains("before the panic"));
    }

    #[tokio::test]
    async fn around_writes_the_lines_of_the_work_when_it_ends() {
        let output = Output::default();
        let log = leaked_log(&output);
        let subscriber = fmt().with_writer(log).without_time().finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let answer = log
            .around(async {
                tracing::info!("working");
                assert_eq!(output.text(), "", "written before the work ended");
                42
            })
            .await;
        assert_eq!(answer, 42);
        assert!(output.text().contains("working"));
    }
}
