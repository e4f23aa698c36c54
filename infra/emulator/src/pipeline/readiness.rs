//! Which steps of an execution may start, kept incrementally: each step counts the
//! prerequisites (DependsOn, the steps it reads, its condition) that have not yet
//! succeeded, and a step's end touches only the steps that wait for it. An execution
//! of n steps with e edges costs O(n + e), however the DAG is shaped.

use std::collections::BTreeSet;

use super::definition::Definition;

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Waiting,
    Ready,
    Started,
    Succeeded,
    /// On the other branch of a condition, or behind a skipped step: it never runs.
    Skipped,
    /// Failed or stopped: what waits for it never becomes ready.
    Ended,
}

/// The readiness of every step of one execution, by index in the definition.
#[derive(Debug)]
pub struct Readiness {
    state: Vec<State>,
    /// Prerequisites not yet succeeded.
    waiting: Vec<usize>,
    /// The steps that wait for each step.
    dependents: Vec<Vec<usize>>,
    /// The condition step (index) and branch each step runs under.
    gates: Vec<Option<(usize, bool)>>,
    /// Ready steps, in definition order.
    ready: BTreeSet<usize>,
}

impl Readiness {
    /// Every step waits for its prerequisites; those with none are ready.
    pub fn new(definition: &Definition) -> Self {
        let index: std::collections::HashMap<&str, usize> = definition
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        let count = definition.steps.len();
        let mut dependents = vec![Vec::new(); count];
        let mut waiting = vec![0; count];
        let mut gates = vec![None; count];
        for (i, step) in definition.steps.iter().enumerate() {
            for prerequisite in step.prerequisites() {
                if let Some(&p) = index.get(prerequisite.as_str()) {
                    dependents[p].push(i);
                    waiting[i] += 1;
                }
            }
            gates[i] = step
                .gate
                .as_ref()
                .and_then(|(condition, branch)| Some((*index.get(condition.as_str())?, *branch)));
        }
        let ready = (0..count).filter(|&i| waiting[i] == 0).collect();
        let state = (0..count)
            .map(|i| {
                if waiting[i] == 0 {
                    State::Ready
                } else {
                    State::Waiting
                }
            })
            .collect();
        Self {
            state,
            waiting,
            dependents,
            gates,
            ready,
        }
    }

    /// The first ready step in definition order, now counted as started.
    pub fn start_next(&mut self) -> Option<usize> {
        let next = self.ready.pop_first()?;
        self.state[next] = State::Started;
        Some(next)
    }

    /// Whether any step is ready to start.
    #[cfg(test)]
    pub fn any_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// A step succeeded (a Condition with its outcome): the steps waiting only for it
    /// become ready, and a condition's other branch is skipped.
    pub fn succeeded(&mut self, step: usize, outcome: Option<bool>) {
        self.state[step] = State::Succeeded;
        // A step reused from another execution succeeds without having started.
        self.ready.remove(&step);
        for d in self.dependents[step].clone() {
            if self.state[d] != State::Waiting {
                continue;
            }
            match self.gates[d] {
                Some((condition, branch)) if condition == step && outcome != Some(branch) => {
                    self.skip(d)
                }
                _ => {
                    self.waiting[d] -= 1;
                    if self.waiting[d] == 0 {
                        self.state[d] = State::Ready;
                        self.ready.insert(d);
                    }
                }
            }
        }
    }

    /// A step failed or was stopped: what waits for it stays waiting.
    pub fn ended(&mut self, step: usize) {
        self.state[step] = State::Ended;
    }

    /// A step that does not run in this execution (outside a selective execution's
    /// selection): it never starts, and nothing is skipped on its account.
    pub fn exclude(&mut self, step: usize) {
        self.state[step] = State::Ended;
        self.ready.remove(&step);
    }

    /// Whether the step was skipped.
    #[cfg(test)]
    pub fn is_skipped(&self, step: usize) -> bool {
        self.state[step] == State::Skipped
    }

    fn skip(&mut self, step: usize) {
        let mut pending = vec![step];
        while let Some(s) = pending.pop() {
            if matches!(
                self.state[s],
                State::Skipped | State::Started | State::Succeeded
            ) {
                continue;
            }
            self.state[s] = State::Skipped;
            self.ready.remove(&s);
            pending.extend(self.dependents[s].iter().copied());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn definition(steps: serde_json::Value) -> Definition {
        Definition::parse(&json!({"Version": "2020-12-01", "Steps": steps}).to_string()).unwrap()
    }

    fn fail(name: &str) -> serde_json::Value {
        json!({"Name": name, "Type": "Fail", "Arguments": {"ErrorMessage": name}})
    }

    #[test]
    fn a_step_starts_when_all_it_waits_for_succeeded() {
        let d = definition(json!([
            {"Name": "a", "Type": "Processing", "Arguments": {}},
            {"Name": "b", "Type": "Processing", "Arguments": {}},
            {"Name": "c", "Type": "Processing", "Arguments": {}, "DependsOn": ["a", "b"]},
        ]));
        let mut r = Readiness::new(&d);
        assert_eq!(
            (r.start_next(), r.start_next(), r.start_next()),
            (Some(0), Some(1), None)
        );
        r.succeeded(0, None);
        assert!(!r.any_ready());
        r.succeeded(1, None);
        assert_eq!(r.start_next(), Some(2));
    }

    #[test]
    fn the_other_branch_and_what_follows_it_are_skipped() {
        let d = definition(json!([
            {"Name": "check", "Type": "Condition", "Arguments": {"Conditions": [],
                "IfSteps": [fail("yes")], "ElseSteps": [{"Name": "no", "Type": "Processing", "Arguments": {}}]}},
            {"Name": "after-no", "Type": "Processing", "Arguments": {}, "DependsOn": ["no"]},
        ]));
        let names: Vec<&str> = d.steps.iter().map(|s| s.name.as_str()).collect();
        let at = |n: &str| names.iter().position(|s| *s == n).unwrap();
        let mut r = Readiness::new(&d);
        assert_eq!(r.start_next(), Some(at("check")));
        r.succeeded(at("check"), Some(true));
        assert_eq!(r.start_next(), Some(at("yes")));
        assert!(r.is_skipped(at("no")) && r.is_skipped(at("after-no")));
        assert_eq!(r.start_next(), None);
    }

    #[test]
    fn what_waits_for_a_failed_step_never_starts() {
        let d = definition(json!([
            {"Name": "a", "Type": "Processing", "Arguments": {}},
            {"Name": "b", "Type": "Processing", "Arguments": {}, "DependsOn": ["a"]},
        ]));
        let mut r = Readiness::new(&d);
        assert_eq!(r.start_next(), Some(0));
        r.ended(0);
        assert_eq!(r.start_next(), None);
        assert!(!r.is_skipped(1));
    }
}
