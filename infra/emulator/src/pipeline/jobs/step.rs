//! A SageMaker job step on its mock: the synthesized Describe* answer with the mock's
//! Properties merged in, its property files, and the mock's Fail and Seconds. A Stop
//! while it runs stops it, as Stop*Job would.

use serde_json::{json, Map, Value};

use super::mocks::merge;
use super::mocks::{RunMode, StepMock};
use super::plan::{self, training, transform};
use super::tuning_run::TuningRun;
use super::{self as jobs, describe};
use crate::code_jobs::CodeJobEnd;
use crate::pipeline::definition::PropertyFileDecl;
use crate::pipeline::step_task::{StepEnd, StepTask};
use crate::pipeline::store::epoch;

impl StepTask {
    /// Runs a job step, its job answering Describe* from its start: InProgress, then
    /// Completed with the step's properties, or Failed with its reason, or Stopped.
    pub async fn job(
        &self,
        step_type: &str,
        property_files: &[PropertyFileDecl],
        inputs: Value,
        fields: &Value,
    ) -> StepEnd {
        let execution_id = self.arn.rsplit('/').next().unwrap_or_default();
        let job = describe::job_name_of(step_type, execution_id, &self.step.name, &inputs);
        let now = epoch(std::time::SystemTime::now());
        let (mut started, mut metadata) = describe::describe(step_type, &inputs, fields, &job, now);
        if let Some(group) = started["ModelPackageGroupName"]
            .as_str()
            .filter(|_| step_type == "RegisterModel")
        {
            let version = self.pipelines.jobs().next_package_version(group);
            describe::with_package_version(&mut started, &mut metadata, version);
        }
        self.set_metadata(metadata);
        self.record_job(with_status(started.clone(), "InProgress", None));
        let end = self
            .job_attempt(
                step_type,
                property_files,
                &inputs,
                started.clone(),
                &job,
                now,
            )
            .await;
        let ended = match &end {
            StepEnd::Succeeded { properties, .. } => {
                let mut answer = properties.clone();
                if let Some(answer) = answer.as_object_mut() {
                    answer.remove("PropertyFiles");
                }
                answer
            }
            StepEnd::Failed { reason, .. } => with_status(started, "Failed", Some(reason)),
            StepEnd::Stopped(_) => with_status(started, "Stopped", None),
        };
        self.record_job(ended);
        end
    }

    fn record_job(&self, answer: Value) {
        self.pipelines
            .update_step(&self.arn, &self.step.name, |r| r.job = Some(answer));
    }

    /// The job's work, real or mocked, from its synthesized Describe `answer`.
    async fn job_attempt(
        &self,
        step_type: &str,
        property_files: &[PropertyFileDecl],
        inputs: &Value,
        mut answer: Value,
        job: &str,
        now: f64,
    ) -> StepEnd {
        if let Err(why) = plan::refused(step_type, inputs) {
            return StepEnd::failed(format!("ClientError: {why}"));
        }
        // A ForEach child takes its own mock (`Train-2`), else its body step's (`Train`).
        let mocks = self.pipelines.jobs().mocks();
        let mock = mocks
            .step(&self.step.name)
            .or_else(|| mocks.step(self.step.body_step.as_deref()?))
            .cloned()
            .unwrap_or_default();
        let attempt = self.attempt;
        let injected = mock.failure_of_attempt(attempt).map(str::to_owned);
        let code = match &injected {
            // The mock fails this attempt: a code run would not start.
            Some(_) if self.pipelines.jobs().code().is_some() => CodeRun::Mocked(Some(
                self.note_code_run(format!("mocked: the mock file fails attempt {attempt}")),
            )),
            Some(_) => CodeRun::Mocked(None),
            None => self.job_code(step_type, &mock, inputs, job).await,
        };
        let mocked_because = match code {
            CodeRun::Mocked(why) => why,
            CodeRun::Tuned(members) => {
                for (key, value) in members {
                    answer[key.as_str()] = value;
                }
                return StepEnd::Succeeded {
                    properties: with_property_files(answer, property_files, &Default::default()),
                    outcome: None,
                };
            }
            CodeRun::Ran(end) => {
                return match end {
                    CodeJobEnd::Completed { root, log } => {
                        if step_type == "Training" {
                            let output = std::fs::read_to_string(&log).unwrap_or_default();
                            answer["FinalMetricDataList"] =
                                Value::Array(training::final_metrics(inputs, &output, now));
                        }
                        if step_type == "Processing" {
                            answer["ExitMessage"] = json!(exit_message(&root));
                        }
                        StepEnd::Succeeded {
                            properties: with_property_files(
                                answer,
                                property_files,
                                &Default::default(),
                            ),
                            outcome: None,
                        }
                    }
                    CodeJobEnd::Failed(reason) => {
                        StepEnd::failed(self.with_missing_input_cause(reason))
                    }
                    CodeJobEnd::Stopped => StepEnd::Stopped(format!(
                        "{step_type} job {job} stopped: pipeline execution stopped"
                    )),
                }
            }
        };
        if let Some(why) = mocked_because {
            say_mocked(step_type, &mut answer, &why, now);
        }
        if let Some(properties) = &mock.properties {
            merge(&mut answer, properties);
        }
        let answer = with_property_files(answer, property_files, &mock.property_files);
        let mut stop = self.stop.clone();
        // A zero-length sleep still waits for the timer's next millisecond tick.
        let duration = mock.duration();
        tokio::select! {
            _ = tokio::time::sleep(duration), if !duration.is_zero() => {}
            _ = std::future::ready(()), if duration.is_zero() => {}
            _ = async { drop(stop.wait_for(|stopping| *stopping).await) } => {
                return StepEnd::Stopped(format!(
                    "{step_type} job {job} stopped: pipeline execution stopped"
                ));
            }
        }
        if let Some(reason) = injected {
            return StepEnd::Failed {
                fault: jobs::fault_of(&reason),
                reason,
            };
        }
        StepEnd::Succeeded {
            properties: answer,
            outcome: None,
        }
    }
}

