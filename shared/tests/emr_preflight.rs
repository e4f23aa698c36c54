//! emr-preflight on the in-memory EMR and bus.

use std::sync::Arc;

use sagemaker_custom_steps::bus::InMemoryBus;
use sagemaker_custom_steps::emr::{ClusterState, InMemoryEmr, StepState};
use sagemaker_custom_steps::functions::emr_preflight;
use sagemaker_custom_steps::lambda_step::StepFunctions;
use serde_json::{json, Value};

const RULE: &str = "emr-step-status";

fn functions(emr: &Arc<InMemoryEmr>, bus: &Arc<InMemoryBus>) -> StepFunctions {
    StepFunctions::new(Some("emr-preflight".into())).with(emr_preflight(
        emr.clone(),
        bus.clone(),
        vec![RULE.into()],
    ))
}

fn setup() -> (Arc<InMemoryEmr>, Arc<InMemoryBus>) {
    let emr = Arc::new(InMemoryEmr::new());
    emr.add_cluster("j-1", ClusterState::Waiting, None);
    let bus = Arc::new(InMemoryBus::new());
    bus.set_rule(RULE, "ENABLED");
    (emr, bus)
}

async fn check(emr: &Arc<InMemoryEmr>, bus: &Arc<InMemoryBus>, inputs: Value) -> Value {
    functions(emr, bus).invoke(inputs).await.unwrap()
}

#[tokio::test]
async fn a_waiting_cluster_with_enabled_rules_is_ready() {
    let (emr, bus) = setup();
    emr.add_existing_step("j-1", "x", StepState::Pending);
    let out = check(&emr, &bus, json!({"cluster_id": "j-1"})).await;
    assert_eq!(
        out,
        json!({"Ready": true, "ClusterState": "WAITING", "PendingSteps": 1, "Reason": ""})
    );
}

#[tokio::test]
async fn each_reason_not_to_start_is_given() {
    let (emr, bus) = setup();
    emr.add_existing_step("j-1", "x", StepState::Pending);
    emr.add_existing_step("j-1", "y", StepState::Pending);
    let out = check(
        &emr,
        &bus,
        json!({"cluster_id": "j-1", "max_pending_steps": 2}),
    )
    .await;
    assert_eq!(out["Ready"], false);
    assert_eq!(
        out["Reason"],
        "cluster j-1 has 2 PENDING steps; the limit is 2"
    );

    emr.set_cluster_state("j-1", ClusterState::Terminating, None);
    bus.set_rule(RULE, "DISABLED");
    let out = check(&emr, &bus, json!({"cluster_id": "j-1"})).await;
    assert_eq!(out["ClusterState"], "TERMINATING");
    let reason = out["Reason"].as_str().unwrap();
    assert!(
        reason.contains("is TERMINATING") && reason.contains("rule emr-step-status is DISABLED"),
        "{reason}"
    );

    let out = check(
        &emr,
        &bus,
        json!({"cluster_id": "j-1", "check_rules": "false"}),
    )
    .await;
    assert!(!out["Reason"].as_str().unwrap().contains("rule"));

    let out = check(&emr, &bus, json!({"cluster_id": "j-NOPE"})).await;
    assert_eq!(out["ClusterState"], "UNKNOWN");
    assert_eq!(out["Ready"], false);
}

#[tokio::test]
async fn a_missing_rule_is_named() {
    let (emr, _) = setup();
    let bus = Arc::new(InMemoryBus::new());
    let out = check(&emr, &bus, json!({"cluster_id": "j-1"})).await;
    assert_eq!(
        out["Reason"],
        "EventBridge rule emr-step-status does not exist"
    );
}

#[tokio::test]
async fn a_missing_cluster_id_is_a_function_error_naming_it() {
    let (emr, bus) = setup();
    let err = functions(&emr, &bus).invoke(json!({})).await.unwrap_err();
    assert_eq!(err.to_string(), "input 'cluster_id' is required");
}
