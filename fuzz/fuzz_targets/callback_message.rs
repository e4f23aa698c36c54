//! Any SQS body: parsing never panics, and what it says about a body holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sagemaker_custom_steps::callback::{CallbackMessage, MessageError};
use sagemaker_custom_steps::outcome::{FailureReason, MAX_REASON_CHARS};

fuzz_target!(|body: &str| {
    match CallbackMessage::parse(body) {
        Ok(message) => assert_eq!(message.token.as_str().len(), 10),
        Err(MessageError::Invalid { token, reason, .. }) => {
            assert_eq!(token.as_str().len(), 10);
            let reason = FailureReason::new(reason);
            assert!(reason.as_str().chars().count() <= MAX_REASON_CHARS);
        }
        Err(MessageError::Unreportable(_)) => {}
    }
});
