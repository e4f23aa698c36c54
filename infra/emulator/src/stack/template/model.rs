use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use serde_norway::{Mapping, Value as Yaml};

use super::intrinsics::{resolve, Scope};

/// A function of the template.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionDef {
    pub logical_id: String,
    /// The workspace binary (Metadata.BuildProperties.Binary).
    pub binary: String,
    pub timeout: Duration,
    pub memory_mb: u32,
    /// Invocations one process serves at once: `CapacityProviderConfig`'s
    /// `PerExecutionEnvironmentMaxConcurrency` on Lambda Managed Instances, else 1.
    pub max_concurrency: u32,
    pub environment: BTreeMap<String, String>,
    pub events: Vec<EventSource>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EventSource {
    Sqs {
        queue: String,
        batch_size: u32,
        batching_window: Duration,
        report_batch_item_failures: bool,
    },
    Rule {
        name: String,
        pattern: Value,
    },
    Schedule {
        name: String,
        every: Duration,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct QueueDef {
    pub logical_id: String,
    pub visibility_timeout: Duration,
    /// The dead-letter queue and maxReceiveCount of the redrive policy.
    pub redrive: Option<(String, u32)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub functions: Vec<FunctionDef>,
    pub queues: Vec<QueueDef>,
    /// `AWS::SQS::QueuePolicy` resources: the queue (logical id) and the policy document.
    pub queue_policies: Vec<(String, Value)>,
}

/// The Lambda Managed Instances default of `PerExecutionEnvironmentMaxConcurrency`
/// for an OS-only runtime is not documented; the runtimes that document one start at
/// 16 per vCPU, and an execution environment here has one.
const MANAGED_INSTANCES_DEFAULT_CONCURRENCY: u32 = 16;

/// Concurrency per process of a function with this `CapacityProviderConfig`.
fn max_concurrency(config: Option<Value>) -> Result<u32, String> {
    let Some(config) = config.filter(|c| !c.is_null()) else {
        return Ok(1);
    };
    if config.get("Arn").is_none() {
        return Err("CapacityProviderConfig names no Arn".to_owned());
    }
    match config.get("PerExecutionEnvironmentMaxConcurrency") {
        None => Ok(MANAGED_INSTANCES_DEFAULT_CONCURRENCY),
        Some(value) => match as_u64(value) {
            Some(n @ 1..=1600) => Ok(n as u32),
            _ => Err(format!(
                "PerExecutionEnvironmentMaxConcurrency {value} is not 1 to 1600"
            )),
        },
    }
}

fn get<'a>(map: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    map.as_mapping()?.get(key)
}

fn as_u64(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str()?.trim().parse().ok())
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `rate(5 minutes)` as a duration.
pub fn parse_rate(expression: &str) -> Result<Duration, String> {
    let inner = expression
        .strip_prefix("rate(")
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| format!("schedule '{expression}' is not a rate(...) expression; the emulator runs rate schedules only"))?;
    let (count, unit) = inner
        .trim()
        .split_once(' ')
        .ok_or_else(|| format!("bad rate '{expression}'"))?;
    let count: u64 = count
        .parse()
        .map_err(|_| format!("bad rate '{expression}'"))?;
    let seconds = match unit.trim_end_matches('s') {
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return Err(format!("bad rate unit in '{expression}'")),
    };
    Ok(Duration::from_secs(count * seconds))
}

