use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::pipeline::definition::Definition;

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

fn reads(name: &str, path: &str) -> Value {
    lambda(name, json!({"Arguments": {"x": {"Get": path}}}))
}

fn condition(name: &str, conditions: Value, if_steps: Value) -> Value {
    json!({"Name": name, "Type": "Condition", "Arguments": {
        "Conditions": conditions, "IfSteps": if_steps, "ElseSteps": []}})
}

fn equals() -> Value {
    json!([{"Type": "Equals", "LeftValue": 1, "RightValue": 1}])
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
fn steps_of_one_branch_may_read_each_other() {
    let d = definition(json!([condition(
        "gate",
        equals(),
        json!([
            lambda("first", json!({})),
            reads("second", "Steps.first.OutputParameters['Ready']")
        ])
    )]))
    .unwrap();
    assert_eq!(
        d.step("second").unwrap().prerequisites(),
        BTreeSet::from(["first".to_owned(), "gate".to_owned()])
    );
    assert!(d.step("gate").unwrap().prerequisites().is_empty());
}

#[test]
fn every_property_reference_is_a_dependency() {
    let d = definition(json!([
        {"Name": "emr", "Type": "EMR", "Arguments": {"ClusterId": "j-1", "StepConfig": {}}},
        condition("gate", equals(), json!([])),
        lambda("read", json!({"Arguments": {"a": {"Get": "Steps.emr.Status.State"},
            "b": {"Std:Join": {"On": "", "Values": [{"Get": "Steps.gate.Outcome"}]}}}})),
        {"Name": "fail", "Type": "Fail", "Arguments": {"ErrorMessage": {"Get": "Steps.emr.Id"}}}
    ]))
    .unwrap();
    assert_eq!(
        d.step("read").unwrap().prerequisites(),
        BTreeSet::from(["emr".to_owned(), "gate".to_owned()])
    );
    assert_eq!(
        d.step("fail").unwrap().prerequisites(),
        BTreeSet::from(["emr".to_owned()])
    );
}

#[test]
fn every_bad_definition_is_named() {
    let cases = [
        (
            json!([{"Name": "p", "Arguments": {}}]),
            "step 'p' has no Type",
        ),
        (
            json!([{"Name": "t", "Type": "Training", "Arguments": {}}, reads("r", "Steps.t.ModelArtifacts.S3Uri")]),
            "step 'r' reads 'ModelArtifacts.S3Uri' of Training step 't', which is not a property of a Training step (it has the members of DescribeTrainingJob's answer:",
        ),
        (
            json!([{"Name": "p", "Type": "Processing", "Arguments": {}}, reads("r", "Steps.p.PropertyFiles.Report")]),
            "step 'r' reads property file 'Report' of step 'p', which declares no property file by that name",
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
            json!([reads("a", "Parameters.Nope")]),
            "step 'a' uses parameter 'Nope', which the pipeline does not declare",
        ),
        (
            json!([lambda("a", json!({})), reads("b", "Steps.a.OutputParameters['Other']")]),
            "uses output 'Other' of step 'a', which declares no output by that name",
        ),
        (
            json!([{"Name": "c", "Type": "Condition", "Arguments": {"Conditions": [], "IfSteps": [lambda("x", json!({}))], "ElseSteps": [lambda("x", json!({}))]}}]),
            "step 'x' is in both IfSteps and ElseSteps of condition 'c'",
        ),
        (
            json!([{"Name": "f", "Type": "Fail", "Arguments": {}}, lambda("a", json!({"DependsOn": ["f"]}))]),
            "a can not depends on f: a Fail step cannot be depended upon",
        ),
        (
            json!([lambda("a", json!({})), lambda("a", json!({}))]),
            "step 'a' is defined twice",
        ),
        (
            json!([condition("outer", equals(), json!([condition("inner", equals(), json!([]))]))]),
            "Condition step 'inner' is inside a branch of Condition step 'outer'; nested Condition steps are not supported",
        ),
        (
            json!([reads("a", "Pipeline.Name")]),
            "step 'a': 'Pipeline.Name' is not a reference SageMaker resolves",
        ),
        (
            json!([reads("a", "Execution.Tomorrow")]),
            "'Execution.Tomorrow' is not an execution variable",
        ),
        (
            json!([condition("c", json!([{"Type": "Between", "LeftValue": 1, "RightValue": 2}]), json!([]))]),
            "Condition step 'c': condition type 'Between' is not one SageMaker knows",
        ),
        (
            json!([condition("c", json!([{"Type": "Not", "Expression": {"Type": "Equals", "LeftValue": 1, "RightValue": 1}}]), json!([]))]),
            "unknown property 'Expression'",
        ),
        (
            json!([lambda("a", json!({})), reads("b", "Steps.a.Status")]),
            "step 'b' reads 'Status' of Lambda step 'a', which is not a property of a Lambda step",
        ),
        (
            json!([condition("c", equals(), json!([])), reads("b", "Steps.c.Result")]),
            "reads 'Result' of Condition step 'c'",
        ),
        (
            json!([lambda("a", json!({"Arguments": {"x": {"Std:Split": {}}}}))]),
            "'Std:Split' is not a function SageMaker knows",
        ),
        (
            json!([lambda("a", json!({"Arguments": {"x": {"Std:JsonGet": {"Path": "a"}}}}))]),
            "Std:JsonGet takes exactly one of PropertyFile and S3Uri",
        ),
        (
            json!([reads("a", "PipelineExperimentConfig.ExperimentName")]),
            "the definition has no PipelineExperimentConfig",
        ),
        (
            json!([{"Name": "e", "Type": "EMR", "Arguments": {}, "RetryPolicies": [{"ExceptionType": ["Step.THROTTLING"]}]}]),
            "exactly one of MaxAttempts and ExpireAfterMin",
        ),
        (
            json!([{"Name": "e", "Type": "EMR", "Arguments": {}, "CacheConfig": {"Enabled": true, "ExpireAfter": "1 hour"}}]),
            "step 'e': CacheConfig ExpireAfter '1 hour' is not an ISO 8601 duration",
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
fn job_steps_expose_their_describe_answer_and_property_files() {
    let d = definition(json!([
        {"Name": "p", "Type": "Processing", "Arguments": {},
         "PropertyFiles": [{"PropertyFileName": "Report", "OutputName": "evaluation", "FilePath": "evaluation.json"}]},
        {"Name": "t", "Type": "Training", "Arguments": {}},
        {"Name": "n", "Type": "SomethingNewer", "Arguments": {}},
        lambda("r", json!({"Arguments": {
            "a": {"Get": "Steps.t.ModelArtifacts.S3ModelArtifacts"},
            "b": {"Get": "Steps.p.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"},
            "c": {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.p.PropertyFiles.Report"}, "Path": "a.b"}},
            "d": {"Get": "Steps.n.Anything.At.All"}}}))
    ]))
    .unwrap();
    assert_eq!(
        d.step("r").unwrap().prerequisites(),
        BTreeSet::from(["p".to_owned(), "t".to_owned(), "n".to_owned()])
    );
}

#[test]
fn an_enum_default_outside_its_values_is_refused() {
    let text = |default: &str| {
        json!({"Version": "2020-12-01", "Steps": [],
            "Parameters": [{"Name": "Env", "Type": "String", "DefaultValue": default, "EnumValues": ["dev", "prod"]}]})
        .to_string()
    };
    assert!(Definition::parse(&text("dev")).is_ok());
    let err = Definition::parse(&text("staging")).unwrap_err();
    assert!(
        err.contains("parameter 'Env': DefaultValue \"staging\" is not one of its EnumValues"),
        "{err}"
    );
}

#[test]
fn a_cycle_through_data_dependencies_is_shown() {
    let err = definition(json!([
        reads("a", "Steps.b.OutputParameters['Ready']"),
        reads("b", "Steps.a.OutputParameters['Ready']")
    ]))
    .unwrap_err();
    assert_eq!(err, "the steps a → b → a form a cycle");
}

#[test]
fn retry_and_cache_settings_are_read() {
    let d = definition(json!([{"Name": "e", "Type": "EMR", "Arguments": {}, "DisplayName": "Prepare",
        "Description": "prepares", "CacheConfig": {"Enabled": true, "ExpireAfter": "PT1H"},
        "RetryPolicies": [{"ExceptionType": ["Step.THROTTLING"], "IntervalSeconds": 2, "BackoffRate": 1.5, "MaxAttempts": 3}]}]))
    .unwrap();
    let step = d.step("e").unwrap();
    assert_eq!(step.display_name.as_deref(), Some("Prepare"));
    assert_eq!(step.description.as_deref(), Some("prepares"));
    let cache = step.cache.as_ref().unwrap();
    assert!(cache.enabled);
    assert_eq!(
        cache.expire_after,
        Some(std::time::Duration::from_secs(3600))
    );
    let retry = &step.retry_policies[0];
    assert_eq!(retry.exception_types, ["Step.THROTTLING"]);
    assert_eq!(retry.max_attempts, Some(3));
    assert_eq!(retry.interval, std::time::Duration::from_secs(2));
    assert_eq!(retry.backoff_rate, 1.5);
}

#[test]
fn a_step_member_the_stack_does_not_read_is_refused() {
    let err = definition(
        json!([{"Name": "l", "Type": "Lambda", "FunctionArn": "arn:f", "Arguments": {},
        "Retries": 3}]),
    )
    .unwrap_err();
    assert!(
        err.contains("Lambda step 'l' has a member 'Retries' that the emulator does not support"),
        "{err}"
    );
    let err =
        definition(json!([{"Name": "p", "Type": "Processing", "Arguments": {}, "Colour": "red"}]))
            .unwrap_err();
    assert!(err.contains("member 'Colour'"), "{err}");
    definition(
        json!([{"Name": "c", "Type": "QualityCheck", "Arguments": {}, "SkipCheck": true,
        "CheckType": "DATA_QUALITY"}]),
    )
    .unwrap();
    definition(json!([{"Name": "n", "Type": "Lineage2", "Arguments": {}, "Anything": 1}])).unwrap();
}

fn for_each(name: &str, arguments: Value) -> Value {
    let mut all = json!({"IterableItems": ["a", "b"], "MaxConcurrency": 2,
        "ForEachBody": [reads("Echo", "ForEach.CurrentItem")]});
    for (k, v) in arguments.as_object().unwrap() {
        all[k] = v.clone();
    }
    json!({"Name": name, "Type": "ForEach", "Arguments": all})
}

#[test]
fn foreach_bodies_are_held_to_sagemakers_rules_at_create() {
    definition(json!([for_each("Fan", json!({}))])).unwrap();
    let refused = |steps: Value| definition(steps).unwrap_err();
    for (steps, says) in [
        (
            json!([for_each("Fan", json!({"MaxConcurrency": 51}))]),
            "MaxConcurrency is an integer from 1 to 50",
        ),
        (
            json!([for_each("Fan", json!({"IterableItems": []}))]),
            "between 1 and 100 items",
        ),
        (
            json!([for_each(
                "Fan",
                json!({"ForEachBody": [{"Name": "F", "Type": "Fail", "Arguments": {}}]})
            )]),
            "step type 'Fail' of 'F' is not allowed in ForEachBody",
        ),
        (
            json!([for_each("Fan", json!({})), lambda("Echo-1", json!({}))]),
            "'Echo-1' is named as a child of ForEach body step 'Echo'",
        ),
        (
            json!([for_each("Fan", json!({})), for_each("Fan2", json!({}))]),
            "body step name 'Echo' is used more than once",
        ),
        (
            json!([reads("Alone", "ForEach.CurrentItem.name")]),
            "only the body steps of a ForEach step read",
        ),
        (
            json!([for_each(
                "Fan",
                json!({"Selector": {"Pick": "MaxBy", "Field": {"Get": "IterationOutput.Other.OutputParameters['Ready']"}}})
            )]),
            "Selector.Field is an IterationOutput reference to a body step",
        ),
        (
            json!([
                for_each("Fan", json!({})),
                reads("After", "Steps.Fan.Selected.OutputParameters['Ready']")
            ]),
            "which is not a property of a ForEach step",
        ),
        (
            json!([for_each("Fan", json!({"Extra": 1}))]),
            "argument 'Extra'",
        ),
    ] {
        let err = refused(steps);
        assert!(err.contains(says), "{err}");
    }
    definition(json!([
        for_each("Fan", json!({})),
        reads(
            "After",
            "Steps.Fan.IterationOutputs[0].Echo.OutputParameters['Ready']"
        ),
        reads("Count", "Steps.Fan.SucceededStepCount")
    ]))
    .unwrap();
}

#[test]
fn a_run_condition_in_depends_on_is_refused_by_name() {
    let err = definition(json!([
        lambda("A", json!({})),
        lambda(
            "B",
            json!({"DependsOn": [{"Step": "A", "Trigger": "Failed"}]})
        )
    ]))
    .unwrap_err();
    assert!(
        err.contains("step 'B' depends on 'A' with Trigger \"Failed\" (a run condition)"),
        "{err}"
    );
}

#[test]
fn a_cleanup_names_upstream_steps_whose_outputs_it_can_find() {
    let cleanup = |source: Value, depends: Value| {
        json!({"Name": "Clean", "Type": "Cleanup", "DependsOn": depends,
            "Arguments": {"Resources": {"S3": [source]}}})
    };
    let train = json!({"Name": "Train", "Type": "Training", "Arguments": {}});
    let prep = json!({"Name": "Prep", "Type": "Processing", "Arguments": {}});
    definition(json!([
        train,
        cleanup(json!({"StepName": "Train"}), json!(["Train"]))
    ]))
    .unwrap();
    for (steps, says) in [
        (json!([lambda("L", json!({})), cleanup(json!({"StepName": "L"}), json!(["L"]))]),
            "cleans up Lambda step 'L'; the emulator deletes the S3 outputs of Training, Processing, Transform steps"),
        (json!([prep, cleanup(json!({"StepName": "Prep"}), json!(["Prep"]))]), "'Prep' has none"),
        (json!([train, cleanup(json!({"StepName": "Train"}), json!([]))]), "without depending on it"),
        (json!([cleanup(json!({"StepName": "Gone"}), json!([]))]), "'Gone', which is not a step"),
    ] {
        let err = definition(steps).unwrap_err();
        assert!(err.contains(says), "{err}");
    }
}
