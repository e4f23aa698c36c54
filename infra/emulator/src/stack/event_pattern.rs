//! EventBridge event patterns, as far as rules use them: exact values, `prefix`,
//! `suffix`, `wildcard`, `anything-but`, `exists`, nested objects.

use serde_json::Value;

/// Whether `event` matches `pattern`.
pub fn matches(pattern: &Value, event: &Value) -> bool {
    let Value::Object(fields) = pattern else {
        return false;
    };
    fields.iter().all(|(key, expected)| {
        let actual = event.get(key);
        match expected {
            Value::Object(_) => actual.is_some_and(|a| a.is_object() && matches(expected, a)),
            Value::Array(matchers) => matchers.iter().any(|m| value_matches(m, actual)),
            _ => false,
        }
    })
}

fn value_matches(matcher: &Value, actual: Option<&Value>) -> bool {
    if let Value::Object(rule) = matcher {
        if let Some(Value::Bool(should_exist)) = rule.get("exists") {
            return actual.is_some() == *should_exist;
        }
    }
    let Some(actual) = actual else { return false };
    // An array in the event matches when any of its elements does.
    if let Value::Array(items) = actual {
        return items.iter().any(|item| value_matches(matcher, Some(item)));
    }
    match matcher {
        Value::Object(rule) => {
            let text = actual.as_str();
            if let Some(Value::String(prefix)) = rule.get("prefix") {
                return text.is_some_and(|t| t.starts_with(prefix.as_str()));
            }
            if let Some(Value::String(suffix)) = rule.get("suffix") {
                return text.is_some_and(|t| t.ends_with(suffix.as_str()));
            }
            if let Some(Value::String(glob)) = rule.get("wildcard") {
                return text.is_some_and(|t| wildcard(glob, t));
            }
            if let Some(excluded) = rule.get("anything-but") {
                return match excluded {
                    Value::Array(values) => !values.contains(actual),
                    other => other != actual,
                };
            }
            false
        }
        literal => literal == actual,
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn wildcard(glob: &str, text: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return glob == text;
    }
    if !text.starts_with(first)
        || !text[first.len()..].ends_with(last)
        || text.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_the_templates_emr_rules() {
        let pattern = json!({"source": ["aws.emr"], "detail-type": ["EMR Step Status Change"],
            "detail": {"state": ["COMPLETED", "FAILED"], "name": [{"wildcard": "*[sm-callback:*]"}]}});
        let event = |state: &str, name: &str| {
            json!({"source": "aws.emr", "detail-type": "EMR Step Status Change",
            "detail": {"state": state, "name": name}})
        };
        assert!(matches(
            &pattern,
            &event("COMPLETED", "features [sm-callback:EmrTok0001]")
        ));
        assert!(!matches(
            &pattern,
            &event("RUNNING", "features [sm-callback:EmrTok0001]")
        ));
        assert!(!matches(
            &pattern,
            &event("COMPLETED", "SageMaker EMR step")
        ));
        assert!(!matches(&pattern, &json!({"source": "aws.emr"})));
    }

    #[test]
    fn other_matchers() {
        let e = json!({"a": "hello", "n": 3, "l": ["x", "y"]});
        assert!(matches(&json!({"a": [{"prefix": "he"}]}), &e));
        assert!(matches(&json!({"a": [{"suffix": "lo"}]}), &e));
        assert!(matches(&json!({"a": [{"anything-but": ["bye"]}]}), &e));
        assert!(!matches(&json!({"a": [{"anything-but": "hello"}]}), &e));
        assert!(matches(&json!({"n": [3]}), &e));
        assert!(matches(&json!({"l": ["y"]}), &e));
        assert!(matches(&json!({"missing": [{"exists": false}]}), &e));
        assert!(!matches(&json!({"a": [{"exists": false}]}), &e));
        assert!(wildcard("a*c*e", "abcde") && !wildcard("a*c*e", "abde") && wildcard("*", ""));
    }
}
