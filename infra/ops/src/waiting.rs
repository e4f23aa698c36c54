//! `waiting`: every Callback step still waiting, across the executing executions of the
//! pipelines asked for (all of them by default), with its token and what it waits for.

use std::collections::BTreeMap;

use sagemaker_custom_steps::emr::token_in_name;
use serde::Serialize;
use serde_json::Value;

use crate::aws::{classify, CallError, Clients};

/// A Callback step that waits for SendPipelineExecutionStepSuccess/Failure.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WaitingStep {
    pub pipeline: String,
    pub execution_arn: String,
    pub step: String,
    /// When the step started, RFC 3339.
    pub started: String,
    pub age_seconds: u64,
    pub token: String,
    pub queue_url: String,
    /// The step's `task` argument, when the definition gives it as a literal.
    pub task: Option<String>,
    /// The EMR step that carries the token, for the `emr` task.
    pub emr_step: Option<EmrStep>,
}

/// An EMR step of the `emr` task, found by the token in its name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EmrStep {
    pub cluster_id: String,
    pub step_id: String,
    pub state: String,
}

/// Finds the waiting steps; `pipelines` empty means every pipeline.
pub async fn find(clients: &Clients, pipelines: &[String]) -> Result<Vec<WaitingStep>, CallError> {
    let names = if pipelines.is_empty() {
        all_pipelines(clients).await?
    } else {
        pipelines.to_vec()
    };
    let mut waiting = Vec::new();
    for pipeline in names {
        for execution in executing(clients, &pipeline).await? {
            let steps = waiting_steps(clients, &pipeline, &execution).await?;
            if steps.is_empty() {
                continue;
            }
            let tasks = tasks_of(clients, &execution).await?;
            waiting.extend(steps.into_iter().map(|mut step| {
                step.task = tasks.get(&step.step).cloned();
                step
            }));
        }
    }
    if waiting.iter().any(|s| s.task.as_deref() != Some("event")) {
        let emr_steps = emr_steps_by_token(clients).await?;
        for step in &mut waiting {
            step.emr_step = emr_steps.get(&step.token).cloned();
        }
    }
    Ok(waiting)
}

async fn all_pipelines(clients: &Clients) -> Result<Vec<String>, CallError> {
    let mut pages = clients.sagemaker.list_pipelines().into_paginator().send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("sagemaker:ListPipelines", e))?;
        names.extend(
            page.pipeline_summaries()
                .iter()
                .filter_map(|p| p.pipeline_name().map(str::to_owned)),
        );
    }
    Ok(names)
}

async fn executing(clients: &Clients, pipeline: &str) -> Result<Vec<String>, CallError> {
    let mut pages = clients
        .sagemaker
        .list_pipeline_executions()
        .pipeline_name(pipeline)
        .into_paginator()
        .send();
    let mut arns = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("sagemaker:ListPipelineExecutions", e))?;
        arns.extend(
            page.pipeline_execution_summaries()
                .iter()
                .filter(|e| {
                    matches!(
                        e.pipeline_execution_status().map(|s| s.as_str()),
                        Some("Executing") | Some("Stopping")
                    )
                })
                .filter_map(|e| e.pipeline_execution_arn().map(str::to_owned)),
        );
    }
    Ok(arns)
}

async fn waiting_steps(
    clients: &Clients,
    pipeline: &str,
    execution: &str,
) -> Result<Vec<WaitingStep>, CallError> {
    let mut pages = clients
        .sagemaker
        .list_pipeline_execution_steps()
        .pipeline_execution_arn(execution)
        .into_paginator()
        .send();
    let now = chrono::Utc::now();
    let mut steps = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("sagemaker:ListPipelineExecutionSteps", e))?;
        for step in page.pipeline_execution_steps() {
            let callback = step.metadata().and_then(|m| m.callback());
            let (Some(callback), Some("Executing")) =
                (callback, step.step_status().map(|s| s.as_str()))
            else {
                continue;
            };
            let Some(token) = callback.callback_token() else {
                continue;
            };
            let started = step
                .start_time()
                .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
                .unwrap_or(now);
            steps.push(WaitingStep {
                pipeline: pipeline.to_owned(),
                execution_arn: execution.to_owned(),
                step: step.step_name().unwrap_or_default().to_owned(),
                started: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                age_seconds: (now - started).num_seconds().max(0) as u64,
                token: token.to_owned(),
                queue_url: callback.sqs_queue_url().unwrap_or_default().to_owned(),
                task: None,
                emr_step: None,
            });
        }
    }
    Ok(steps)
}

