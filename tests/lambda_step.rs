//! lambda-step under the emulator's Lambda Runtime API, fed the events/ files.

use integration_tests::fixture;
use pipelines_emulator::Emulator;
use pipelines_emulator::InvokeError;
use serde_json::json;

async fn stack() -> Emulator {
    let mut stack = Emulator::start().await.expect("emulator");
    stack
        .add_function("lambda-step", "lambda-step", &[])
        .await
        .expect("lambda-step function");
    stack
}

#[tokio::test]
async fn flatten_json_answers_flat_outputs() {
    let stack = stack().await;
    let outputs = stack
        .function("lambda-step")
        .unwrap()
        .invoke(&fixture("lambda-step-flatten-json.json"))
        .await
        .unwrap();
    assert_eq!(
        outputs,
        json!({"eval_metrics_auc": 0.91, "eval_metrics_passed": true, "eval_model": "xgb"})
    );
}

#[tokio::test]
async fn unknown_or_missing_function_is_a_function_error_naming_the_functions() {
    let stack = stack().await;
    let function = stack.function("lambda-step").unwrap();
    for (inputs, expected) in [
        (json!({"function": "nope"}), "unknown function 'nope'; functions: flatten-json, emr-preflight"),
        (
            json!({"json": "{}"}),
            "input 'function' is required (no LAMBDA_STEP_FUNCTION is set); functions: flatten-json, emr-preflight",
        ),
    ] {
        match function.invoke(&inputs).await {
            Err(InvokeError::Function { error_type, message }) => {
                assert_eq!(error_type, "InvalidInput");
                assert_eq!(message, expected);
            }
            other => panic!("{inputs}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_invalid_input_names_the_input() {
    let stack = stack().await;
    let answer = stack
        .function("lambda-step")
        .unwrap()
        .invoke(&json!({"function": "flatten-json", "json": "{oops"}))
        .await;
    match answer {
        Err(InvokeError::Function { message, .. }) => {
            assert!(
                message.starts_with("input 'json' must be a JSON document"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
}