/// What became of a job step's own code.
enum CodeRun {
    /// It ran (or was to run and could not, which fails the step).
    Ran(CodeJobEnd),
    /// A tuning job ran its training jobs: the members of its answer they decided.
    Tuned(Map<String, Value>),
    /// The step stays on its mock; under `--run-code`, why (its record says it too).
    Mocked(Option<String>),
}

impl StepTask {
    /// Runs the step's own code when it is to and can.
    async fn job_code(
        &self,
        step_type: &str,
        mock: &StepMock,
        request: &Value,
        job: &str,
    ) -> CodeRun {
        let settings = self.pipelines.jobs().code();
        let wanted = match mock.run {
            Some(RunMode::Code) => true,
            Some(RunMode::Mock) => false,
            None => settings.as_ref().is_some_and(|s| s.every_step),
        };
        if !wanted {
            return CodeRun::Mocked(settings.is_some().then(|| {
                self.note_code_run("mocked: the mock file keeps it on its mock".to_owned())
            }));
        }
        let Some(settings) = settings else {
            return CodeRun::Ran(CodeJobEnd::Failed(
                "the mock file has this step run its code, and the emulator was not given an interpreter (--python)".to_owned(),
            ));
        };
        if step_type == "Tuning" {
            return match self.run_tuning(request, job, &settings).await {
                TuningRun::Done(members, note) => {
                    self.note_code_run(format!("ran its code: {note}"));
                    CodeRun::Tuned(members)
                }
                TuningRun::Ended(end) => CodeRun::Ran(end),
                TuningRun::Unrunnable(why) if mock.run == Some(RunMode::Code) => {
                    CodeRun::Ran(CodeJobEnd::Failed(format!(
                        "the mock file has this step run its code, and it cannot: {why}"
                    )))
                }
                TuningRun::Unrunnable(why) => {
                    CodeRun::Mocked(Some(self.note_code_run(format!("mocked: {why}"))))
                }
            };
        }
        let plan = match step_type {
            "Processing" => plan::processing(request, job),
            "Training" => training::training(request, job, settings.xgboost.as_deref()),
            "Transform" => {
                let model = request["ModelName"]
                    .as_str()
                    .and_then(|name| self.pipelines.find_job("ModelName", name));
                transform::transform(request, job, model.as_ref(), settings.xgboost.as_deref())
            }
            other => Err(format!(
                "the emulator does not run the code of {other} steps yet"
            )),
        };
        match plan {
            Ok(plan) => {
                let unused = mock.unused_by_a_run();
                let mut note = format!("ran its code: {}", plan.command.join(" "));
                if let Some(about) = &plan.note {
                    note += &format!(" ({about})");
                }
                if !unused.is_empty() {
                    note += &format!("; not used from its mock: {}", unused.join(", "));
                }
                self.note_code_run(note);
                CodeRun::Ran(
                    self.runner
                        .run_code(&plan, &settings.python, self.stop.clone())
                        .await,
                )
            }
            Err(why) if mock.run == Some(RunMode::Code) => CodeRun::Ran(CodeJobEnd::Failed(
                format!("the mock file has this step run its code, and it cannot: {why}"),
            )),
            Err(why) => CodeRun::Mocked(Some(self.note_code_run(format!("mocked: {why}")))),
        }
    }

