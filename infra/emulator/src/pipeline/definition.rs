//! A pipeline definition as the SageMaker Python SDK writes it (`Version 2020-12-01`),
//! read into steps, parameters and their settings. What it may not do is checked in
//! `validate`, which also offers `Definition::parse` (read, then checked), so this module
//! does not depend on it; what a step waits for is in `prerequisites`.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use super::for_each::{self, ForEachDef};
use super::references::{self, Reference};

/// The job step types SageMaker caches (CacheConfig), besides EMR.
const CACHED_JOB_TYPES: [&str; 7] = [
    "Processing",
    "Training",
    "Tuning",
    "AutoML",
    "Transform",
    "ClarifyCheck",
    "QualityCheck",
];

/// The step members `read_steps` reads into a `StepDef` of their own; the rest are the
/// step's `fields`.
const READ_MEMBERS: [&str; 12] = [
    "Name",
    "Type",
    "Arguments",
    "DependsOn",
    "DisplayName",
    "Description",
    "RetryPolicies",
    "CacheConfig",
    "SqsQueueUrl",
    "FunctionArn",
    "OutputParameters",
    "PropertyFiles",
];

/// A Processing step's `PropertyFiles` entry: a JSON file among its outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct PropertyFileDecl {
    pub name: String,
    /// The ProcessingOutput it is in.
    pub output_name: String,
    /// Its path inside that output.
    pub path: String,
}
pub const PARAMETER_TYPES: [&str; 4] = ["String", "Integer", "Float", "Boolean"];

#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    pub name: String,
    /// String, Integer, Float or Boolean.
    pub kind: String,
    pub default: Option<Value>,
    /// `EnumValues`: the only values the parameter may take.
    pub enum_values: Option<Vec<Value>>,
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
    /// SageMaker's fan-out: its body steps run once per item.
    ForEach(Box<ForEachDef>),
    /// Deletes the S3 outputs of the steps its `Resources.S3` names.
    Cleanup,
    /// A SageMaker job step (Processing, Training, ...), run on a mock.
    Job {
        step_type: String,
        property_files: Vec<PropertyFileDecl>,
    },
}

impl StepKind {
    pub fn type_name(&self) -> &str {
        match self {
            Self::Callback { .. } => "Callback",
            Self::Lambda { .. } => "Lambda",
            Self::Emr => "EMR",
            Self::Condition { .. } => "Condition",
            Self::Fail => "Fail",
            Self::ForEach(_) => "ForEach",
            Self::Cleanup => "Cleanup",
            Self::Job { step_type, .. } => step_type,
        }
    }

    pub fn outputs(&self) -> &[OutputDecl] {
        match self {
            Self::Callback { outputs, .. } | Self::Lambda { outputs, .. } => outputs,
            _ => &[],
        }
    }

    /// Whether SageMaker honours `CacheConfig` on this step type (job steps and EMR;
    /// Lambda and Callback steps accept the setting and always run).
    pub fn caches(&self) -> bool {
        match self {
            Self::Emr => true,
            Self::Job { step_type, .. } => CACHED_JOB_TYPES.contains(&step_type.as_str()),
            _ => false,
        }
    }
}

/// A `RetryPolicies` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// `Step.SERVICE_FAULT`, `Step.THROTTLING`, `SageMaker.JOB_INTERNAL_ERROR`, ...
    pub exception_types: Vec<String>,
    pub interval: Duration,
    pub backoff_rate: f64,
    /// At most this many attempts in all, or
    pub max_attempts: Option<u32>,
    /// retries for at most this long after the first attempt.
    pub expire_after: Option<Duration>,
}

