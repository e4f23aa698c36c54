use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;
use tracing::info;

use super::{StepError, StepInputs, StepOutputs};

type BoxedCall = Arc<
    dyn Fn(StepInputs) -> Pin<Box<dyn Future<Output = Result<StepOutputs, StepError>> + Send>>
        + Send
        + Sync,
>;

/// One Lambda-step function: a name and a typed fn from inputs to outputs.
///
/// ```
/// use sagemaker_custom_steps::lambda_step::{StepError, StepFunction, StepFunctions, StepInputs, StepOutputs};
/// use serde_json::json;
///
/// async fn greet(inputs: StepInputs) -> Result<StepOutputs, StepError> {
///     let name = inputs.fields().required_str("name")?;
///     Ok(StepOutputs::new().with("Greeting", format!("hello, {name}")))
/// }
///
/// # block_on(async {
/// let functions = StepFunctions::new(None).with(StepFunction::new("greet", greet));
/// // What the Lambda step sends: its inputs, `function` choosing among the functions.
/// let answer = functions.invoke(json!({"function": "greet", "name": "abalone"})).await;
/// assert_eq!(answer.unwrap(), json!({"Greeting": "hello, abalone"}));
/// // A missing input fails the step with a message that names it.
/// let missing = functions.invoke(json!({"function": "greet"})).await.unwrap_err();
/// assert!(missing.to_string().contains("name"), "{missing}");
/// # });
/// # fn block_on(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone)]
pub struct StepFunction {
    name: &'static str,
    call: BoxedCall,
}

impl StepFunction {
    /// A function named `name` (the `function` input that selects it) calling `call`.
    pub fn new<F, Fut>(name: &'static str, call: F) -> Self
    where
        F: Fn(StepInputs) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<StepOutputs, StepError>> + Send + 'static,
    {
        Self {
            name,
            call: Arc::new(move |inputs| Box::pin(call(inputs))),
        }
    }

    /// The name that selects it.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The functions one lambda-step binary serves, chosen per invocation by the
/// `function` input, else by the configured default.
#[derive(Clone, Default)]
pub struct StepFunctions {
    functions: Vec<StepFunction>,
    default_function: Option<String>,
}

impl StepFunctions {
    /// No functions yet; `default_function` serves inputs without a `function` input.
    pub fn new(default_function: Option<String>) -> Self {
        Self {
            functions: Vec::new(),
            default_function,
        }
    }

    /// Adds a function.
    pub fn with(mut self, function: StepFunction) -> Self {
        self.functions.push(function);
        self
    }

    /// The names of every function, for errors.
    pub fn names(&self) -> Vec<&'static str> {
        self.functions.iter().map(StepFunction::name).collect()
    }

    /// Answers one invocation: the outputs, or an error whose message the step shows.
    pub async fn invoke(&self, event: Value) -> Result<Value, StepError> {
        let inputs = StepInputs::from_event(event)?;
        let known = self.names().join(", ");
        let name = match inputs.fields().optional_str("function")? {
            Some(name) => name.to_owned(),
            None => self.default_function.clone().ok_or_else(|| {
                StepError::InvalidInput(format!(
                    "input 'function' is required (no LAMBDA_STEP_FUNCTION is set); functions: {known}"
                ))
            })?,
        };
        let function = self
            .functions
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| {
                let shown: String = name.chars().take(64).collect();
                StepError::InvalidInput(format!("unknown function '{shown}'; functions: {known}"))
            })?;
        info!(function = function.name, "running Lambda step function");
        let outputs = (function.call)(inputs).await?;
        outputs.into_json(function.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn functions() -> StepFunctions {
        StepFunctions::new(None)
            .with(StepFunction::new(
                "double",
                |inputs: StepInputs| async move {
                    let n = inputs.fields().u32_or("n", 1)?;
                    Ok(StepOutputs::new().with("Doubled", n * 2))
                },
            ))
            .with(StepFunction::new("nested", |_| async {
                Ok(StepOutputs::new().with("Bad", json!({"a": 1})))
            }))
    }

    #[tokio::test]
    async fn a_typed_fn_answers_flat_outputs() {
        let out = functions()
            .invoke(json!({"function": "double", "n": 21}))
            .await
            .unwrap();
        assert_eq!(out, json!({"Doubled": 42}));
    }

    #[tokio::test]
    async fn the_default_function_is_used_when_none_is_named() {
        let out = StepFunctions {
            default_function: Some("double".into()),
            ..functions()
        }
        .invoke(json!({"n": "4"}))
        .await
        .unwrap();
        assert_eq!(out["Doubled"], 8);
    }

    #[tokio::test]
    async fn errors_name_the_function_or_input() {
        let f = functions();
        let unknown = f.invoke(json!({"function": "nope"})).await.unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "unknown function 'nope'; functions: double, nested"
        );
        let missing = f.invoke(json!({})).await.unwrap_err();
        assert!(
            missing.to_string().contains("input 'function' is required"),
            "{missing}"
        );
        let bad = f
            .invoke(json!({"function": "double", "n": -3}))
            .await
            .unwrap_err();
        assert!(
            bad.to_string()
                .starts_with("input 'n' must be a whole number"),
            "{bad}"
        );
        let nested = f
            .invoke(json!({"function": "double", "n": [1]}))
            .await
            .unwrap_err();
        assert!(
            nested.to_string().starts_with("input 'n' is an array"),
            "{nested}"
        );
        let not_flat = f.invoke(json!({"function": "nested"})).await.unwrap_err();
        assert!(
            not_flat.to_string().contains("output 'Bad' as an object"),
            "{not_flat}"
        );
    }
}
