//! CloudFormation intrinsic functions, resolved as far as the emulator needs: Ref,
//! Fn::Sub, Fn::GetAtt, Fn::If, Fn::Equals, Fn::Not, Fn::Join, in short (`!Ref`) and
//! long (`{"Ref": ...}`) form.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use serde_norway::value::TaggedValue;
use serde_norway::Value as Yaml;

pub const STACK_NAME: &str = "local";
pub use crate::ACCOUNT;
pub use crate::REGION;

/// What names resolve to.
pub struct Scope<'a> {
    pub parameters: &'a BTreeMap<String, Value>,
    pub conditions: &'a BTreeMap<String, Yaml>,
    pub resources: &'a BTreeMap<String, String>,
}

/// Resolves a YAML value into JSON; None where it resolves to AWS::NoValue.
pub fn resolve(value: &Yaml, scope: &Scope<'_>) -> Result<Option<Value>, String> {
    Ok(match value {
        Yaml::Null => Some(Value::Null),
        Yaml::Bool(b) => Some(Value::Bool(*b)),
        Yaml::Number(n) => Some(serde_json::to_value(n).map_err(|e| e.to_string())?),
        Yaml::String(s) => Some(Value::String(s.clone())),
        Yaml::Sequence(items) => {
            let mut out = Vec::new();
            for item in items {
                if let Some(v) = resolve(item, scope)? {
                    out.push(v);
                }
            }
            Some(Value::Array(out))
        }
        Yaml::Mapping(map) => {
            if map.len() == 1 {
                let (key, arg) = map.iter().next().expect("one entry");
                if let Some(name) = key
                    .as_str()
                    .filter(|k| *k == "Ref" || k.starts_with("Fn::") || *k == "Condition")
                {
                    if name != "Condition" {
                        return function(name.trim_start_matches("Fn::"), arg, scope);
                    }
                }
            }
            let mut out = Map::new();
            for (k, v) in map {
                let key = k
                    .as_str()
                    .ok_or("a mapping key is not a string")?
                    .to_owned();
                if let Some(v) = resolve(v, scope)? {
                    out.insert(key, v);
                }
            }
            Some(Value::Object(out))
        }
        Yaml::Tagged(tagged) => {
            let TaggedValue { tag, value } = tagged.as_ref();
            let name = tag.to_string();
            function(name.trim_start_matches('!'), value, scope)?
        }
    })
}

fn text(value: &Yaml, scope: &Scope<'_>) -> Result<String, String> {
    match resolve(value, scope)? {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        other => Err(format!("expected text, got {other:?}")),
    }
}