/// A step's `CacheConfig`.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheConfig {
    pub enabled: bool,
    /// `ExpireAfter`; none: a cached result never expires.
    pub expire_after: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StepDef {
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub kind: StepKind,
    pub arguments: Value,
    pub depends_on: Vec<String>,
    /// The condition step and branch (true: IfSteps) this step runs under, if any.
    pub gate: Option<(String, bool)>,
    pub retry_policies: Vec<RetryPolicy>,
    pub cache: Option<CacheConfig>,
    /// The step's members beside its Arguments that the SDK writes and that may hold
    /// references (a check step's `ModelName`, `SuppliedBaselineConstraints`,
    /// `SkipCheck`, ...), unevaluated. Members read above are not repeated here.
    pub fields: Value,
    /// For a child of a ForEach step (`<bodyStep>-<index>`), the body step it runs.
    pub body_step: Option<String>,
}

impl StepDef {
    /// Every reference the step reads, wherever it appears: its arguments (a
    /// Condition's conditions, not its branches: the branch steps read on their own
    /// account) and its other members.
    pub fn references(&self) -> Result<Vec<Reference>, String> {
        let mut refs = Vec::new();
        match &self.kind {
            StepKind::Condition { conditions, .. } => conditions
                .iter()
                .try_for_each(|c| references::collect(c, &mut refs)),
            StepKind::ForEach(for_each) => for_each.references().map(|r| refs.extend(r)),
            _ => references::collect(&self.arguments, &mut refs),
        }
        .and_then(|()| references::collect(&self.fields, &mut refs))
        .map_err(|e| format!("step '{}': {e}", self.name))?;
        Ok(refs)
    }

    /// Every step this one waits for: DependsOn, the steps whose properties it reads,
    /// and the condition that gates it.
    pub fn prerequisites(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self.depends_on.iter().cloned().collect();
        if let StepKind::ForEach(for_each) = &self.kind {
            all.extend(for_each.depends_on().cloned());
        }
        all.extend(
            self.references()
                .unwrap_or_default()
                .iter()
                .filter_map(|r| r.step().map(str::to_owned)),
        );
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
    /// `PipelineExperimentConfig` (ExperimentName, TrialName), expressions unevaluated.
    pub experiment_config: Option<Value>,
    /// `MlflowConfig` (MlflowResourceArn, MlflowExperimentName), as the v3 SDK writes it.
    pub mlflow_config: Option<Value>,
    /// Step name → its place in `steps`.
    index: std::collections::HashMap<String, usize>,
}

impl Definition {
    /// Reads a definition into steps and parameters, refusing what cannot be read;
    /// `Definition::parse` (in `validate`) reads and checks it.
    pub(super) fn read(text: &str) -> Result<Self, String> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| format!("the definition is not JSON: {e}"))?;
        if let Some(unknown) = doc
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, _)| key)
            .find(|key| !DEFINITION_MEMBERS.contains(&key.as_str()))
        {
            return Err(format!(
                "the definition has a member '{unknown}' that the emulator does not support (it reads {})",
                DEFINITION_MEMBERS.join(", ")
            ));
        }
        let version = doc["Version"].as_str().unwrap_or_default();
        if version != "2020-12-01" {
            return Err(format!(
                "the definition's Version is '{version}'; SageMaker reads Version 2020-12-01"
            ));
        }
        let parameters = doc["Parameters"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(read_parameter)
            .collect::<Result<Vec<_>, _>>()?;
        let steps = doc["Steps"]
            .as_array()
            .ok_or("the definition has no Steps list")?;
        let mut out = Vec::new();
        read_steps(steps, None, &mut out)?;
        let definition = Self {
            parameters,
            index: out
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.clone(), i))
                .collect(),
            steps: out,
            experiment_config: doc
                .get("PipelineExperimentConfig")
                .filter(|c| !c.is_null())
                .cloned(),
            mlflow_config: read_mlflow_config(&doc)?,
        };
        Ok(definition)
    }

    pub fn step(&self, name: &str) -> Option<&StepDef> {
        self.steps.get(*self.index.get(name)?)
    }

    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }
}

