//! Any EventBridge event: reading it as an EMR status event never panics.
#![no_main]

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use libfuzzer_sys::fuzz_target;
use sagemaker_custom_steps::emr::token_in_name;
use sagemaker_custom_steps::emr_status::EmrEvent;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<CloudWatchEvent<serde_json::Value>>(data) {
        if let Ok(EmrEvent::StepStatusChange(detail)) = EmrEvent::from_eventbridge(event) {
            let _ = token_in_name(&detail.name);
        }
    }
    if let Ok(name) = std::str::from_utf8(data) {
        let _ = token_in_name(name);
    }
});
