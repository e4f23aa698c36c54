use std::fmt;

/// SendPipelineExecutionStepFailure accepts a FailureReason of at most 256 characters.
pub const MAX_REASON_CHARS: usize = 256;

/// A failure reason SageMaker will accept: never over the limit, cut on a character
/// boundary with an ellipsis so a reader can see it was cut.
///
/// ```
/// use sagemaker_custom_steps::outcome::{FailureReason, MAX_REASON_CHARS};
///
/// let short = FailureReason::new("EMR step s-1 FAILED: exit status 1");
/// assert_eq!(short.as_str(), "EMR step s-1 FAILED: exit status 1");
///
/// // A stack trace would be refused by the API; it is cut to fit instead, visibly.
/// let long = FailureReason::new("é".repeat(1_000));
/// assert_eq!(long.as_str().chars().count(), MAX_REASON_CHARS);
/// assert!(long.as_str().ends_with('…'));
///
/// assert_eq!(FailureReason::new("  ").as_str(), "failed without a reason");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureReason(String);

impl FailureReason {
    /// A reason as given; an empty one says so, a long one is cut.
    pub fn new(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        let reason = if reason.trim().is_empty() {
            "failed without a reason".to_owned()
        } else {
            reason
        };
        match reason.char_indices().nth(MAX_REASON_CHARS) {
            None => Self(reason),
            Some(_) => {
                let (cut, _) = reason
                    .char_indices()
                    .nth(MAX_REASON_CHARS - 1)
                    .expect("longer than the limit");
                Self(format!("{}…", &reason[..cut]))
            }
        }
    }

    /// The reason as it will be sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reasons_are_kept_whole() {
        assert_eq!(
            FailureReason::new("EMR step failed").as_str(),
            "EMR step failed"
        );
        let exact = "é".repeat(MAX_REASON_CHARS);
        assert_eq!(FailureReason::new(exact.clone()).as_str(), exact);
    }

    #[test]
    fn a_long_multibyte_reason_is_cut_to_the_limit_on_a_char_boundary() {
        let long: String = "résumé—🚀 ".chars().cycle().take(10_000).collect();
        let reason = FailureReason::new(long.clone());
        assert_eq!(reason.as_str().chars().count(), MAX_REASON_CHARS);
        assert!(reason.as_str().ends_with('…'));
        let kept: String = reason.as_str().chars().take(MAX_REASON_CHARS - 1).collect();
        assert!(long.starts_with(&kept));
        // A String is valid UTF-8 by construction; the byte view proves no char was split.
        assert!(std::str::from_utf8(reason.as_str().as_bytes()).is_ok());
    }

    #[test]
    fn an_empty_reason_still_says_something() {
        assert_eq!(FailureReason::new("  ").as_str(), "failed without a reason");
    }
}
