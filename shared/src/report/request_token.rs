use sha2::{Digest, Sha256};

use crate::callback::CallbackToken;
use crate::outcome::StepOutcome;

/// The ClientRequestToken for a report: the same callback token and outcome always give
/// the same value, so a report retried after a lost answer is idempotent on the service
/// side, while a different outcome for the same step is a different request.
pub fn client_request_token(token: &CallbackToken, outcome: &StepOutcome) -> String {
    let mut hash = Sha256::new();
    hash.update(token.as_str());
    hash.update([0]);
    hash.update(outcome.kind());
    match outcome {
        StepOutcome::Succeeded(outputs) => {
            for (name, value) in outputs.iter() {
                hash.update([0]);
                hash.update(name);
                hash.update([0]);
                hash.update(value);
            }
        }
        StepOutcome::Failed(reason) => {
            hash.update([0]);
            hash.update(reason.as_str());
        }
    }
    hash.finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::OutputParameters;

    #[test]
    fn same_report_same_token_other_report_other_token() {
        let token = CallbackToken::parse("26vcYbeWsZ").unwrap();
        let other = CallbackToken::parse("26vcYbeWsY").unwrap();
        let mut outputs = OutputParameters::new();
        outputs.push("a", "1").unwrap();
        let success = StepOutcome::Succeeded(outputs);
        let failure = StepOutcome::failed("boom");

        let first = client_request_token(&token, &success);
        assert_eq!(first, client_request_token(&token, &success));
        assert_eq!(first.len(), 64);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(first, client_request_token(&token, &failure));
        assert_ne!(first, client_request_token(&other, &success));
    }
}