impl Template {
    /// Reads the template; parameters take their defaults unless overridden.
    pub fn load(path: &Path, overrides: &BTreeMap<String, String>) -> Result<Self, String> {
        let text_in =
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text_in, overrides).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(source: &str, overrides: &BTreeMap<String, String>) -> Result<Self, String> {
        let doc: Yaml = serde_norway::from_str(source).map_err(|e| e.to_string())?;
        let empty = Mapping::new();
        let mapping = |key: &str| get(&doc, key).and_then(Yaml::as_mapping).unwrap_or(&empty);

        let mut parameters = BTreeMap::new();
        for (name, spec) in mapping("Parameters") {
            let name = name.as_str().ok_or("parameter name")?.to_owned();
            let raw = overrides
                .get(&name)
                .cloned()
                .or_else(|| get(spec, "Default").map(yaml_text))
                .unwrap_or_default();
            let list = get(spec, "Type")
                .and_then(Yaml::as_str)
                .is_some_and(|t| t.contains("List"));
            let value = if list {
                Value::Array(
                    raw.split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.trim().to_owned()))
                        .collect(),
                )
            } else {
                Value::String(raw)
            };
            parameters.insert(name, value);
        }
        let conditions: BTreeMap<String, Yaml> = mapping("Conditions")
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
            .collect();
        let resources: BTreeMap<String, String> = mapping("Resources")
            .iter()
            .filter_map(|(k, v)| {
                Some((k.as_str()?.to_owned(), get(v, "Type")?.as_str()?.to_owned()))
            })
            .collect();
        let scope = Scope {
            parameters: &parameters,
            conditions: &conditions,
            resources: &resources,
        };
        let eval = |value: &Yaml| resolve(value, &scope).map(|v| v.unwrap_or(Value::Null));
        let globals = get(&doc, "Globals")
            .and_then(|g| get(g, "Function"))
            .cloned()
            .unwrap_or(Yaml::Null);
        let globals = eval(&globals)?;

        let mut functions = Vec::new();
        let mut queues = Vec::new();
        let mut queue_policies = Vec::new();
        for (id, resource) in mapping("Resources") {
            let id = id.as_str().ok_or("resource name")?.to_owned();
            let properties = eval(get(resource, "Properties").unwrap_or(&Yaml::Null))?;
            match get(resource, "Type").and_then(Yaml::as_str) {
                Some("AWS::Serverless::Function") => {
                    let metadata = eval(get(resource, "Metadata").unwrap_or(&Yaml::Null))?;
                    let setting =
                        |key: &str| properties.get(key).or_else(|| globals.get(key)).cloned();
                    let mut environment = BTreeMap::new();
                    for source in [&globals, &properties] {
                        if let Some(Value::Object(vars)) = source.pointer("/Environment/Variables")
                        {
                            environment.extend(vars.iter().map(|(k, v)| (k.clone(), text(v))));
                        }
                    }
                    // Lambda gives a function its LoggingConfig's level, as the
                    // runtime's subscriber reads it.
                    if let Some(level) = setting("LoggingConfig")
                        .and_then(|c| c.get("ApplicationLogLevel").map(text))
                    {
                        environment.insert("AWS_LAMBDA_LOG_LEVEL".to_owned(), level);
                    }
                    let events = match properties.get("Events") {
                        Some(Value::Object(events)) => events
                            .iter()
                            .map(|(name, event)| event_source(name, event))
                            .collect::<Result<Vec<_>, _>>()?,
                        _ => Vec::new(),
                    };
                    functions.push(FunctionDef {
                        binary: metadata
                            .pointer("/BuildProperties/Binary")
                            .and_then(Value::as_str)
                            .ok_or_else(|| {
                                format!("function {id} names no Metadata.BuildProperties.Binary")
                            })?
                            .to_owned(),
                        timeout: Duration::from_secs(
                            setting("Timeout").as_ref().and_then(as_u64).unwrap_or(3),
                        ),
                        memory_mb: setting("MemorySize")
                            .as_ref()
                            .and_then(as_u64)
                            .unwrap_or(128) as u32,
                        max_concurrency: max_concurrency(setting("CapacityProviderConfig"))
                            .map_err(|problem| format!("function {id}: {problem}"))?,
                        environment,
                        events,
                        logical_id: id,
                    });
                }
                Some("AWS::SQS::Queue") => {
                    let redrive = match properties.get("RedrivePolicy") {
                        Some(policy) => {
                            let arn = policy["deadLetterTargetArn"].as_str().unwrap_or_default();
                            let dlq = arn.rsplit(':').next().unwrap_or_default().to_owned();
                            let count = as_u64(&policy["maxReceiveCount"]).unwrap_or(1) as u32;
                            Some((dlq, count))
                        }
                        None => None,
                    };
                    queues.push(QueueDef {
                        visibility_timeout: Duration::from_secs(
                            properties
                                .get("VisibilityTimeout")
                                .and_then(as_u64)
                                .unwrap_or(30),
                        ),
                        redrive,
                        logical_id: id,
                    });
                }
                Some("AWS::SQS::QueuePolicy") => {
                    // A Ref to a queue is its URL, whose last segment is the logical id.
                    for queue in properties["Queues"].as_array().into_iter().flatten() {
                        let url = queue.as_str().unwrap_or_default();
                        let logical_id = url.rsplit('/').next().unwrap_or_default().to_owned();
                        queue_policies.push((logical_id, properties["PolicyDocument"].clone()));
                    }
                }
                _ => {}
            }
        }
        Ok(Self {
            functions,
            queues,
            queue_policies,
        })
    }

    pub fn function(&self, logical_id: &str) -> Option<&FunctionDef> {
        self.functions.iter().find(|f| f.logical_id == logical_id)
    }

    pub fn queue(&self, logical_id: &str) -> Option<&QueueDef> {
        self.queues.iter().find(|q| q.logical_id == logical_id)
    }

    /// The function a FunctionArn names: its logical id, or the name CloudFormation
    /// gives it in a deployed stack (`<stack>-<LogicalId>-<suffix>`).
    pub fn function_for_arn(&self, arn: &str) -> Option<&FunctionDef> {
        let name = arn
            .split(":function:")
            .nth(1)
            .unwrap_or(arn)
            .split(':')
            .next()
            .unwrap_or_default();
        self.functions
            .iter()
            .find(|f| names_resource(name, &f.logical_id))
    }

    /// The queue an SqsQueueUrl names, by its last segment, likewise.
    pub fn queue_for_url(&self, url: &str) -> Option<&QueueDef> {
        let name = url
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default();
        self.queues
            .iter()
            .find(|q| names_resource(name, &q.logical_id))
    }
}

