//! ClientRequestToken: a request repeated with the same token is answered as the first
//! one was, without doing the work again (a retried StartPipelineExecution does not
//! start a second execution). The SDKs fill the token in when the caller does not.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use crate::aws_json::AwsError;

/// The answers given to requests that carried a ClientRequestToken.
#[derive(Debug, Default)]
pub struct Idempotency {
    answers: Mutex<HashMap<(String, String), (Value, Value)>>,
}

impl Idempotency {
    /// Runs `work` once per (operation, ClientRequestToken); a repeat with the same
    /// request gets the first answer, with another request a ValidationException, as
    /// the service answers a reused token. A request without a token always runs.
    pub async fn once<F, Fut>(
        &self,
        operation: &str,
        request: &Value,
        work: F,
    ) -> Result<Value, AwsError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Value, AwsError>>,
    {
        let Some(token) = request.get("ClientRequestToken").and_then(Value::as_str) else {
            return work().await;
        };
        let key = (operation.to_owned(), token.to_owned());
        if let Some((first_request, answer)) = self.answers.lock().unwrap().get(&key) {
            return if first_request == request {
                Ok(answer.clone())
            } else {
                Err(AwsError::validation(format!(
                    "ClientRequestToken {token} was already used by a different {operation} request"
                )))
            };
        }
        let answer = work().await?;
        self.answers
            .lock()
            .unwrap()
            .insert(key, (request.clone(), answer.clone()));
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_repeated_token_is_answered_without_running_again() {
        let idempotency = Idempotency::default();
        let runs = AtomicUsize::new(0);
        let work = || async {
            let n = runs.fetch_add(1, Ordering::SeqCst);
            Ok(json!({"Run": n}))
        };
        let request = json!({"PipelineName": "p", "ClientRequestToken": "t-1"});
        let first = idempotency.once("Start", &request, work).await.unwrap();
        let again = idempotency.once("Start", &request, work).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let other = json!({"PipelineName": "q", "ClientRequestToken": "t-1"});
        assert!(idempotency.once("Start", &other, work).await.is_err());
        idempotency
            .once("Start", &json!({"PipelineName": "p"}), work)
            .await
            .unwrap();
        idempotency
            .once("Start", &json!({"PipelineName": "p"}), work)
            .await
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3, "no token, no deduplication");
    }
}
