//! `score`: a Lambda-step function. Inputs `model` (required) and `threshold` (default
//! 50); outputs `Score` and `Passed`.

use sagemaker_custom_steps::lambda_step::{StepFunction, StepInputs, StepOutputs};

/// The function, for [`sagemaker_custom_steps::lambda_step::StepFunctions::with`].
pub fn score() -> StepFunction {
    StepFunction::new("score", |inputs: StepInputs| async move {
        let fields = inputs.fields();
        let model = fields.required_str("model")?; // errors name the input
        let threshold = fields.u32_or("threshold", 50)?;
        // Stands in for your scoring: a number from the model's name.
        let score = model.bytes().map(u32::from).sum::<u32>() % 100;
        Ok(StepOutputs::new()
            .with("Score", score)
            .with("Passed", score >= threshold))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sagemaker_custom_steps::lambda_step::StepFunctions;
    use serde_json::json;

    #[tokio::test]
    async fn scores_a_model_and_names_a_bad_input() {
        let functions = StepFunctions::new(Some("score".into())).with(score());
        let out = functions
            .invoke(json!({"model": "xgb", "threshold": 10}))
            .await
            .unwrap();
        let expected = "xgb".bytes().map(u32::from).sum::<u32>() % 100;
        assert_eq!(out["Score"], json!(expected));
        assert_eq!(out["Passed"], json!(true));
        let err = functions
            .invoke(json!({"threshold": 10}))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("model"), "{err}");
    }
}
