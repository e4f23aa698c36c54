//! A ForEach step as the definition gives it: its items, its concurrency cap, its
//! selector and its body, with the rules SageMaker holds a body to, checked at create.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::pipeline::definition::{Definition, StepDef, StepKind};
use crate::pipeline::references::{self, PropertyPath, Reference};

/// MaxConcurrency's range.
const CONCURRENCY: std::ops::RangeInclusive<u64> = 1..=50;
/// At most this many items in a literal IterableItems list.
const MAX_LITERAL_ITEMS: usize = 100;
/// The step types a body may not hold.
const NOT_IN_BODY: [&str; 3] = ["Condition", "Fail", "ForEach"];
/// Where a selector's Field reads: `IterationOutput.<bodyStep>.<member>`.
const ITERATION_OUTPUT: &str = "IterationOutput.";

/// A ForEach step's own settings and body.
#[derive(Clone, Debug, PartialEq)]
pub struct ForEachDef {
    /// `IterableItems`: a list (of literals and references) or one reference that
    /// resolves to a JSON list, unevaluated.
    pub items: Value,
    /// `MaxConcurrency`: at most this many child steps run at once.
    pub max_concurrency: usize,
    /// `Selector`, if any.
    pub selector: Option<Selector>,
    /// `ForEachBody`: each item runs one child of every body step.
    pub body: Vec<StepDef>,
}

/// `Selector`: picks the iteration whose body step output is the highest (`MaxBy`) or
/// lowest (`MinBy`).
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    /// `Pick` is MaxBy.
    pub max: bool,
    /// The body step whose output is compared.
    pub body_step: String,
    /// The member of its properties compared (`OutputParameters['score']`).
    pub path: PropertyPath,
}

impl ForEachDef {
    /// The body step named `name`.
    pub fn body_step(&self, name: &str) -> Option<&StepDef> {
        self.body.iter().find(|s| s.name == name)
    }

    /// What the ForEach step reads on behalf of its body: every reference of its items
    /// and of its body steps but the item itself and the body's own steps.
    pub fn references(&self) -> Result<Vec<Reference>, String> {
        let mut refs = Vec::new();
        references::collect(&self.items, &mut refs)?;
        for step in &self.body {
            refs.extend(step.references()?.into_iter().filter(|r| match r {
                Reference::CurrentItem(_) => false,
                Reference::Step { step, .. } => self.body_step(step).is_none(),
                _ => true,
            }));
        }
        Ok(refs)
    }

    /// The top-level steps the body depends on by name.
    pub fn depends_on(&self) -> impl Iterator<Item = &String> {
        self.body
            .iter()
            .flat_map(|s| &s.depends_on)
            .filter(|name| self.body_step(name).is_none())
    }
}

/// Reads a ForEach step's Arguments; `read_body` reads the body's steps as any others.
pub fn read(
    name: &str,
    arguments: &Value,
    read_body: impl FnOnce(&[Value]) -> Result<Vec<StepDef>, String>,
) -> Result<ForEachDef, String> {
    let items = arguments
        .get("IterableItems")
        .cloned()
        .ok_or_else(|| format!("ForEach step '{name}' has no IterableItems"))?;
    if let Value::Array(list) = &items {
        if list.is_empty() || list.len() > MAX_LITERAL_ITEMS {
            return Err(format!(
                "ForEach step '{name}': an IterableItems list has between 1 and {MAX_LITERAL_ITEMS} items, not {}",
                list.len()
            ));
        }
    }
    let max_concurrency = arguments["MaxConcurrency"]
        .as_u64()
        .filter(|n| CONCURRENCY.contains(n))
        .ok_or_else(|| {
            format!(
                "ForEach step '{name}': MaxConcurrency is an integer from 1 to 50, not {}",
                arguments["MaxConcurrency"]
            )
        })? as usize;
    let body = read_body(
        arguments["ForEachBody"]
            .as_array()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| format!("ForEach step '{name}' has no ForEachBody steps"))?,
    )?;
    if let Some(step) = body
        .iter()
        .find(|s| NOT_IN_BODY.contains(&s.kind.type_name()))
    {
        return Err(format!(
            "ForEach step '{name}': step type '{}' of '{}' is not allowed in ForEachBody (Condition, Fail and ForEach are not)",
            step.kind.type_name(),
            step.name
        ));
    }
    let selector = match arguments.get("Selector") {
        None => None,
        Some(selector) => Some(read_selector(name, selector, &body)?),
    };
    if let Some(unknown) = arguments.as_object().into_iter().flatten().find(|(k, _)| {
        !["IterableItems", "MaxConcurrency", "Selector", "ForEachBody"].contains(&k.as_str())
    }) {
        return Err(format!(
            "ForEach step '{name}' has an argument '{}' that the emulator does not support",
            unknown.0
        ));
    }
    Ok(ForEachDef {
        items,
        max_concurrency,
        selector,
        body,
    })
}