/// Step name → its literal `task` argument, from the definition the execution runs.
async fn tasks_of(
    clients: &Clients,
    execution: &str,
) -> Result<BTreeMap<String, String>, CallError> {
    let answer = clients
        .sagemaker
        .describe_pipeline_definition_for_execution()
        .pipeline_execution_arn(execution)
        .send()
        .await
        .map_err(|e| classify("sagemaker:DescribePipelineDefinitionForExecution", e))?;
    let definition: Value =
        serde_json::from_str(answer.pipeline_definition().unwrap_or("{}")).unwrap_or_default();
    let mut tasks = BTreeMap::new();
    collect_tasks(&definition["Steps"], &mut tasks);
    Ok(tasks)
}

fn collect_tasks(steps: &Value, tasks: &mut BTreeMap<String, String>) {
    for step in steps.as_array().into_iter().flatten() {
        if let (Some(name), Some(task)) =
            (step["Name"].as_str(), step["Arguments"]["task"].as_str())
        {
            tasks.insert(name.to_owned(), task.to_owned());
        }
        collect_tasks(&step["Arguments"]["IfSteps"], tasks);
        collect_tasks(&step["Arguments"]["ElseSteps"], tasks);
    }
}

/// Every EMR step of a running cluster that carries a callback token in its name.
async fn emr_steps_by_token(clients: &Clients) -> Result<BTreeMap<String, EmrStep>, CallError> {
    use aws_sdk_emr::types::ClusterState;
    let mut clusters = Vec::new();
    let mut pages = clients
        .emr
        .list_clusters()
        .set_cluster_states(Some(vec![
            ClusterState::Starting,
            ClusterState::Bootstrapping,
            ClusterState::Running,
            ClusterState::Waiting,
        ]))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("elasticmapreduce:ListClusters", e))?;
        clusters.extend(
            page.clusters()
                .iter()
                .filter_map(|c| c.id().map(str::to_owned)),
        );
    }
    let mut by_token = BTreeMap::new();
    for cluster in clusters {
        let mut pages = clients
            .emr
            .list_steps()
            .cluster_id(&cluster)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("elasticmapreduce:ListSteps", e))?;
            for step in page.steps() {
                let Some(token) = step.name().and_then(token_in_name) else {
                    continue;
                };
                // ListSteps answers newest first: the oldest step owns the token.
                by_token.insert(
                    token.as_str().to_owned(),
                    EmrStep {
                        cluster_id: cluster.clone(),
                        step_id: step.id().unwrap_or_default().to_owned(),
                        state: step
                            .status()
                            .and_then(|s| s.state())
                            .map(|s| s.as_str().to_owned())
                            .unwrap_or_default(),
                    },
                );
            }
        }
    }
    Ok(by_token)
}

/// A person's table: one line a step.
pub fn table(steps: &[WaitingStep]) -> String {
    if steps.is_empty() {
        return "no Callback step is waiting\n".to_owned();
    }
    let mut out =
        String::from("PIPELINE\tEXECUTION\tSTEP\tSTARTED\tAGE\tTOKEN\tQUEUE\tTASK\tEMR STEP\n");
    for s in steps {
        let emr = s
            .emr_step
            .as_ref()
            .map(|e| format!("{} {} {}", e.cluster_id, e.step_id, e.state))
            .unwrap_or_else(|| "-".to_owned());
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            s.pipeline,
            s.execution_arn.rsplit('/').next().unwrap_or_default(),
            s.step,
            s.started,
            age(s.age_seconds),
            s.token,
            s.queue_url.rsplit('/').next().unwrap_or_default(),
            s.task.as_deref().unwrap_or("-"),
            emr
        ));
    }
    out
}

/// `3d 4h`, `2h 5m`, `40s`.
pub fn age(seconds: u64) -> String {
    let (d, h, m) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tasks_are_read_from_branches_too() {
        let mut tasks = BTreeMap::new();
        collect_tasks(
            &json!([{"Name": "Gate", "Type": "Condition", "Arguments": {"IfSteps": [
                {"Name": "Run", "Type": "Callback", "Arguments": {"task": "emr"}}], "ElseSteps": []}},
                {"Name": "Ask", "Type": "Callback", "Arguments": {"task": {"Get": "Parameters.Task"}}}]),
            &mut tasks,
        );
        assert_eq!(
            tasks,
            BTreeMap::from([("Run".to_owned(), "emr".to_owned())])
        );
    }

    #[test]
    fn ages_read_as_a_person_says_them() {
        assert_eq!(age(40), "40s");
        assert_eq!(age(125), "2m");
        assert_eq!(age(7500), "2h 5m");
        assert_eq!(age(3 * 86_400 + 4 * 3600), "3d 4h");
    }
}
