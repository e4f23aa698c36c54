//! A pipeline definition as the SageMaker Python SDK writes it (`Version 2020-12-01`),
//! read and checked before anything runs: every problem is named.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

pub const STEP_TYPES: [&str; 5] = ["Callback", "Lambda", "EMR", "Condition", "Fail"];

#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    pub name: String,
    /// String, Integer, Float or Boolean.
    pub kind: String,
    pub default: Option<Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutputDecl {
    pub name: String,
    /// String, Integer, Float or Boolean.
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    Callback {
        queue_url: String,
        outputs: Vec<OutputDecl>,
    },
    Lambda {
        function_arn: String,
        outputs: Vec<OutputDecl>,
    },
    Emr,
    Condition {
        conditions: Vec<Value>,
        if_steps: Vec<String>,
        else_steps: Vec<String>,
    },
    Fail,
}

impl StepKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Callback { .. } => "Callback",
            Self::Lambda { .. } => "Lambda",
            Self::Emr => "EMR",
            Self::Condition { .. } => "Condition",
            Self::Fail => "Fail",
        }
    }

    pub fn outputs(&self) -> &[OutputDecl] {
        match self {
            Self::Callback { outputs, .. } | Self::Lambda { outputs, .. } => outputs,
            _ => &[],
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct StepDef {
    pub name: String,
    pub kind: StepKind,
    pub arguments: Value,
    pub depends_on: Vec<String>,
    /// The condition step and branch (true: IfSteps) this step runs under, if any.
    pub gate: Option<(String, bool)>,
}

impl StepDef {
    /// Every step this one waits for: DependsOn, the steps whose outputs it reads, and
    /// the condition that gates it.
    pub fn prerequisites(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self.depends_on.iter().cloned().collect();
        let mut refs = Vec::new();
        collect_refs(&self.arguments, &mut refs);
        if let StepKind::Condition { conditions, .. } = &self.kind {
            conditions.iter().for_each(|c| collect_refs(c, &mut refs));
        }
        all.extend(refs.into_iter().filter_map(|r| match r {
            Reference::StepOutput { step, .. } => Some(step),
            _ => None,
        }));
        if let Some((condition, _)) = &self.gate {
            all.insert(condition.clone());
        }
        all
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    pub parameters: Vec<Parameter>,
    /// In definition order, the steps of condition branches after their condition.
    pub steps: Vec<StepDef>,
}

/// A `{"Get": ...}` path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    Parameter(String),
    StepOutput { step: String, output: String },
    StepProperty { step: String, path: String },
    Execution(String),
}

impl Reference {
    pub fn parse(path: &str) -> Result<Self, String> {
        if let Some(name) = path.strip_prefix("Parameters.") {
            return Ok(Self::Parameter(name.to_owned()));
        }
        if let Some(variable) = path.strip_prefix("Execution.") {
            return Ok(Self::Execution(variable.to_owned()));
        }
        if let Some(rest) = path.strip_prefix("Steps.") {
            let (step, property) = rest
                .split_once('.')
                .ok_or_else(|| format!("'{path}' names no property"))?;
            if let Some(output) = property
                .strip_prefix("OutputParameters['")
                .and_then(|s| s.strip_suffix("']"))
            {
                return Ok(Self::StepOutput {
                    step: step.to_owned(),
                    output: output.to_owned(),
                });
            }
            return Ok(Self::StepProperty {
                step: step.to_owned(),
                path: property.to_owned(),
            });
        }
        Err(format!("'{path}' is not a reference the local stack resolves (Parameters., Steps., Execution.)"))
    }
}

/// Every `Get` reference inside a value.
pub fn collect_refs(value: &Value, out: &mut Vec<Reference>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(path)) = map.get("Get") {
                if let Ok(reference) = Reference::parse(path) {
                    out.push(reference);
                }
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn outputs_of(step: &Value, name: &str) -> Result<Vec<OutputDecl>, String> {
    let Some(items) = step.get("OutputParameters") else {
        return Ok(Vec::new());
    };
    let items = items
        .as_array()
        .ok_or_else(|| format!("step '{name}': OutputParameters is not a list"))?;
    items
        .iter()
        .map(|o| {
            let output = o["OutputName"]
                .as_str()
                .ok_or_else(|| format!("step '{name}': an output has no OutputName"))?;
            let kind = o["OutputType"].as_str().unwrap_or("String");
            if !["String", "Integer", "Float", "Boolean"].contains(&kind) {
                return Err(format!(
                    "step '{name}': output '{output}' has unknown OutputType '{kind}'"
                ));
            }
            Ok(OutputDecl {
                name: output.to_owned(),
                kind: kind.to_owned(),
            })
        })
        .collect()
}

impl Definition {
    pub fn parse(text: &str) -> Result<Self, String> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| format!("the definition is not JSON: {e}"))?;
        let version = doc["Version"].as_str().unwrap_or_default();
        if version != "2020-12-01" {
            return Err(format!(
                "the definition's Version is '{version}'; the local stack runs Version 2020-12-01"
            ));
        }
        let mut parameters = Vec::new();
        for p in doc["Parameters"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let name = p["Name"]
                .as_str()
                .ok_or("a parameter has no Name")?
                .to_owned();
            let kind = p["Type"].as_str().unwrap_or("String").to_owned();
            if !["String", "Integer", "Float", "Boolean"].contains(&kind.as_str()) {
                return Err(format!("parameter '{name}' has type '{kind}'; the local stack takes String, Integer, Float and Boolean"));
            }
            parameters.push(Parameter {
                name,
                kind,
                default: p.get("DefaultValue").cloned(),
            });
        }
        let steps = doc["Steps"]
            .as_array()
            .ok_or("the definition has no Steps list")?;
        let mut out = Vec::new();
        read_steps(steps, None, &mut out)?;
        let definition = Self {
            parameters,
            steps: out,
        };
        definition.check()?;
        Ok(definition)
    }

    pub fn step(&self, name: &str) -> Option<&StepDef> {
        self.steps.iter().find(|s| s.name == name)
    }

    fn check(&self) -> Result<(), String> {
        let mut names = BTreeSet::new();
        for step in &self.steps {
            if !names.insert(step.name.as_str()) {
                return Err(format!("step '{}' is defined twice", step.name));
            }
        }
        let parameters: BTreeSet<&str> = self.parameters.iter().map(|p| p.name.as_str()).collect();
        for step in &self.steps {
            for dependency in &step.depends_on {
                let Some(target) = self.step(dependency) else {
                    return Err(format!(
                        "step '{}' depends on '{dependency}', which is not a step of this pipeline",
                        step.name
                    ));
                };
                if matches!(target.kind, StepKind::Fail) {
                    return Err(format!(
                        "step '{}' depends on Fail step '{dependency}'; a Fail step cannot be depended upon",
                        step.name
                    ));
                }
            }
            let mut refs = Vec::new();
            collect_refs(&step.arguments, &mut refs);
            if let StepKind::Condition { conditions, .. } = &step.kind {
                conditions.iter().for_each(|c| collect_refs(c, &mut refs));
            }
            for reference in refs {
                match reference {
                    Reference::Parameter(name) if !parameters.contains(name.as_str()) => {
                        return Err(format!("step '{}' uses parameter '{name}', which the pipeline does not declare", step.name))
                    }
                    Reference::StepOutput { step: source, output } => {
                        let Some(target) = self.step(&source) else {
                            return Err(format!("step '{}' uses an output of '{source}', which is not a step of this pipeline", step.name));
                        };
                        if !target.kind.outputs().iter().any(|o| o.name == output) {
                            return Err(format!(
                                "step '{}' uses output '{output}' of step '{source}', which declares no output by that name",
                                step.name
                            ));
                        }
                    }
                    Reference::StepProperty { step: source, .. } if self.step(&source).is_none() => {
                        return Err(format!("step '{}' uses a property of '{source}', which is not a step of this pipeline", step.name));
                    }
                    _ => {}
                }
            }
        }
        self.check_acyclic()
    }

    fn check_acyclic(&self) -> Result<(), String> {
        let edges: BTreeMap<&str, BTreeSet<String>> = self
            .steps
            .iter()
            .map(|s| (s.name.as_str(), s.prerequisites()))
            .collect();
        // Depth-first search that keeps the path, so the cycle can be shown.
        fn visit<'a>(
            node: &'a str,
            edges: &'a BTreeMap<&'a str, BTreeSet<String>>,
            done: &mut BTreeSet<&'a str>,
            path: &mut Vec<&'a str>,
        ) -> Result<(), String> {
            if done.contains(node) {
                return Ok(());
            }
            if let Some(start) = path.iter().position(|n| *n == node) {
                let mut cycle: Vec<&str> = path[start..].to_vec();
                cycle.push(node);
                return Err(format!("the steps {} form a cycle", cycle.join(" → ")));
            }
            path.push(node);
            for next in edges.get(node).into_iter().flatten() {
                if let Some((key, _)) = edges.get_key_value(next.as_str()) {
                    visit(key, edges, done, path)?;
                }
            }
            path.pop();
            done.insert(node);
            Ok(())
        }
        let mut done = BTreeSet::new();
        for node in edges.keys() {
            visit(node, &edges, &mut done, &mut Vec::new())?;
        }
        Ok(())
    }
}