fn read_selector(name: &str, selector: &Value, body: &[StepDef]) -> Result<Selector, String> {
    let max = match selector["Pick"].as_str() {
        Some("MaxBy") => true,
        Some("MinBy") => false,
        other => {
            return Err(format!(
                "ForEach step '{name}': Selector.Pick is MaxBy or MinBy, not {other:?}"
            ))
        }
    };
    let field = selector["Field"]["Get"].as_str().unwrap_or_default();
    let (body_step, member) = field
        .strip_prefix(ITERATION_OUTPUT)
        .and_then(|rest| rest.split_once(['.', '[']).map(|(s, _)| (s, &rest[s.len()..])))
        .filter(|(step, member)| body.iter().any(|b| b.name == *step) && !member.is_empty())
        .ok_or_else(|| {
            format!(
                "ForEach step '{name}': Selector.Field is an IterationOutput reference to a body step and one of its members (IterationOutput.<bodyStep>.<member>), not '{field}'"
            )
        })?;
    Ok(Selector {
        max,
        body_step: body_step.to_owned(),
        path: PropertyPath::parse(member.strip_prefix('.').unwrap_or(member))?,
    })
}

/// The rules SageMaker holds ForEach bodies to across the pipeline: body step names
/// unique among all bodies and top-level steps, no top-level step named like a child
/// (`<bodyStep>-<digits>`), and `ForEach.CurrentItem` read only inside a body.
pub fn check(definition: &Definition) -> Result<(), String> {
    let top: BTreeSet<&str> = definition.steps.iter().map(|s| s.name.as_str()).collect();
    let mut body_names = BTreeSet::new();
    for step in &definition.steps {
        let StepKind::ForEach(for_each) = &step.kind else {
            if step
                .references()?
                .iter()
                .any(|r| matches!(r, Reference::CurrentItem(_)))
            {
                return Err(format!(
                    "step '{}' reads ForEach.CurrentItem, which only the body steps of a ForEach step read",
                    step.name
                ));
            }
            continue;
        };
        for body in &for_each.body {
            if top.contains(body.name.as_str()) || !body_names.insert(body.name.as_str()) {
                return Err(format!(
                    "ForEach step '{}': body step name '{}' is used more than once in the pipeline",
                    step.name, body.name
                ));
            }
        }
    }
    for name in &top {
        if let Some((body, index)) = name.rsplit_once('-') {
            if body_names.contains(body)
                && !index.is_empty()
                && index.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(format!(
                    "step '{name}' is named as a child of ForEach body step '{body}' would be (<bodyStep>-<index>)"
                ));
            }
        }
    }
    Ok(())
}

/// The properties every ForEach step has, beside its iterations' outputs.
pub const AGGREGATES: [&str; 6] = [
    "Status",
    "InputItemCount",
    "TotalStepCount",
    "SucceededStepCount",
    "FailedStepCount",
    "StoppedStepCount",
];

/// Whether a ForEach step has the property `path`: an aggregate,
/// `IterationOutputs[<index>].<bodyStep>.<member>`, or `Selected.<member>` when it has
/// a selector.
pub fn has_property(for_each: &ForEachDef, path: &PropertyPath) -> bool {
    use crate::pipeline::references::Segment;
    match path.segments.as_slice() {
        [Segment::Field(root)] => AGGREGATES.contains(&root.as_str()),
        [Segment::Field(root), Segment::Index(_), Segment::Field(body), _, ..]
            if root == "IterationOutputs" =>
        {
            for_each.body_step(body).is_some()
        }
        [Segment::Field(root), _, ..] if root == "Selected" => for_each.selector.is_some(),
        _ => false,
    }
}
