//! `doctor`: checks the wiring that, when broken, leaves Callback steps waiting for
//! days. One line a check: ok, warn or fail, and for a fail what to do.

use serde::Serialize;
use serde_json::Value;

use crate::aws::{classify, CallError, Clients};

/// What to check.
#[derive(Clone, Debug, Default)]
pub struct Wiring {
    pub queue_url: String,
    /// The EMR rules (and the reconcile schedule) that feed emr-events.
    pub rules: Vec<String>,
    /// The pipeline execution roles that must be able to send to the queue.
    pub pipeline_roles: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

/// One check's outcome; `fix` says what to do when it is not ok.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    pub verdict: Verdict,
    pub what: String,
    pub fix: Option<String>,
}

fn ok(what: String) -> Check {
    Check {
        verdict: Verdict::Ok,
        what,
        fix: None,
    }
}

fn not_ok(verdict: Verdict, what: String, fix: impl Into<String>) -> Check {
    Check {
        verdict,
        what,
        fix: Some(fix.into()),
    }
}

/// The wiring of a deployed CloudFormation stack: its CallbackQueueUrl output, its
/// PipelineExecutionRoleArns parameter, its EventBridge rules.
pub async fn from_stack(clients: &Clients, stack: &str) -> Result<Wiring, CallError> {
    let described = clients
        .cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| classify("cloudformation:DescribeStacks", e))?;
    let found = described
        .stacks()
        .first()
        .cloned()
        .ok_or_else(|| CallError::Service {
            action: "cloudformation:DescribeStacks".to_owned(),
            code: "ValidationError".to_owned(),
            message: format!("Stack with id {stack} does not exist"),
        })?;
    let queue_url = found
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("CallbackQueueUrl"))
        .and_then(|o| o.output_value())
        .unwrap_or_default()
        .to_owned();
    let pipeline_roles = found
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some("PipelineExecutionRoleArns"))
        .and_then(|p| p.parameter_value())
        .map(role_list)
        .unwrap_or_default();
    let resources = clients
        .cloudformation
        .describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| classify("cloudformation:DescribeStackResources", e))?;
    let rules = resources
        .stack_resources()
        .iter()
        .filter(|r| r.resource_type() == Some("AWS::Events::Rule"))
        .filter_map(|r| r.physical_resource_id().map(str::to_owned))
        .collect();
    Ok(Wiring {
        queue_url,
        rules,
        pipeline_roles,
    })
}

/// A CommaDelimitedList parameter's value: `a,b` (some endpoints answer `['a', 'b']`).
fn role_list(value: &str) -> Vec<String> {
    value
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|r| r.trim().trim_matches(|c| c == '\'' || c == '"').to_owned())
        .filter(|r| !r.is_empty())
        .collect()
}

/// Runs every check, in order.
pub async fn examine(clients: &Clients, wiring: &Wiring) -> Vec<Check> {
    let mut checks = queue_checks(clients, wiring).await;
    for rule in &wiring.rules {
        checks.extend(rule_checks(clients, rule).await);
    }
    checks
}

async fn queue_checks(clients: &Clients, wiring: &Wiring) -> Vec<Check> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let url = &wiring.queue_url;
    let attributes = match clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
    {
        Ok(answer) => answer.attributes.unwrap_or_default(),
        Err(e) => {
            let err = classify("sqs:GetQueueAttributes", e);
            return vec![not_ok(
                Verdict::Fail,
                format!("queue {url} cannot be read: {err}"),
                "check --queue-url (the stack's CallbackQueueUrl output), the region, and that the stack is deployed",
            )];
        }
    };
    let mut checks = vec![ok(format!("queue {url} exists"))];
    let redrive: Option<Value> = attributes
        .get(&QueueAttributeName::RedrivePolicy)
        .and_then(|p| serde_json::from_str(p).ok());
    let dlq_arn = redrive
        .as_ref()
        .and_then(|p| p["deadLetterTargetArn"].as_str())
        .map(str::to_owned);
    match &dlq_arn {
        Some(arn) => checks.push(ok(format!("its redrive policy sends failing messages to {arn}"))),
        None => checks.push(not_ok(
            Verdict::Fail,
            "the queue has no redrive policy: a message that fails again and again is retried until it expires, then lost".to_owned(),
            "give it a RedrivePolicy with a dead-letter queue (the template's CallbackDeadLetterQueue and MaxReceiveCount)",
        )),
    }
    if let Some(arn) = dlq_arn {
        checks.push(dlq_check(clients, &arn, url).await);
    }
    checks.push(policy_check(
        attributes
            .get(&QueueAttributeName::Policy)
            .map(String::as_str),
        &wiring.pipeline_roles,
    ));
    checks
}