/// The top-level members of a definition, as the SDKs write them.
const DEFINITION_MEMBERS: [&str; 6] = [
    "Version",
    "Metadata",
    "Parameters",
    "PipelineExperimentConfig",
    "MlflowConfig",
    "Steps",
];

/// `MlflowConfig`: plain strings, the members the service shows in MLflowConfig.
fn read_mlflow_config(doc: &Value) -> Result<Option<Value>, String> {
    let Some(config) = doc.get("MlflowConfig").filter(|c| !c.is_null()) else {
        return Ok(None);
    };
    let members = config
        .as_object()
        .ok_or("the definition's MlflowConfig is not an object")?;
    let mut kept = serde_json::Map::new();
    for (key, value) in members {
        if !["MlflowResourceArn", "MlflowExperimentName"].contains(&key.as_str()) {
            return Err(format!(
                "MlflowConfig has a member '{key}' that the emulator does not support (it reads MlflowResourceArn, MlflowExperimentName)"
            ));
        }
        match value {
            Value::Null => {}
            Value::String(_) => {
                kept.insert(key.clone(), value.clone());
            }
            other => {
                return Err(format!(
                "MlflowConfig {key} must be a string; the emulator does not evaluate {other} there"
            ))
            }
        }
    }
    Ok(Some(Value::Object(kept)))
}

fn read_parameter(p: &Value) -> Result<Parameter, String> {
    let name = p["Name"]
        .as_str()
        .ok_or("a parameter has no Name")?
        .to_owned();
    let kind = p["Type"].as_str().unwrap_or("String").to_owned();
    if !PARAMETER_TYPES.contains(&kind.as_str()) {
        return Err(format!(
            "parameter '{name}' has type '{kind}'; parameters are {}",
            PARAMETER_TYPES.join(", ")
        ));
    }
    let enum_values = match p.get("EnumValues") {
        None | Some(Value::Null) => None,
        Some(Value::Array(values)) if !values.is_empty() => Some(values.clone()),
        Some(other) => {
            return Err(format!(
                "parameter '{name}': EnumValues must be a non-empty list, not {other}"
            ))
        }
    };
    Ok(Parameter {
        name,
        kind,
        default: p.get("DefaultValue").filter(|v| !v.is_null()).cloned(),
        enum_values,
    })
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
            if !PARAMETER_TYPES.contains(&kind) {
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

fn property_files_of(step: &Value, name: &str) -> Result<Vec<PropertyFileDecl>, String> {
    let Some(list) = step.get("PropertyFiles").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| format!("step '{name}': PropertyFiles is not a list"))?;
    list.iter()
        .map(|p| {
            let field = |key: &str| {
                p[key]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("step '{name}': a property file has no {key}"))
            };
            Ok(PropertyFileDecl {
                name: field("PropertyFileName")?,
                output_name: field("OutputName")?,
                path: field("FilePath")?,
            })
        })
        .collect()
}

fn read_retry_policies(step: &Value, name: &str) -> Result<Vec<RetryPolicy>, String> {
    let Some(list) = step.get("RetryPolicies").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| format!("step '{name}': RetryPolicies is not a list"))?;
    list.iter()
        .map(|p| {
            let exception_types = p["ExceptionType"]
                .as_array()
                .ok_or_else(|| format!("step '{name}': a retry policy has no ExceptionType list"))?
                .iter()
                .map(|t| t.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("step '{name}': ExceptionType holds a non-string"))?;
            let max_attempts = p["MaxAttempts"].as_u64().map(|n| n as u32);
            let expire_after = p["ExpireAfterMin"]
                .as_u64()
                .map(|m| Duration::from_secs(m * 60));
            if max_attempts.is_some() == expire_after.is_some() {
                return Err(format!(
                    "step '{name}': a retry policy takes exactly one of MaxAttempts and ExpireAfterMin"
                ));
            }
            Ok(RetryPolicy {
                exception_types,
                interval: Duration::from_secs_f64(p["IntervalSeconds"].as_f64().unwrap_or(1.0).max(0.0)),
                backoff_rate: p["BackoffRate"].as_f64().unwrap_or(2.0).max(1.0),
                max_attempts,
                expire_after,
            })
        })
        .collect()
}

