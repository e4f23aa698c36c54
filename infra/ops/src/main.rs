//! `pipeline-steps`: for the person on call. Finds the Callback steps that wait, completes
//! one by hand, checks the wiring that leaves them waiting, and redrives the DLQ. The
//! same code works against AWS (the standard credential chain and region) and the local
//! stack (the `AWS_ENDPOINT_URL_*` exports of `pipelines-emulator up`).

mod aws;
mod complete;
mod doctor;
mod redrive;
mod sqs_queues;
mod waiting;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use aws::Clients;

const EXIT_CODES: &str =
    "Exit codes: 0 done; 1 a check failed (doctor) or the step is not waiting \
(succeed, fail); 2 bad arguments or values over the API's limits, nothing sent; 3 AWS could \
not be used (credentials, access denied, unreachable).";

#[derive(Parser)]
#[command(name = "pipeline-steps", about = "Find and finish waiting SageMaker Callback steps, and check the wiring that leaves them waiting", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every Callback step still waiting, across the executing executions.
    Waiting {
        /// Only this pipeline (repeatable); all pipelines by default.
        #[arg(long = "pipeline")]
        pipelines: Vec<String>,
        /// One JSON array, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Complete a waiting step as succeeded.
    Succeed {
        token: String,
        /// An output parameter, NAME=VALUE (repeatable).
        #[arg(long = "output", value_parser = pair)]
        outputs: Vec<(String, String)>,
    },
    /// Complete a waiting step as failed.
    Fail {
        token: String,
        /// Why, at most 256 characters: the pipeline shows it.
        #[arg(long)]
        reason: String,
    },
    /// Check the queue, its DLQ and policy, and the EMR rules; exit 1 on a fail.
    Doctor {
        /// The queue Callback steps send to (the stack's CallbackQueueUrl).
        #[arg(long, required_unless_present = "stack")]
        queue_url: Option<String>,
        /// An EventBridge rule that feeds emr-events (repeatable).
        #[arg(long = "rule")]
        rules: Vec<String>,
        /// A pipeline execution role that must be able to send (repeatable).
        #[arg(long = "pipeline-role")]
        pipeline_roles: Vec<String>,
        /// Read the queue, rules and roles from this CloudFormation stack.
        #[arg(long, conflicts_with = "queue_url")]
        stack: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Move the DLQ's messages back to the queue.
    Redrive {
        #[arg(long)]
        queue_url: String,
        /// Where messages sent but not yet deleted from the DLQ are noted, so that a
        /// run after a crash finishes them without sending them twice.
        #[arg(long)]
        journal: Option<PathBuf>,
    },
}

fn pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("'{text}' is not NAME=VALUE"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let clients = Clients::from_env().await;
    let code = match cli.command {
        Command::Waiting { pipelines, json } => waiting_command(&clients, &pipelines, json).await,
        Command::Succeed { token, outputs } => finish(
            complete::succeed(&clients, &token, &outputs).await,
            "succeeded",
        ),
        Command::Fail { token, reason } => {
            finish(complete::fail(&clients, &token, &reason).await, "failed")
        }
        Command::Doctor {
            queue_url,
            rules,
            pipeline_roles,
            stack,
            json,
        } => {
            let wiring = match stack {
                Some(stack) => match doctor::from_stack(&clients, &stack).await {
                    Ok(wiring) => wiring,
                    Err(e) => return failed(3, &e.to_string()),
                },
                None => doctor::Wiring {
                    queue_url: queue_url.unwrap_or_default(),
                    rules,
                    pipeline_roles,
                },
            };
            let checks = doctor::examine(&clients, &wiring).await;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&checks).expect("checks are JSON")
                );
            } else {
                print!(
                    "{}",
                    doctor::report(&checks, std::io::stdout().is_terminal())
                );
            }
            let failed = checks.iter().any(|c| c.verdict == doctor::Verdict::Fail);
            ExitCode::from(u8::from(failed))
        }
        Command::Redrive { queue_url, journal } => {
            redrive_command(&clients, &queue_url, journal).await
        }
    };
    code
}

fn failed(code: u8, message: &str) -> ExitCode {
    eprintln!("pipeline-steps: {message}");
    ExitCode::from(code)
}

fn finish(result: Result<String, complete::CompleteError>, done: &str) -> ExitCode {
    match result {
        Ok(execution) => {
            println!("step {done}; execution {execution}");
            ExitCode::SUCCESS
        }
        Err(e @ complete::CompleteError::Invalid(_)) => failed(2, &e.to_string()),
        Err(e @ complete::CompleteError::NotWaiting(_)) => failed(1, &e.to_string()),
        Err(e @ complete::CompleteError::Call(_)) => failed(3, &e.to_string()),
    }
}

async fn waiting_command(clients: &Clients, pipelines: &[String], json: bool) -> ExitCode {
    if std::io::stderr().is_terminal() {
        eprintln!("looking for waiting Callback steps…");
    }
    match waiting::find(clients, pipelines).await {
        Ok(steps) if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&steps).expect("steps are JSON")
            );
            ExitCode::SUCCESS
        }
        Ok(steps) => {
            print!("{}", waiting::table(&steps));
            ExitCode::SUCCESS
        }
        Err(e) => failed(3, &e.to_string()),
    }
}

async fn redrive_command(clients: &Clients, queue_url: &str, journal: Option<PathBuf>) -> ExitCode {
    use aws_sdk_sqs::types::QueueAttributeName;
    let attributes = match clients
        .sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
    {
        Ok(answer) => answer.attributes.unwrap_or_default(),
        Err(e) => return failed(3, &aws::classify("sqs:GetQueueAttributes", e).to_string()),
    };
    let queue_arn = attributes
        .get(&QueueAttributeName::QueueArn)
        .cloned()
        .unwrap_or_default();
    let Some(dlq_arn) = attributes
        .get(&QueueAttributeName::RedrivePolicy)
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .and_then(|p| p["deadLetterTargetArn"].as_str().map(str::to_owned))
    else {
        return failed(
            1,
            &format!("{queue_url} has no redrive policy, so no dead-letter queue to redrive from"),
        );
    };
    let dlq_name = dlq_arn.rsplit(':').next().unwrap_or_default();
    let dlq_url = match clients
        .sqs
        .get_queue_url()
        .queue_name(dlq_name)
        .send()
        .await
    {
        Ok(answer) => answer.queue_url.unwrap_or_default(),
        Err(e) => return failed(3, &aws::classify("sqs:GetQueueUrl", e).to_string()),
    };
    let journal_path = journal.unwrap_or_else(|| redrive::default_journal(&dlq_arn));
    let mut journal = match redrive::Journal::open(&journal_path) {
        Ok(journal) => journal,
        Err(e) => return failed(2, &e),
    };
    let queues = sqs_queues::SqsQueues {
        client: clients.sqs.clone(),
    };
    match redrive::redrive(
        &queues,
        (queue_url, &queue_arn),
        (&dlq_url, &dlq_arn),
        &mut journal,
    )
    .await
    {
        Ok(moved) => {
            let how = if moved.by_move_task {
                "by SQS's message move task"
            } else {
                "one by one"
            };
            println!(
                "moved {} message(s) from {dlq_name} back to {queue_url} {how}",
                moved.moved
            );
            if moved.finished_from_before > 0 {
                println!(
                    "finished {} message(s) an interrupted run had sent (deleted from the DLQ, not sent again)",
                    moved.finished_from_before
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => failed(
            3,
            &format!(
                "{e} (run it again: the journal {} keeps it from sending a message twice)",
                journal_path.display()
            ),
        ),
    }
}
