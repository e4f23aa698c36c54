//! Selective execution, as SageMaker offers it ("Selective execution of pipeline
//! steps"): only the selected steps run; the steps upstream of them that are not selected
//! reuse what they produced in the reference execution (ListPipelineExecutionSteps shows
//! `SelectiveExecutionResult`); every other step does not run. What SageMaker refuses is
//! refused here, naming the step or execution.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::definition::Definition;
use super::store::{ExecutionRecord, StepRecord};

/// SelectedSteps takes 1 to 50 steps (the service model's SelectedStepList).
pub const MAX_SELECTED_STEPS: usize = 50;

/// `SelectiveExecutionConfig` of StartPipelineExecution.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SelectiveConfig {
    /// `SourcePipelineExecutionArn`: the reference execution.
    pub source: Option<String>,
    /// `SelectedSteps[].StepName`.
    pub selected: Vec<String>,
}

impl SelectiveConfig {
    /// The config as DescribePipelineExecution shows it.
    pub fn to_json(&self) -> Value {
        let mut config = json!({"SelectedSteps": self.selected.iter()
            .map(|name| json!({"StepName": name})).collect::<Vec<_>>()});
        if let Some(source) = &self.source {
            config["SourcePipelineExecutionArn"] = json!(source);
        }
        config
    }
}

/// What a selective execution starts from.
#[derive(Debug, Default)]
pub struct Plan {
    /// Steps (by index) that do not run and whose reference result is reused.
    pub reused: Vec<(usize, StepRecord)>,
    /// Steps (by index) that do not run at all.
    pub excluded: Vec<usize>,
}

/// Checks a selection against the definition and the reference execution, and answers
/// which steps are reused and which do not run.
pub fn plan(
    definition: &Definition,
    pipeline_arn: &str,
    config: &SelectiveConfig,
    source: Option<&ExecutionRecord>,
) -> Result<Plan, String> {
    if config.selected.is_empty() || config.selected.len() > MAX_SELECTED_STEPS {
        return Err(format!(
            "1 validation error detected: Value at 'selectiveExecutionConfig.selectedSteps' failed to satisfy constraint: Member must have length between 1 and {MAX_SELECTED_STEPS} (it has {})",
            config.selected.len()
        ));
    }
    let index = |name: &str| definition.steps.iter().position(|s| s.name == name);
    let mut selected = BTreeSet::new();
    for name in &config.selected {
        let at = index(name)
            .ok_or_else(|| format!("Selected step '{name}' is not a step of this pipeline"))?;
        selected.insert(at);
    }
    if let Some(source) = source {
        if source.pipeline_arn != pipeline_arn {
            return Err(format!(
                "Source pipeline execution {} belongs to another pipeline ({}); a selective execution references an execution of its own pipeline",
                source.arn, source.pipeline_arn
            ));
        }
        if !matches!(source.status.as_str(), "Succeeded" | "Failed") {
            return Err(format!(
                "Source pipeline execution {} is {}; it must be Succeeded or Failed",
                source.arn, source.status
            ));
        }
    }
    let prerequisites: Vec<Vec<usize>> = definition
        .steps
        .iter()
        .map(|s| s.prerequisites().iter().filter_map(|p| index(p)).collect())
        .collect();
    let mut dependents = vec![Vec::new(); definition.steps.len()];
    for (step, list) in prerequisites.iter().enumerate() {
        for &p in list {
            dependents[p].push(step);
        }
    }
    let upstream = closure(&selected, &prerequisites);
    let downstream = closure(&selected, &dependents);
    // "All step(s) in all path(s) between two selected steps should be included."
    if let Some(&between) = upstream
        .iter()
        .find(|s| downstream.contains(s) && !selected.contains(s))
    {
        return Err(format!(
            "Step '{}' is on a path between selected steps but is not selected; select every step between two selected steps",
            definition.steps[between].name
        ));
    }
    let mut plan = Plan::default();
    for step in 0..definition.steps.len() {
        if selected.contains(&step) {
            continue;
        }
        if !upstream.contains(&step) {
            plan.excluded.push(step);
            continue;
        }
        let name = &definition.steps[step].name;
        let Some(source) = source else {
            return Err(format!(
                "SourcePipelineExecutionArn is required: the selected steps depend on step '{name}', which is not selected"
            ));
        };
        let record = source
            .steps
            .iter()
            .find(|r| &r.name == name && r.status == "Succeeded" && r.properties.is_some())
            .ok_or_else(|| {
                format!(
                    "Step '{name}' did not succeed in source pipeline execution {}, so its outputs cannot be reused; select it too",
                    source.arn
                )
            })?;
        let mut reused = record.clone();
        reused.selective_source = Some(source.arn.clone());
        reused.cache_hit = None;
        plan.reused.push((step, reused));
    }
    Ok(plan)
}

