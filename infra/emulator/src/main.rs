//! `pipelines-emulator`: the project's Lambda handlers and SageMaker pipelines on one machine.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use pipelines_emulator::commands;

#[derive(Parser)]
#[command(
    name = "pipelines-emulator",
    version,
    about = "SageMaker Pipelines custom steps, end to end on one machine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the stack in the foreground and print its endpoints.
    Up {
        /// A parameter of infra/template.yaml, Name=Value.
        #[arg(long = "template-param", value_parser = pair)]
        template_params: Vec<(String, String)>,
        #[command(flatten)]
        resources: Resources,
    },
    /// Run a pipeline definition end to end, following it live.
    /// Exit code: 0 Succeeded, 1 Failed, 2 Stopped, 3 could not run.
    Run {
        definition: PathBuf,
        /// A pipeline parameter, Name=Value.
        #[arg(long = "param", value_parser = pair)]
        params: Vec<(String, String)>,
        /// ParallelismConfiguration: at most this many steps at once.
        #[arg(long)]
        max_parallel: Option<usize>,
        /// When the execution ends, write it as one HTML file here (graph, timeline,
        /// every step's panel), as `report` does.
        #[arg(long)]
        report: Option<PathBuf>,
        /// A parameter of infra/template.yaml, Name=Value.
        #[arg(long = "template-param", value_parser = pair)]
        template_params: Vec<(String, String)>,
        #[command(flatten)]
        resources: Resources,
    },
    /// Rerun steps of a pipeline on the running stack (a selective execution): the
    /// named steps run again, the steps before them reuse their results of the latest
    /// Succeeded or Failed execution, the steps after them do not run.
    /// Exit code: 0 Succeeded, 1 Failed, 2 Stopped, 3 could not run.
    Rerun {
        /// The pipeline's name.
        pipeline: String,
        /// The steps to run, by name.
        #[arg(required = true)]
        steps: Vec<String>,
        /// Reuse the results of this execution instead of the latest ended one.
        #[arg(long)]
        from: Option<String>,
    },
    /// Stop an execution on the running stack.
    Stop { execution_arn: String },
    /// Write an execution of the running stack as one HTML file that opens from disk
    /// with no network: its graph, its timeline and every step's panel.
    Report {
        execution_arn: String,
        /// The file to write.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Print the running stack's client environment as export lines:
    /// eval "$(pipelines-emulator env)" points AWS clients in this shell at it.
    Env,
}

/// What the stack serves beyond the template.
#[derive(clap::Args)]
struct Resources {
    /// The SAM template whose wiring (queues, functions, rules, settings) is deployed:
    /// by default the one installed with the command, or infra/template.yaml in a
    /// checkout.
    #[arg(long)]
    template: Option<PathBuf>,
    /// How SageMaker's job steps behave: a JSON mock file (with `run`, every step it
    /// names must be a job step of the definition).
    #[arg(long)]
    mocks: Option<PathBuf>,
    /// Job steps run their own code, not their mocks, where the emulator can run it
    /// (script-mode Processing); the others stay on their mocks and say why. A step
    /// the mock file gives `"Run": "mock"` stays on its mock.
    #[arg(long)]
    run_code: bool,
    /// The Python interpreter the jobs' code runs in (`python` and `python3` in a job):
    /// your venv's, with your pipeline's dependencies. Default: python3 on PATH.
    #[arg(long)]
    python: Option<String>,
    /// A Lambda function the template does not define, NAME=COMMAND: the command
    /// (split on spaces) speaks the Lambda Runtime API, e.g. a Python handler under
    /// awslambdaric. FunctionArns ending in NAME reach it.
    #[arg(long = "function", value_parser = pair)]
    functions: Vec<(String, String)>,
    /// A queue the template does not define, NAME=LOGICAL_ID: SqsQueueUrls ending in
    /// NAME reach the template's queue LOGICAL_ID.
    #[arg(long = "queue", value_parser = pair)]
    queues: Vec<(String, String)>,
    /// A queue of your own, NAME=COMMAND: created on the local SQS and consumed by the
    /// command (your callback handler, speaking the Lambda Runtime API) as Lambda's SQS
    /// event source would; SqsQueueUrls ending in NAME reach it.
    #[arg(long = "queue-function", value_parser = pair)]
    queue_functions: Vec<(String, String)>,
}

impl Resources {
    fn options(self, template_params: Vec<(String, String)>) -> commands::StackOptions {
        commands::StackOptions {
            template: self.template,
            template_parameters: BTreeMap::from_iter(template_params),
            functions: BTreeMap::from_iter(self.functions),
            queues: BTreeMap::from_iter(self.queues),
            queue_functions: BTreeMap::from_iter(self.queue_functions),
            mocks: self.mocks,
            run_code: self.run_code,
            python: self.python,
        }
    }
}

fn pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("'{text}' is not Name=Value"))
}

#[tokio::main]
async fn main() {
    let result = match Cli::parse().command {
        Command::Up {
            template_params,
            resources,
        } => commands::up(resources.options(template_params))
            .await
            .map(|()| 0),
        Command::Run {
            definition,
            params,
            max_parallel,
            report,
            template_params,
            resources,
        } => {
            commands::run(
                definition,
                params,
                max_parallel,
                report,
                resources.options(template_params),
            )
            .await
        }
        Command::Rerun {
            pipeline,
            steps,
            from,
        } => commands::rerun(pipeline, steps, from).await,
        Command::Stop { execution_arn } => commands::stop(execution_arn).await.map(|()| 0),
        Command::Report {
            execution_arn,
            output,
        } => commands::report(&execution_arn, &output).await.map(|()| 0),
        Command::Env => commands::env().map(|()| 0),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(message) => {
            eprintln!("pipelines-emulator: {message}");
            std::process::exit(3);
        }
    }
}
