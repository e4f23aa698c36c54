//! SageMaker's ForEach step: its items resolved when it starts, one child of every body
//! step per item (`<bodyStep>-<index>`, listed with its IterationContext), at most
//! MaxConcurrency children at once, then the aggregate properties later steps read:
//! `Status`, `InputItemCount`, the step counts, `IterationOutputs[i].<bodyStep>` and the
//! selector's `Selected`.

mod iteration;
mod read;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use read::{check, has_property, read, ForEachDef, Selector, AGGREGATES};

use super::step_task::{StepEnd, StepTask};
use iteration::{ChildEnd, Iteration};

/// A ForEach step's run, boxed: its children are steps, and a step's run may be a
/// ForEach's (not in a body, which the definition's check refuses, but the types cannot
/// know), so the future's type must not contain itself.
pub type ForEachRun<'a> = Pin<Box<dyn Future<Output = StepEnd> + Send + 'a>>;

impl StepTask {
    /// Runs a ForEach step's children and sums up how they ended.
    pub fn for_each<'a>(&'a mut self, for_each: &'a ForEachDef) -> ForEachRun<'a> {
        Box::pin(self.fan_out(for_each))
    }

    async fn fan_out(&mut self, for_each: &ForEachDef) -> StepEnd {
        let items = match self.items(&for_each.items).await {
            Ok(items) => items,
            Err(why) => {
                return StepEnd::failed(format!("ForEach step '{}': {why}", self.step.name))
            }
        };
        let pipeline_name = self
            .pipelines
            .read_execution(&self.arn, |e| e.pipeline_name.clone())
            .unwrap_or_default();
        let permits = Arc::new(Semaphore::new(for_each.max_concurrency));
        let mut running = JoinSet::new();
        for (index, item) in items.iter().enumerate() {
            let iteration = Iteration {
                task: self.child_base(),
                parent: self.step.name.clone(),
                body: for_each.body.clone(),
                index,
                item: item.clone(),
                permits: permits.clone(),
                pipeline_name: pipeline_name.clone(),
            };
            running.spawn(async move { (index, iteration.run().await) });
        }
        let mut ends: Vec<Vec<(String, ChildEnd)>> = vec![Vec::new(); items.len()];
        while let Some(joined) = running.join_next().await {
            if let Ok((index, children)) = joined {
                ends[index] = children;
            }
        }
        self.summed_up(for_each, items.len(), &ends)
    }

    /// IterableItems as a list: a literal list evaluated element by element, or one
    /// value that resolves to a JSON list (a parameter, a step's output).
    async fn items(&mut self, items: &Value) -> Result<Vec<Value>, String> {
        match self.evaluate(items).await? {
            Value::Array(list) => Ok(list),
            Value::String(text) => match serde_json::from_str(&text) {
                Ok(Value::Array(list)) => Ok(list),
                _ => Err(format!(
                    "IterableItems resolved to '{text}', which is not a JSON list"
                )),
            },
            other => Err(format!(
                "IterableItems resolved to {other}, which is not a JSON list"
            )),
        }
    }

    /// What every child starts from: this step's task (its context holds what the body
    /// reads of earlier steps).
    fn child_base(&self) -> StepTask {
        StepTask {
            pipelines: self.pipelines.clone(),
            runner: self.runner.clone(),
            arn: self.arn.clone(),
            step: self.step.clone(),
            context: self.context.clone(),
            stop: self.stop.clone(),
            attempt: 1,
        }
    }

    /// The ForEach step's end, properties and metadata from its children's ends.
    fn summed_up(
        &self,
        for_each: &ForEachDef,
        item_count: usize,
        ends: &[Vec<(String, ChildEnd)>],
    ) -> StepEnd {
        let all = || ends.iter().flatten();
        let count = |f: fn(&ChildEnd) -> bool| all().filter(|(_, end)| f(end)).count();
        let succeeded = count(|e| matches!(e, ChildEnd::Succeeded(_)));
        let failed = count(|e| matches!(e, ChildEnd::Failed(_)));
        let stopped = count(|e| matches!(e, ChildEnd::Stopped));
        let status = if *self.stop.borrow() || stopped > 0 {
            "Stopped"
        } else if failed > 0 {
            "Failed"
        } else {
            "Succeeded"
        };
        let outputs: Vec<Value> = ends
            .iter()
            .map(|children| {
                Value::Object(
                    children
                        .iter()
                        .filter_map(|(body, end)| match end {
                            ChildEnd::Succeeded(properties) => {
                                Some((body.clone(), properties.clone()))
                            }
                            _ => None,
                        })
                        .collect(),
                )
            })
            .collect();
        let selected = for_each
            .selector
            .as_ref()
            .and_then(|selector| select(selector, &outputs));
        let mut metadata = json!({
            "Status": status,
            "InputItemCount": item_count,
            "TotalStepCount": item_count * for_each.body.len(),
            "SucceededStepCount": succeeded,
            "FailedStepCount": failed,
            "StoppedStepCount": stopped,
        });
        let mut properties = metadata.clone();
        properties["IterationOutputs"] = Value::Array(outputs.clone());
        if let (Some((index, _)), Some(selector)) = (selected, &for_each.selector) {
            metadata["Selector"] =
                json!({"StepName": format!("{}-{index}", selector.body_step), "Index": index});
            properties["Selected"] = outputs[index][&selector.body_step].clone();
        }
        self.set_metadata(json!({ "ForEach": metadata }));
        match status {
            "Succeeded" => StepEnd::Succeeded {
                properties,
                outcome: None,
            },
            "Stopped" => StepEnd::Stopped("pipeline execution stopped".to_owned()),
            _ => {
                let (first, why) = all()
                    .find_map(|(body, end)| match end {
                        ChildEnd::Failed(why) => Some((body, why)),
                        _ => None,
                    })
                    .map(|(body, why)| (body.clone(), why.clone()))
                    .unwrap_or_default();
                let index = ends
                    .iter()
                    .position(|c| {
                        c.iter()
                            .any(|(b, e)| *b == first && matches!(e, ChildEnd::Failed(_)))
                    })
                    .unwrap_or(0);
                StepEnd::failed(format!(
                    "{failed} of {} child steps failed; the first, {first}-{index}: {why}",
                    item_count * for_each.body.len()
                ))
            }
        }
    }
}

/// The iteration the selector picks, and the value it compared: the highest (MaxBy) or
/// lowest (MinBy) number at its path among the iterations whose body step succeeded;
/// the first on a tie.
fn select(selector: &Selector, outputs: &[Value]) -> Option<(usize, f64)> {
    let values = outputs.iter().enumerate().filter_map(|(index, output)| {
        let value = selector.path.lookup(output.get(&selector.body_step)?)?;
        let number = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }?;
        Some((index, number))
    });
    values.fold(None, |best, (index, number)| match best {
        Some((_, top)) if (selector.max && number <= top) || (!selector.max && number >= top) => {
            best
        }
        _ => Some((index, number)),
    })
}