fn read_steps(
    steps: &[Value],
    gate: Option<(String, bool)>,
    out: &mut Vec<StepDef>,
) -> Result<(), String> {
    for step in steps {
        let name = step["Name"]
            .as_str()
            .ok_or("a step has no Name")?
            .to_owned();
        let kind_name = step["Type"].as_str().unwrap_or_default();
        let arguments = step
            .get("Arguments")
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        let kind = match kind_name {
            "Callback" => StepKind::Callback {
                queue_url: step["SqsQueueUrl"]
                    .as_str()
                    .ok_or_else(|| format!("Callback step '{name}' has no SqsQueueUrl"))?
                    .to_owned(),
                outputs: outputs_of(step, &name)?,
            },
            "Lambda" => StepKind::Lambda {
                function_arn: step["FunctionArn"]
                    .as_str()
                    .ok_or_else(|| format!("Lambda step '{name}' has no FunctionArn"))?
                    .to_owned(),
                outputs: outputs_of(step, &name)?,
            },
            "EMR" => StepKind::Emr,
            "Fail" => StepKind::Fail,
            "Condition" => {
                let names = |key: &str| -> Vec<String> {
                    arguments[key]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|s| s["Name"].as_str().map(str::to_owned))
                        .collect()
                };
                let (if_steps, else_steps) = (names("IfSteps"), names("ElseSteps"));
                if let Some(both) = if_steps.iter().find(|s| else_steps.contains(s)) {
                    return Err(format!(
                        "step '{both}' is in both IfSteps and ElseSteps of condition '{name}'"
                    ));
                }
                StepKind::Condition {
                    conditions: arguments["Conditions"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default(),
                    if_steps,
                    else_steps,
                }
            }
            other => {
                return Err(format!(
                "step '{name}' has type '{other}', which the local stack does not run (it runs {})",
                STEP_TYPES.join(", ")
            ))
            }
        };
        let depends_on = step["DependsOn"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let is_condition = matches!(kind, StepKind::Condition { .. });
        out.push(StepDef {
            name: name.clone(),
            kind,
            arguments: arguments.clone(),
            depends_on,
            gate: gate.clone(),
        });
        if is_condition {
            for (key, branch) in [("IfSteps", true), ("ElseSteps", false)] {
                let nested = arguments[key]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                read_steps(nested, Some((name.clone(), branch)), out)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn definition(steps: Value) -> Result<Definition, String> {
        Definition::parse(
            &json!({"Version": "2020-12-01", "Parameters": [{"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5}],
                    "Steps": steps})
            .to_string(),
        )
    }

    fn lambda(name: &str, extra: Value) -> Value {
        let mut step = json!({"Name": name, "Type": "Lambda", "Arguments": {},
            "FunctionArn": "arn:aws:lambda:us-east-1:1:function:LambdaStepFunction",
            "OutputParameters": [{"OutputName": "Ready", "OutputType": "Boolean"}]});
        for (k, v) in extra.as_object().unwrap() {
            step[k] = v.clone();
        }
        step
    }

    #[test]
    fn reads_steps_branches_and_prerequisites() {
        let d = definition(json!([
            lambda("check", json!({})),
            {"Name": "gate", "Type": "Condition", "Arguments": {
                "Conditions": [{"Type": "Equals", "LeftValue": {"Get": "Steps.check.OutputParameters['Ready']"}, "RightValue": true}],
                "IfSteps": [lambda("go", json!({}))],
                "ElseSteps": [{"Name": "stop", "Type": "Fail", "Arguments": {"ErrorMessage": "no"}}]}}
        ]))
        .unwrap();
        let names: Vec<&str> = d.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["check", "gate", "go", "stop"]);
        assert_eq!(d.step("go").unwrap().gate, Some(("gate".into(), true)));
        assert_eq!(
            d.step("gate").unwrap().prerequisites(),
            BTreeSet::from(["check".to_owned()])
        );
    }

    #[test]
    fn every_bad_definition_is_named() {
        let cases = [
            (
                json!([{"Name": "p", "Type": "Processing", "Arguments": {}}]),
                "step 'p' has type 'Processing', which the local stack does not run",
            ),
            (
                json!([
                    lambda("a", json!({"DependsOn": ["b"]})),
                    lambda("b", json!({"DependsOn": ["a"]}))
                ]),
                "form a cycle",
            ),
            (
                json!([lambda("a", json!({"DependsOn": ["ghost"]}))]),
                "step 'a' depends on 'ghost', which is not a step of this pipeline",
            ),
            (
                json!([lambda(
                    "a",
                    json!({"Arguments": {"x": {"Get": "Parameters.Nope"}}})
                )]),
                "step 'a' uses parameter 'Nope', which the pipeline does not declare",
            ),
            (
                json!([
                    lambda("a", json!({})),
                    lambda(
                        "b",
                        json!({"Arguments": {"x": {"Get": "Steps.a.OutputParameters['Other']"}}})
                    )
                ]),
                "uses output 'Other' of step 'a', which declares no output by that name",
            ),
            (
                json!([{"Name": "c", "Type": "Condition", "Arguments": {"Conditions": [], "IfSteps": [lambda("x", json!({}))], "ElseSteps": [lambda("x", json!({}))]}}]),
                "step 'x' is in both IfSteps and ElseSteps of condition 'c'",
            ),
            (
                json!([{"Name": "f", "Type": "Fail", "Arguments": {}}, lambda("a", json!({"DependsOn": ["f"]}))]),
                "depends on Fail step 'f'; a Fail step cannot be depended upon",
            ),
            (
                json!([lambda("a", json!({})), lambda("a", json!({}))]),
                "step 'a' is defined twice",
            ),
        ];
        for (steps, expected) in cases {
            let err = definition(steps.clone()).unwrap_err();
            assert!(err.contains(expected), "{steps}: {err}");
        }
        assert!(Definition::parse("{").unwrap_err().contains("not JSON"));
        assert!(Definition::parse(r#"{"Version": "2019"}"#)
            .unwrap_err()
            .contains("Version"));
    }

    #[test]
    fn a_cycle_through_data_dependencies_is_shown() {
        let err = definition(json!([
            lambda(
                "a",
                json!({"Arguments": {"x": {"Get": "Steps.b.OutputParameters['Ready']"}}})
            ),
            lambda(
                "b",
                json!({"Arguments": {"x": {"Get": "Steps.a.OutputParameters['Ready']"}}})
            )
        ]))
        .unwrap_err();
        assert_eq!(err, "the steps a → b → a form a cycle");
    }
}