fn function(name: &str, arg: &Yaml, scope: &Scope<'_>) -> Result<Option<Value>, String> {
    match name {
        "Ref" => {
            let target = arg.as_str().ok_or("Ref takes a name")?;
            reference(target, scope)
        }
        "Sub" => {
            let template = match arg {
                Yaml::String(s) => s.clone(),
                Yaml::Sequence(items) if !items.is_empty() => text(&items[0], scope)?,
                _ => return Err("Sub takes a string".to_owned()),
            };
            Ok(Some(Value::String(substitute(&template, scope)?)))
        }
        "GetAtt" => {
            let path = match arg {
                Yaml::String(s) => s.clone(),
                Yaml::Sequence(items) => items
                    .iter()
                    .filter_map(|i| i.as_str())
                    .collect::<Vec<_>>()
                    .join("."),
                _ => return Err("GetAtt takes Resource.Attribute".to_owned()),
            };
            let (resource, attribute) = path
                .split_once('.')
                .ok_or("GetAtt takes Resource.Attribute")?;
            Ok(Some(Value::String(attribute_of(
                resource, attribute, scope,
            ))))
        }
        "If" => {
            let items = arg
                .as_sequence()
                .filter(|i| i.len() == 3)
                .ok_or("If takes [condition, then, else]")?;
            let condition = items[0].as_str().ok_or("If takes a condition name")?;
            let chosen = if condition_holds(condition, scope)? {
                &items[1]
            } else {
                &items[2]
            };
            resolve(chosen, scope)
        }
        "Equals" => {
            let items = arg
                .as_sequence()
                .filter(|i| i.len() == 2)
                .ok_or("Equals takes two values")?;
            Ok(Some(Value::Bool(
                resolve(&items[0], scope)? == resolve(&items[1], scope)?,
            )))
        }
        "Not" => {
            let items = arg
                .as_sequence()
                .filter(|i| i.len() == 1)
                .ok_or("Not takes one condition")?;
            Ok(Some(Value::Bool(!truth(&items[0], scope)?)))
        }
        "Join" => {
            let items = arg
                .as_sequence()
                .filter(|i| i.len() == 2)
                .ok_or("Join takes [separator, list]")?;
            let separator = text(&items[0], scope)?;
            let parts = match resolve(&items[1], scope)? {
                Some(Value::Array(parts)) => parts,
                other => return Err(format!("Join takes a list, got {other:?}")),
            };
            let parts: Vec<String> = parts
                .iter()
                .map(|p| {
                    p.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| p.to_string())
                })
                .collect();
            Ok(Some(Value::String(parts.join(&separator))))
        }
        other => Err(format!(
            "intrinsic function {other} is not supported by the emulator"
        )),
    }
}

fn truth(value: &Yaml, scope: &Scope<'_>) -> Result<bool, String> {
    match resolve(value, scope)? {
        Some(Value::Bool(b)) => Ok(b),
        other => Err(format!("expected a condition, got {other:?}")),
    }
}

fn condition_holds(name: &str, scope: &Scope<'_>) -> Result<bool, String> {
    let condition = scope
        .conditions
        .get(name)
        .ok_or_else(|| format!("no condition {name}"))?;
    truth(condition, scope)
}

fn reference(target: &str, scope: &Scope<'_>) -> Result<Option<Value>, String> {
    Ok(Some(Value::String(match target {
        "AWS::NoValue" => return Ok(None),
        "AWS::StackName" => STACK_NAME.to_owned(),
        "AWS::StackId" => format!(
            "arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/00000000-0000-0000-0000-000000000000"
        ),
        "AWS::Region" => REGION.to_owned(),
        "AWS::AccountId" => ACCOUNT.to_owned(),
        "AWS::Partition" => "aws".to_owned(),
        _ => {
            if let Some(value) = scope.parameters.get(target) {
                return Ok(Some(value.clone()));
            }
            match scope.resources.get(target) {
                Some(kind) if kind == "AWS::SQS::Queue" => {
                    format!("http://sqs.{REGION}.localhost/{ACCOUNT}/{target}")
                }
                Some(_) => target.to_owned(),
                None => return Err(format!("Ref to unknown name {target}")),
            }
        }
    })))
}

fn attribute_of(resource: &str, attribute: &str, scope: &Scope<'_>) -> String {
    let kind = scope
        .resources
        .get(resource)
        .map(String::as_str)
        .unwrap_or_default();
    match (kind, attribute) {
        ("AWS::SQS::Queue", "Arn") => format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{resource}"),
        ("AWS::SQS::Queue", "QueueName") => resource.to_owned(),
        (_, "Arn") => format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{resource}"),
        _ => format!("{resource}.{attribute}"),
    }
}

fn substitute(template: &str, scope: &Scope<'_>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').ok_or("unclosed ${ in Sub")? + start;
        let name = &rest[start + 2..end];
        let value = match name.split_once('.') {
            Some((resource, attribute)) if scope.resources.contains_key(resource) => {
                attribute_of(resource, attribute, scope)
            }
            _ => match reference(name, scope)? {
                Some(Value::String(s)) => s,
                Some(other) => other.to_string(),
                None => String::new(),
            },
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
