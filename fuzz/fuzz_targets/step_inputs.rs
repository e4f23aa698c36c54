//! Any Lambda-step event: the inputs and their typed getters never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sagemaker_custom_steps::lambda_step::StepInputs;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(inputs) = StepInputs::from_event(event) {
        let fields = inputs.fields();
        let _ = fields.required_str("cluster_id");
        let _ = fields.u32_or("max_pending_steps", 256);
        let _ = fields.bool_or("check_rules", true);
        let _ = fields.json::<Vec<String>>("args", "a JSON array of strings");
    }
});
