//! The floor of a Rust Lambda cold start: a `lambda_runtime` handler that answers every
//! SQS batch with no failures and builds nothing first (no SDK configuration, clients,
//! TLS or settings). The bench starts it as it starts callback-queue, so the difference
//! between the two is what callback-queue does before its first event.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<Value, Error>(json!({"batchItemFailures": []}))
    }))
    .await
}