fn read_cache_config(step: &Value, name: &str) -> Result<Option<CacheConfig>, String> {
    let Some(config) = step.get("CacheConfig").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let enabled = config["Enabled"].as_bool().unwrap_or(false);
    let expire_after = match config["ExpireAfter"].as_str() {
        None => None,
        Some(text) => Some(
            super::iso_duration::parse(text)
                .map_err(|e| format!("step '{name}': CacheConfig ExpireAfter {e}"))?,
        ),
    };
    Ok(Some(CacheConfig {
        enabled,
        expire_after,
    }))
}

/// A step name as the service model's StepName takes it: 1 to 64 of `[A-Za-z0-9\-_]`.
fn check_step_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name.is_empty() || name.chars().count() > 64 {
        return Err(format!(
            "step name '{name}' must be 1 to 64 characters (it has {})",
            name.chars().count()
        ));
    }
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "step name '{name}' has '{bad}'; step names take letters, digits, '-' and '_'"
        ));
    }
    Ok(())
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
        check_step_name(&name)?;
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
            "Cleanup" => StepKind::Cleanup,
            "ForEach" => StepKind::ForEach(Box::new(for_each::read(&name, &arguments, |body| {
                let mut steps = Vec::new();
                read_steps(body, None, &mut steps)?;
                Ok(steps)
            })?)),
            "Condition" => {
                if let Some((outer, _)) = &gate {
                    return Err(format!(
                        "Condition step '{name}' is inside a branch of Condition step '{outer}'; nested Condition steps are not supported"
                    ));
                }
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
            "" => return Err(format!("step '{name}' has no Type")),
            other => StepKind::Job {
                step_type: other.to_owned(),
                property_files: property_files_of(step, &name)?,
            },
        };
        let depends_on = read_depends_on(step, &name)?;
        let text = |key: &str| step[key].as_str().map(str::to_owned);
        let fields: serde_json::Map<String, Value> = step
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(key, _)| !READ_MEMBERS.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let is_condition = matches!(kind, StepKind::Condition { .. });
        out.push(StepDef {
            name: name.clone(),
            display_name: text("DisplayName"),
            description: text("Description"),
            kind,
            arguments: arguments.clone(),
            depends_on,
            gate: gate.clone(),
            retry_policies: read_retry_policies(step, &name)?,
            cache: read_cache_config(step, &name)?,
            fields: Value::Object(fields),
            body_step: None,
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

/// `DependsOn`: step names. An entry with a run condition (`{"Step": ..., "Trigger":
/// ...}`, the SDK's `StepDependency`) is refused by name: a step here runs only once
/// those it depends on succeeded.
fn read_depends_on(step: &Value, name: &str) -> Result<Vec<String>, String> {
    let Some(entries) = step.get("DependsOn").filter(|d| !d.is_null()) else {
        return Ok(Vec::new());
    };
    let entries = entries
        .as_array()
        .ok_or_else(|| format!("step '{name}': DependsOn is a list of step names"))?;
    entries
        .iter()
        .map(|entry| match entry {
            Value::String(dependency) => Ok(dependency.clone()),
            Value::Object(run_condition) => Err(format!(
                "step '{name}' depends on '{}' with Trigger {} (a run condition); the emulator runs a step only after the steps it depends on complete, and does not support run conditions",
                run_condition.get("Step").and_then(Value::as_str).unwrap_or("?"),
                run_condition.get("Trigger").map_or("?".to_owned(), Value::to_string)
            )),
            other => Err(format!("step '{name}': DependsOn holds {other}, not a step name")),
        })
        .collect()
}
