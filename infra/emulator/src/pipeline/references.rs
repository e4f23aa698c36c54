//! `{"Get": ...}` references and the functions that hold them: what a definition reads,
//! and so which steps a step waits for. A reference is a dependency wherever it
//! appears: in arguments, in conditions, in a Fail message, in a branch step.

use serde_json::Value;

/// The execution variables SageMaker resolves (the SDK's `ExecutionVariables`).
pub const EXECUTION_VARIABLES: [&str; 8] = [
    "StartDateTime",
    "CurrentDateTime",
    "PipelineName",
    "PipelineArn",
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "TrainingJobName",
    "ProcessingJobName",
];

/// The members of `PipelineExperimentConfig` a definition may read.
pub const EXPERIMENT_CONFIG_MEMBERS: [&str; 2] = ["ExperimentName", "TrialName"];

/// A `{"Get": ...}` path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// `Parameters.<name>`
    Parameter(String),
    /// `Steps.<step>.<path>`: a property of a step (its outputs, its outcome, its job).
    Step { step: String, path: PropertyPath },
    /// `Execution.<variable>`
    Execution(String),
    /// `PipelineExperimentConfig.<member>`
    ExperimentConfig(String),
    /// `ForEach.CurrentItem`, or a field of it (`ForEach.CurrentItem.name`,
    /// `ForEach.CurrentItem['score']`): the item a ForEach body step runs for.
    CurrentItem(Option<PropertyPath>),
}

/// The reference a ForEach body step reads its item with.
pub const CURRENT_ITEM: &str = "ForEach.CurrentItem";

/// One segment of a property path: `Status.State` is two fields,
/// `OutputParameters['x']` a field and a key, `Outputs[0]` a field and an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Field(String),
    Key(String),
    Index(usize),
}

/// A property path inside a step's properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropertyPath {
    pub text: String,
    pub segments: Vec<Segment>,
}

impl PropertyPath {
    /// Reads `Status.State`, `OutputParameters['x']` (or `["x"]`), `Items[0].Name`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(inner) = rest.strip_prefix('[') {
                let end = inner
                    .find(']')
                    .ok_or_else(|| format!("'{text}' has an unclosed '['"))?;
                let key = &inner[..end];
                let quoted = |q: char| key.len() >= 2 && key.starts_with(q) && key.ends_with(q);
                segments.push(if quoted('\'') || quoted('"') {
                    Segment::Key(key[1..key.len() - 1].to_owned())
                } else {
                    Segment::Index(key.parse().map_err(|_| {
                        format!("'{text}': [{key}] is neither a quoted key nor an index")
                    })?)
                });
                rest = &inner[end + 1..];
                rest = rest.strip_prefix('.').unwrap_or(rest);
                continue;
            }
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let field = &rest[..end];
            if field.is_empty() {
                return Err(format!("'{text}' has an empty property name"));
            }
            segments.push(Segment::Field(field.to_owned()));
            rest = &rest[end..];
            rest = rest.strip_prefix('.').unwrap_or(rest);
        }
        if segments.is_empty() {
            return Err(format!("'{text}' names no property"));
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// The first field: `OutputParameters`, `Outcome`, `Status`, ...
    pub fn root(&self) -> &str {
        match self.segments.first() {
            Some(Segment::Field(name)) => name,
            _ => "",
        }
    }

    /// The output a Lambda or Callback step's `OutputParameters['x']` names.
    pub fn output_name(&self) -> Option<&str> {
        match self.segments.as_slice() {
            [Segment::Field(root), Segment::Key(name)] if root == "OutputParameters" => Some(name),
            _ => None,
        }
    }

    /// Walks the path in a step's properties document. A key on a list picks the
    /// element it names, as the SDK's `PropertiesList` does (`Outputs['train']` is the
    /// output whose OutputName is `train`).
    pub fn lookup<'a>(&self, document: &'a Value) -> Option<&'a Value> {
        self.segments
            .iter()
            .try_fold(document, |value, segment| match (segment, value) {
                (Segment::Key(name), Value::Array(items)) => items.iter().find(|item| {
                    item.as_object().is_some_and(|fields| {
                        fields
                            .iter()
                            .any(|(field, v)| field.ends_with("Name") && v.as_str() == Some(name))
                    })
                }),
                (Segment::Field(name) | Segment::Key(name), _) => value.get(name),
                (Segment::Index(i), _) => value.get(i),
            })
    }
}