async fn dlq_check(clients: &Clients, dlq_arn: &str, queue_url: &str) -> Check {
    use aws_sdk_sqs::types::QueueAttributeName;
    let name = dlq_arn.rsplit(':').next().unwrap_or_default();
    let dlq_url = match clients.sqs.get_queue_url().queue_name(name).send().await {
        Ok(answer) => answer.queue_url.unwrap_or_default(),
        Err(e) => {
            return not_ok(
                Verdict::Fail,
                format!(
                    "the dead-letter queue {dlq_arn} cannot be found: {}",
                    classify("sqs:GetQueueUrl", e)
                ),
                "create it, or point the redrive policy at a queue that exists",
            )
        }
    };
    let depth = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await;
    match depth {
        Ok(answer) => {
            let attributes = answer.attributes.unwrap_or_default();
            let count = |name: &QueueAttributeName| {
                attributes
                    .get(name)
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            let held = count(&QueueAttributeName::ApproximateNumberOfMessages)
                + count(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible);
            if held == 0 {
                ok(format!("the dead-letter queue {name} is empty"))
            } else {
                not_ok(
                    Verdict::Fail,
                    format!("the dead-letter queue {name} holds {held} message(s): callbacks nobody served, their steps still wait"),
                    format!("read the handler's logs for why, fix it, then: pipeline-steps redrive --queue-url {queue_url}"),
                )
            }
        }
        Err(e) => not_ok(
            Verdict::Fail,
            format!(
                "the dead-letter queue {name} cannot be read: {}",
                classify("sqs:GetQueueAttributes", e)
            ),
            "grant sqs:GetQueueAttributes on it",
        ),
    }
}

/// Whether the queue policy lets every pipeline role send.
fn policy_check(policy: Option<&str>, roles: &[String]) -> Check {
    let policy: Value = policy
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_default();
    if roles.is_empty() {
        return not_ok(
            Verdict::Warn,
            "no pipeline role given, so the queue policy was not checked".to_owned(),
            "pass --pipeline-role ARN for each pipeline execution role (or --stack NAME)",
        );
    }
    let missing: Vec<&String> = roles
        .iter()
        .filter(|role| !allows_send(&policy, role))
        .collect();
    if missing.is_empty() {
        ok(format!("the queue policy lets {} send", roles.join(", ")))
    } else {
        let missing: Vec<&str> = missing.iter().map(|r| r.as_str()).collect();
        not_ok(
            Verdict::Fail,
            format!("the queue policy does not let {} send: their Callback steps fail to start", missing.join(", ")),
            "add the role to the stack's PipelineExecutionRoleArns parameter and redeploy (the queue policy allows sqs:SendMessage to those roles)",
        )
    }
}

fn allows_send(policy: &Value, role: &str) -> bool {
    let as_list = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    as_list_of_statements(&policy["Statement"])
        .iter()
        .any(|statement| {
            let allow = statement["Effect"] == "Allow";
            let actions = as_list(&statement["Action"]);
            let sends = actions
                .iter()
                .any(|a| a == "sqs:SendMessage" || a == "sqs:*" || a == "*");
            let principal = &statement["Principal"];
            let principals = if principal == "*" {
                vec!["*".to_owned()]
            } else {
                as_list(&principal["AWS"])
            };
            allow && sends && principals.iter().any(|p| p == "*" || p == role)
        })
}

fn as_list_of_statements(statement: &Value) -> Vec<Value> {
    match statement {
        Value::Array(items) => items.clone(),
        Value::Object(_) => vec![statement.clone()],
        _ => Vec::new(),
    }
}

async fn rule_checks(clients: &Clients, rule: &str) -> Vec<Check> {
    let described = match clients.eventbridge.describe_rule().name(rule).send().await {
        Ok(answer) => answer,
        Err(e) => {
            let err = classify("events:DescribeRule", e);
            let fix = if err.code() == Some("ResourceNotFoundException") {
                "redeploy the stack, which creates it (EMR status events reach emr-events only through it)"
            } else {
                "grant events:DescribeRule, or check the rule's name and region"
            };
            return vec![not_ok(
                Verdict::Fail,
                format!("rule {rule} cannot be read: {err}"),
                fix,
            )];
        }
    };
    let mut checks = Vec::new();
    match described.state().map(|s| s.as_str()) {
        Some("ENABLED") => checks.push(ok(format!("rule {rule} exists and is ENABLED"))),
        state => checks.push(not_ok(
            Verdict::Fail,
            format!("rule {rule} is {}: EMR status events do not reach emr-events, and steps wait until reconcile", state.unwrap_or("in no state")),
            format!("aws events enable-rule --name {rule}"),
        )),
    }
    match clients
        .eventbridge
        .list_targets_by_rule()
        .rule(rule)
        .send()
        .await
    {
        Ok(answer) => {
            let functions: Vec<&str> = answer
                .targets()
                .iter()
                .map(|t| t.arn())
                .filter(|arn| arn.contains(":lambda:") && arn.contains(":function:"))
                .collect();
            if functions.is_empty() {
                checks.push(not_ok(
                    Verdict::Fail,
                    format!("rule {rule} targets no function"),
                    "redeploy the stack, which targets emr-events",
                ));
            } else {
                checks.push(ok(format!("rule {rule} targets {}", functions.join(", "))));
            }
        }
        Err(e) => checks.push(not_ok(
            Verdict::Fail,
            format!(
                "the targets of rule {rule} cannot be read: {}",
                classify("events:ListTargetsByRule", e)
            ),
            "grant events:ListTargetsByRule",
        )),
    }
    checks
}

/// A person's report: one line a check.
pub fn report(checks: &[Check], colour: bool) -> String {
    let mut out = String::new();
    for check in checks {
        let (label, code) = match check.verdict {
            Verdict::Ok => ("ok  ", "32"),
            Verdict::Warn => ("warn", "33"),
            Verdict::Fail => ("fail", "31"),
        };
        let label = if colour {
            format!("\x1b[{code}m{label}\x1b[0m")
        } else {
            label.to_owned()
        };
        out.push_str(&format!("{label}  {}", check.what));
        if let Some(fix) = &check.fix {
            out.push_str(&format!(" → {fix}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_templates_queue_policy_lets_its_roles_send() {
        let policy = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"]},
             "Action": "sqs:SendMessage", "Resource": "q"},
            {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "q",
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]});
        assert!(allows_send(&policy, "arn:aws:iam::1:role/a"));
        assert!(!allows_send(&policy, "arn:aws:iam::1:role/c"));
        let check = policy_check(
            Some(&policy.to_string()),
            &["arn:aws:iam::1:role/c".to_owned()],
        );
        assert_eq!(check.verdict, Verdict::Fail);
        assert!(check.fix.unwrap().contains("PipelineExecutionRoleArns"));
        assert_eq!(policy_check(None, &[]).verdict, Verdict::Warn);
    }

    #[test]
    fn role_lists_are_read_in_either_form() {
        let roles = vec!["arn:a".to_owned(), "arn:b".to_owned()];
        assert_eq!(role_list("arn:a,arn:b"), roles);
        assert_eq!(role_list("['arn:a', 'arn:b']"), roles);
        assert!(role_list("").is_empty());
    }

    #[test]
    fn the_report_says_what_to_do_and_colours_only_when_asked() {
        let checks = [
            ok("queue q exists".into()),
            not_ok(Verdict::Fail, "rule r is DISABLED".into(), "enable it"),
        ];
        let plain = report(&checks, false);
        assert_eq!(
            plain,
            "ok    queue q exists\nfail  rule r is DISABLED → enable it\n"
        );
        assert!(report(&checks, true).contains("\x1b[31mfail\x1b[0m"));
    }
}