/// Every step reachable from `start` along `edges`, `start` included.
fn closure(start: &BTreeSet<usize>, edges: &[Vec<usize>]) -> BTreeSet<usize> {
    let mut seen = start.clone();
    let mut pending: Vec<usize> = start.iter().copied().collect();
    while let Some(step) = pending.pop() {
        for &next in &edges[step] {
            if seen.insert(next) {
                pending.push(next);
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    /// a → b → c, and d on its own.
    fn definition() -> Definition {
        let step = |name: &str, after: &[&str]| json!({"Name": name, "Type": "Processing", "Arguments": {}, "DependsOn": after});
        Definition::parse(
            &json!({"Version": "2020-12-01", "Steps": [
                step("a", &[]), step("b", &["a"]), step("c", &["b"]), step("d", &[])]})
            .to_string(),
        )
        .unwrap()
    }

    fn source(status: &str, succeeded: &[&str]) -> ExecutionRecord {
        let mut execution = ExecutionRecord::for_tests("arn:p", "arn:p/execution/1", status);
        for name in succeeded {
            let d = definition();
            let mut record = StepRecord::started(d.step(name).unwrap());
            record.status = "Succeeded".into();
            record.ended = Some(SystemTime::now());
            record.properties = Some(json!({"From": name}));
            execution.push_step(record);
        }
        execution
    }

    fn config(source: Option<&str>, steps: &[&str]) -> SelectiveConfig {
        SelectiveConfig {
            source: source.map(str::to_owned),
            selected: steps.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn upstream_steps_are_reused_and_the_rest_do_not_run() {
        let d = definition();
        let reference = source("Succeeded", &["a", "b", "c", "d"]);
        let plan = plan(
            &d,
            "arn:p",
            &config(Some(&reference.arn), &["b"]),
            Some(&reference),
        )
        .unwrap();
        let reused: Vec<(usize, Option<String>)> = plan
            .reused
            .iter()
            .map(|(i, r)| (*i, r.selective_source.clone()))
            .collect();
        assert_eq!(reused, vec![(0, Some(reference.arn.clone()))]);
        assert_eq!(plan.excluded, vec![2, 3]);
    }

    #[test]
    fn what_sagemaker_refuses_is_refused() {
        let d = definition();
        let reference = source("Failed", &["a"]);
        let refused = |config: SelectiveConfig, source: Option<&ExecutionRecord>| {
            plan(&d, "arn:p", &config, source).unwrap_err()
        };
        assert!(refused(config(None, &["zz"]), None).contains("'zz' is not a step"));
        assert!(refused(config(None, &["a", "c"]), None).contains("Step 'b' is on a path between"));
        assert!(
            refused(config(None, &["b"]), None).contains("SourcePipelineExecutionArn is required")
        );
        assert!(refused(config(None, &[]), None).contains("between 1 and 50"));
        let many: Vec<String> = (0..51).map(|_| "a".to_string()).collect();
        assert!(refused(
            SelectiveConfig {
                source: None,
                selected: many
            },
            None
        )
        .contains("between 1 and 50"));
        assert!(refused(config(Some("x"), &["c"]), Some(&reference))
            .contains("Step 'b' did not succeed"));
        let running = source("Executing", &["a"]);
        assert!(refused(config(Some("x"), &["b"]), Some(&running))
            .contains("must be Succeeded or Failed"));
        assert!(plan(
            &d,
            "arn:other",
            &config(Some("x"), &["b"]),
            Some(&reference)
        )
        .unwrap_err()
        .contains("another pipeline"));
        // A Failed reference is fine where what is reused succeeded in it.
        assert!(plan(&d, "arn:p", &config(Some("x"), &["b"]), Some(&reference)).is_ok());
    }
}