    /// A job whose input object is missing names the step of this execution that was to
    /// write it, and why that step did not: it stayed on its mock (its reason, and the
    /// ways out), or it ran and wrote nothing there.
    fn with_missing_input_cause(&self, reason: String) -> String {
        const MISSING: &str = "no object in local S3 under ";
        let Some(uri) = reason
            .split_once(MISSING)
            .and_then(|(_, rest)| rest.split_whitespace().next())
        else {
            return reason;
        };
        let Some(execution) = self.pipelines.execution(&self.arn) else {
            return reason;
        };
        let writer = execution.steps.iter().find(|s| {
            s.name != self.step.name && s.properties.as_ref().is_some_and(|p| names_uri(p, uri))
        });
        let Some(writer) = writer else {
            return reason;
        };
        match writer.code_run.as_deref() {
            Some(ran) if ran.starts_with("ran its code") => format!(
                "{reason}: step {} was to write it, and its code ran and wrote nothing there",
                writer.name
            ),
            mocked => format!(
                "{reason}: step {} was to write it, and stayed on its mock ({}); run its code (with --run-code, what it needs installed in --python, or \"Run\": \"code\" for it in the mock file), or put the object in local S3 before the run",
                writer.name,
                mocked
                    .and_then(|m| m.strip_prefix("mocked: "))
                    .unwrap_or("no job step runs its code without --run-code")
            ),
        }
    }

    /// Records how the step ran in its record (the live view shows it), and returns it.
    fn note_code_run(&self, note: String) -> String {
        let recorded = note.clone();
        self.pipelines
            .update_step(&self.arn, &self.step.name, |r| r.code_run = Some(recorded));
        note
    }
}

/// A processing job's ExitMessage: the first KB of what it wrote to
/// `/opt/ml/output/message`, as SageMaker gives it; empty when it wrote none.
fn exit_message(root: &std::path::Path) -> String {
    let message = std::fs::read(root.join("output/message")).unwrap_or_default();
    let mut text = String::from_utf8_lossy(&message[..message.len().min(1024)]).into_owned();
    // A character the cut split is dropped rather than shown as a replacement.
    if message.len() > 1024 && text.ends_with('\u{fffd}') {
        text.pop();
    }
    text
}

/// Under `--run-code`, a job that stayed on its mock says so where its Describe* answer
/// carries a job's own words: a processing job's ExitMessage, a training job's status
/// transitions. (ListPipelineExecutionSteps has no member that could say it.)
fn say_mocked(step_type: &str, answer: &mut Value, why: &str, now: f64) {
    let said = format!("pipelines-emulator: {why}");
    match step_type {
        "Processing" => answer["ExitMessage"] = json!(said),
        "Training" => {
            answer["SecondaryStatusTransitions"] = json!([{
                "Status": "Completed",
                "StartTime": now,
                "EndTime": now,
                "StatusMessage": said,
            }])
        }
        _ => {}
    }
}

/// A Describe* answer with its `<Kind>JobStatus` (and FailureReason) set.
fn with_status(mut answer: Value, status: &str, reason: Option<&str>) -> Value {
    if let Some(fields) = answer.as_object_mut() {
        let keys: Vec<String> = fields
            .keys()
            .filter(|k| k.ends_with("JobStatus"))
            .cloned()
            .collect();
        for key in keys {
            fields.insert(key, json!(status));
        }
        if let Some(reason) = reason {
            fields.insert("FailureReason".to_owned(), json!(reason));
        }
    }
    answer
}

/// The answer with where each of its property files comes from.
fn with_property_files(
    mut answer: Value,
    property_files: &[PropertyFileDecl],
    mocked: &std::collections::BTreeMap<String, Value>,
) -> Value {
    let files: Map<String, Value> = property_files
        .iter()
        .map(|file| (file.name.clone(), property_file(file, &answer, mocked)))
        .collect();
    if !files.is_empty() {
        answer["PropertyFiles"] = Value::Object(files);
    }
    answer
}

/// Where a property file's JSON comes from: the mock's document, else the object at its
/// ProcessingOutput's S3Uri plus its path, as SageMaker reads it.
fn property_file(
    file: &PropertyFileDecl,
    answer: &Value,
    mocked: &std::collections::BTreeMap<String, Value>,
) -> Value {
    if let Some(document) = mocked.get(&file.name) {
        return json!({ "Document": document });
    }
    let output = answer["ProcessingOutputConfig"]["Outputs"]
        .as_array()
        .and_then(|outputs| {
            outputs
                .iter()
                .find(|o| o["OutputName"] == json!(file.output_name))
        });
    match output.and_then(|o| o["S3Output"]["S3Uri"].as_str()) {
        Some(uri) => json!({ "S3Uri": format!("{}/{}", uri.trim_end_matches('/'), file.path) }),
        None => json!({ "Missing": format!(
            "the step has no ProcessingOutput '{}' with an S3Uri to read '{}' from, and no mock gives the file",
            file.output_name, file.path
        ) }),
    }
}

/// Whether a step's properties name the S3 location `uri` is under (or `uri` itself).
fn names_uri(properties: &Value, uri: &str) -> bool {
    match properties {
        Value::String(s) if s.starts_with("s3://") => {
            let s = s.trim_end_matches('/');
            uri == s
                || uri
                    .strip_prefix(s)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
        Value::Array(items) => items.iter().any(|v| names_uri(v, uri)),
        Value::Object(members) => members.values().any(|v| names_uri(v, uri)),
        _ => false,
    }
}