impl Reference {
    /// Reads a `Get` path; a path SageMaker would not resolve is refused with why.
    pub fn parse(path: &str) -> Result<Self, String> {
        let (prefix, rest) = path.split_once('.').unwrap_or((path, ""));
        match prefix {
            "Parameters" if !rest.is_empty() => Ok(Self::Parameter(rest.to_owned())),
            "Execution" => {
                if EXECUTION_VARIABLES.contains(&rest) {
                    Ok(Self::Execution(rest.to_owned()))
                } else {
                    Err(format!(
                        "'{path}' is not an execution variable (there are {})",
                        EXECUTION_VARIABLES.join(", ")
                    ))
                }
            }
            "PipelineExperimentConfig" => {
                if EXPERIMENT_CONFIG_MEMBERS.contains(&rest) {
                    Ok(Self::ExperimentConfig(rest.to_owned()))
                } else {
                    Err(format!(
                        "'{path}' is not a PipelineExperimentConfig property (there are {})",
                        EXPERIMENT_CONFIG_MEMBERS.join(", ")
                    ))
                }
            }
            "Steps" => {
                let (step, property) = rest
                    .split_once('.')
                    .filter(|(step, property)| !step.is_empty() && !property.is_empty())
                    .ok_or_else(|| format!("'{path}' names no step property"))?;
                Ok(Self::Step {
                    step: step.to_owned(),
                    path: PropertyPath::parse(property)?,
                })
            }
            "ForEach" if rest.starts_with("CurrentItem") => {
                let field = &path[CURRENT_ITEM.len()..];
                if field.is_empty() {
                    return Ok(Self::CurrentItem(None));
                }
                if !field.starts_with(['.', '[']) {
                    return Err(format!("'{path}' is not ForEach.CurrentItem or a field of it"));
                }
                let field = field.strip_prefix('.').unwrap_or(field);
                Ok(Self::CurrentItem(Some(PropertyPath::parse(field)?)))
            }
            _ => Err(format!(
                "'{path}' is not a reference SageMaker resolves (Parameters., Steps., Execution., PipelineExperimentConfig., ForEach.CurrentItem)"
            )),
        }
    }

    /// The step this reference reads, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            Self::Step { step, .. } => Some(step),
            _ => None,
        }
    }
}

/// Every `Get` reference inside a value, `Std:JsonGet`'s PropertyFile and S3Uri
/// included. A malformed `Get` is an error naming it.
pub fn collect(value: &Value, out: &mut Vec<Reference>) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            if let Some(path) = map.get("Get") {
                let path = path
                    .as_str()
                    .ok_or_else(|| format!("Get takes a path string, not {path}"))?;
                out.push(Reference::parse(path)?);
            }
            map.values().try_for_each(|v| collect(v, out))
        }
        Value::Array(items) => items.iter().try_for_each(|v| collect(v, out)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_kind_of_reference() {
        assert_eq!(
            Reference::parse("Parameters.Env").unwrap(),
            Reference::Parameter("Env".into())
        );
        assert_eq!(
            Reference::parse("Execution.CurrentDateTime").unwrap(),
            Reference::Execution("CurrentDateTime".into())
        );
        assert_eq!(
            Reference::parse("PipelineExperimentConfig.TrialName").unwrap(),
            Reference::ExperimentConfig("TrialName".into())
        );
        let Reference::Step { step, path } = Reference::parse("Steps.E.Status.State").unwrap()
        else {
            panic!()
        };
        assert_eq!(step, "E");
        assert_eq!(path.root(), "Status");
        assert_eq!(
            path.lookup(&json!({"Status": {"State": "COMPLETED"}})),
            Some(&json!("COMPLETED"))
        );
    }

    #[test]
    fn both_quote_styles_name_an_output() {
        for text in ["OutputParameters['v']", "OutputParameters[\"v\"]"] {
            assert_eq!(PropertyPath::parse(text).unwrap().output_name(), Some("v"));
        }
        let outputs = PropertyPath::parse("Outputs['test'].S3Output.S3Uri").unwrap();
        assert_eq!(
            outputs.lookup(&json!({"Outputs": [{"OutputName": "train", "S3Output": {"S3Uri": "s3://b/a"}},
                                               {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/t"}}]})),
            Some(&json!("s3://b/t"))
        );
        let path = PropertyPath::parse("Items[1].Name").unwrap();
        assert_eq!(
            path.lookup(&json!({"Items": [{"Name": "a"}, {"Name": "b"}]})),
            Some(&json!("b"))
        );
    }

    #[test]
    fn unknown_prefixes_and_variables_are_refused() {
        for (path, expected) in [
            ("Pipeline.Name", "not a reference SageMaker resolves"),
            ("Execution.Tomorrow", "not an execution variable"),
            (
                "PipelineExperimentConfig.Owner",
                "not a PipelineExperimentConfig property",
            ),
            ("Steps.A", "names no step property"),
            ("Steps.A.OutputParameters['x'", "unclosed"),
        ] {
            let err = Reference::parse(path).unwrap_err();
            assert!(err.contains(expected), "{path}: {err}");
        }
    }

    #[test]
    fn collects_references_inside_functions() {
        let value = json!({"Std:JsonGet": {"S3Uri": {"Std:Join": {"On": "/", "Values": [
            "s3://b", {"Get": "Steps.P.OutputParameters['prefix']"}]}}, "Path": "a.b"}});
        let mut refs = Vec::new();
        collect(&value, &mut refs).unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].step(), Some("P"));
        assert!(collect(&json!({"Get": 3}), &mut Vec::new()).is_err());
    }
}