fn names_resource(name: &str, logical_id: &str) -> bool {
    name == logical_id
        || name.contains(&format!("-{logical_id}-"))
        || name.ends_with(&format!("-{logical_id}"))
}

fn yaml_text(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn event_source(name: &str, event: &Value) -> Result<EventSource, String> {
    let properties = &event["Properties"];
    match event["Type"].as_str() {
        Some("SQS") => Ok(EventSource::Sqs {
            queue: properties["Queue"]
                .as_str()
                .and_then(|arn| arn.rsplit(':').next())
                .ok_or_else(|| format!("event {name} names no queue"))?
                .to_owned(),
            batch_size: as_u64(&properties["BatchSize"]).unwrap_or(10) as u32,
            batching_window: Duration::from_secs(
                as_u64(&properties["MaximumBatchingWindowInSeconds"]).unwrap_or(0),
            ),
            report_batch_item_failures: properties["FunctionResponseTypes"]
                .as_array()
                .is_some_and(|t| t.iter().any(|v| v == "ReportBatchItemFailures")),
        }),
        Some("EventBridgeRule") | Some("CloudWatchEvent") => Ok(EventSource::Rule {
            name: properties["RuleName"].as_str().unwrap_or(name).to_owned(),
            pattern: properties["Pattern"].clone(),
        }),
        Some("Schedule") | Some("ScheduleV2") => Ok(EventSource::Schedule {
            name: properties["Name"].as_str().unwrap_or(name).to_owned(),
            every: parse_rate(
                properties["Schedule"]
                    .as_str()
                    .or(properties["ScheduleExpression"].as_str())
                    .unwrap_or(""),
            )?,
        }),
        other => Err(format!(
            "event {name} of type {other:?} is not supported by the emulator"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Template {
        let path = crate::paths::workspace_root().join("infra/template.yaml");
        Template::load(&path, &BTreeMap::new()).unwrap()
    }

    #[test]
    fn reads_the_functions_their_settings_and_event_sources() {
        let t = template();
        let callback = t.function("CallbackQueueFunction").unwrap();
        assert_eq!(callback.binary, "callback-queue");
        assert_eq!(callback.timeout, Duration::from_secs(60));
        assert_eq!(callback.memory_mb, 256);
        assert_eq!(callback.environment["EVENT_BUS_NAME"], "default");
        assert_eq!(callback.environment["EMR_ALLOW_CREATE_CLUSTERS"], "false");
        assert_eq!(callback.environment["AWS_LAMBDA_LOG_LEVEL"], "INFO");
        assert_eq!(
            callback.events,
            [EventSource::Sqs {
                queue: "CallbackQueue".into(),
                batch_size: 10,
                batching_window: Duration::ZERO,
                report_batch_item_failures: true
            }]
        );
        let emr_events = t.function("EmrEventsFunction").unwrap();
        assert!(emr_events.events.contains(&EventSource::Schedule {
            name: "local-emr-reconcile".into(),
            every: Duration::from_secs(300)
        }));
        let rule = emr_events
            .events
            .iter()
            .find_map(|e| match e {
                EventSource::Rule { name, pattern } if name == "local-emr-step-status" => {
                    Some(pattern)
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(rule["detail-type"][0], "EMR Step Status Change");
        let preflight = t.function("LambdaStepFunction").unwrap();
        assert_eq!(
            preflight.environment["EMR_EVENT_RULES"],
            "local-emr-step-status,local-emr-cluster-state"
        );
    }

    #[test]
    fn functions_run_one_invocation_at_a_time_unless_on_managed_instances() {
        assert!(template().functions.iter().all(|f| f.max_concurrency == 1));
        let path = crate::paths::workspace_root().join("infra/template.yaml");
        let on_managed_instances = BTreeMap::from([
            (
                "CapacityProviderArn".to_owned(),
                "arn:aws:lambda:us-east-1:123456789012:capacity-provider:steps".to_owned(),
            ),
            (
                "PerExecutionEnvironmentMaxConcurrency".to_owned(),
                "8".to_owned(),
            ),
        ]);
        let t = Template::load(&path, &on_managed_instances).unwrap();
        for function in &t.functions {
            assert_eq!(function.max_concurrency, 8, "{}", function.logical_id);
            assert_eq!(function.memory_mb, 2048, "{}", function.logical_id);
        }
    }

    #[test]
    fn a_capacity_provider_config_is_read_or_refused_by_name() {
        assert_eq!(max_concurrency(None), Ok(1));
        let arn = "arn:aws:lambda:us-east-1:123456789012:capacity-provider:steps";
        assert_eq!(
            max_concurrency(Some(serde_json::json!({"Arn": arn}))),
            Ok(MANAGED_INSTANCES_DEFAULT_CONCURRENCY)
        );
        let zero = max_concurrency(Some(
            serde_json::json!({"Arn": arn, "PerExecutionEnvironmentMaxConcurrency": 0}),
        ))
        .unwrap_err();
        assert!(
            zero.contains("PerExecutionEnvironmentMaxConcurrency"),
            "{zero}"
        );
        let no_arn = max_concurrency(Some(serde_json::json!({}))).unwrap_err();
        assert!(no_arn.contains("Arn"), "{no_arn}");
    }

    #[test]
    fn reads_the_queue_and_its_redrive() {
        let t = template();
        let queue = t.queue("CallbackQueue").unwrap();
        assert_eq!(queue.visibility_timeout, Duration::from_secs(360));
        assert_eq!(queue.redrive, Some(("CallbackDeadLetterQueue".into(), 5)));
    }

    #[test]
    fn parameters_can_be_overridden() {
        let path = crate::paths::workspace_root().join("infra/template.yaml");
        let overrides = BTreeMap::from([("EmrAllowCreateClusters".to_owned(), "true".to_owned())]);
        let t = Template::load(&path, &overrides).unwrap();
        assert_eq!(
            t.function("CallbackQueueFunction").unwrap().environment["EMR_ALLOW_CREATE_CLUSTERS"],
            "true"
        );
    }

    #[test]
    fn resources_are_matched_by_name_as_deployed_or_declared() {
        let t = template();
        assert_eq!(
            t.queue_for_url(
                "https://sqs.us-east-1.amazonaws.com/123456789012/prod-CallbackQueue-AbC123"
            )
            .unwrap()
            .logical_id,
            "CallbackQueue"
        );
        assert_eq!(
            t.function_for_arn("arn:aws:lambda:us-east-1:123456789012:function:LambdaStepFunction")
                .unwrap()
                .logical_id,
            "LambdaStepFunction"
        );
        assert!(t
            .function_for_arn("arn:aws:lambda:us-east-1:1:function:other")
            .is_none());
        assert!(t
            .queue_for_url("https://sqs/1/CallbackDeadLetterQueueX")
            .is_none());
    }

    #[test]
    fn rates_are_read() {
        assert_eq!(
            parse_rate("rate(5 minutes)").unwrap(),
            Duration::from_secs(300)
        );
        assert_eq!(
            parse_rate("rate(1 hour)").unwrap(),
            Duration::from_secs(3600)
        );
        assert!(parse_rate("cron(0 12 * * ? *)").is_err());
    }
}
