//! One item of a ForEach step: a child of every body step, in the order the body's own
//! dependencies give, each run as any step runs (its retries, its cache, its mock or its
//! code), taking one of the step's MaxConcurrency permits while it runs.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::pipeline::definition::StepDef;
use crate::pipeline::executor::record_end;
use crate::pipeline::expressions::text;
use crate::pipeline::step_run::run_step;
use crate::pipeline::step_task::{StepEnd, StepTask};
use crate::pipeline::store::StepRecord;

/// How one child ended.
#[derive(Clone, Debug)]
pub enum ChildEnd {
    /// With its properties.
    Succeeded(Value),
    /// With its failure reason.
    Failed(String),
    Stopped,
    /// Not started: a body step it waits for did not succeed, or the execution stopped.
    NotRun,
}

pub struct Iteration {
    /// The ForEach step's task: its context and stop signal.
    pub task: StepTask,
    pub parent: String,
    pub body: Vec<StepDef>,
    pub index: usize,
    pub item: Value,
    pub permits: Arc<Semaphore>,
    pub pipeline_name: String,
}

impl Iteration {
    /// Runs the children of this item; how each ended, by body step name.
    pub async fn run(self) -> Vec<(String, ChildEnd)> {
        let mut ends: Vec<(String, ChildEnd)> = Vec::new();
        let mut pending: Vec<&StepDef> = self.body.iter().collect();
        while !pending.is_empty() {
            let done: BTreeSet<&str> = ends.iter().map(|(n, _)| n.as_str()).collect();
            let waits_for = |step: &StepDef| -> Vec<String> {
                step.prerequisites()
                    .into_iter()
                    .filter(|p| self.body.iter().any(|b| &b.name == p))
                    .collect()
            };
            // The first body step whose body prerequisites all ended (a cycle in the
            // body was refused at create, so one always has).
            let Some(at) = pending
                .iter()
                .position(|s| waits_for(s).iter().all(|p| done.contains(p.as_str())))
            else {
                break;
            };
            let step = pending.remove(at);
            let blocked = waits_for(step).iter().any(|p| {
                !ends
                    .iter()
                    .any(|(n, e)| n == p && matches!(e, ChildEnd::Succeeded(_)))
            });
            let end = if blocked || *self.task.stop.borrow() {
                ChildEnd::NotRun
            } else {
                self.child(step, &ends).await
            };
            ends.push((step.name.clone(), end));
        }
        ends
    }

    /// One child, `<bodyStep>-<index>`: reused when a retried execution already holds
    /// it succeeded, else run.
    async fn child(&self, body: &StepDef, earlier: &[(String, ChildEnd)]) -> ChildEnd {
        let name = format!("{}-{}", body.name, self.index);
        let pipelines = &self.task.pipelines;
        let arn = &self.task.arn;
        let kept = pipelines
            .read_execution(arn, |e| {
                e.steps
                    .iter()
                    .find(|s| s.name == name && s.status == "Succeeded")
                    .and_then(|s| s.properties.clone())
            })
            .flatten();
        if let Some(properties) = kept {
            return ChildEnd::Succeeded(properties);
        }
        let mut stop = self.task.stop.clone();
        let permit = tokio::select! {
            // A stop wins over a permit freed by the stop itself.
            biased;
            _ = async { drop(stop.wait_for(|stopping| *stopping).await) } => return ChildEnd::NotRun,
            permit = self.permits.clone().acquire_owned() => permit,
        };
        let Ok(_permit) = permit.map_err(drop).and_then(|p| {
            // Freed by a child the stop ended: the stop came first.
            if *self.task.stop.borrow() {
                Err(())
            } else {
                Ok(p)
            }
        }) else {
            return ChildEnd::NotRun;
        };
        let mut step = body.clone();
        step.name = name.clone();
        step.body_step = Some(body.name.clone());
        let mut record = StepRecord::started(&step);
        record.iteration = Some(json!({
            "ParentStepName": self.parent,
            "Index": self.index,
            "Item": text(&self.item),
        }));
        pipelines.update_execution(arn, |e| e.push_step(record));
        let mut context = self.task.context.clone();
        context.item = Some(self.item.clone());
        for (earlier, end) in earlier {
            if let ChildEnd::Succeeded(properties) = end {
                context
                    .properties
                    .insert(earlier.clone(), properties.clone());
            }
        }
        let task = StepTask {
            pipelines: pipelines.clone(),
            runner: self.task.runner.clone(),
            arn: arn.clone(),
            step,
            context,
            stop: self.task.stop.clone(),
            attempt: 1,
        };
        let end = run_step(task, &self.pipeline_name).await;
        record_end(pipelines, arn, &name, &end, SystemTime::now());
        match end {
            StepEnd::Succeeded { properties, .. } => ChildEnd::Succeeded(properties),
            StepEnd::Failed { reason, .. } => ChildEnd::Failed(reason),
            StepEnd::Stopped(_) => ChildEnd::Stopped,
        }
    }
}
