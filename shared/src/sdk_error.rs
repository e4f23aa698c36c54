//! Readable text for SDK errors, whose Display alone ("dispatch failure") hides the cause.

/// The error and every source below it, joined with ": ".
pub fn describe_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
