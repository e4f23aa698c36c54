//! The callback token travels in the names of the EMR steps and clusters the `emr`
//! task creates, so emr-events can complete the step from EMR's own data alone, with
//! no datastore. `train model [sm-callback:26vcYbeWsZ]` carries token `26vcYbeWsZ`.

use crate::callback::{CallbackToken, TOKEN_LENGTH};

/// EMR's limit on step and cluster names.
pub const MAX_NAME_CHARS: usize = 256;
const MARKER_START: &str = " [sm-callback:";
const MARKER_END: &str = "]";

fn tagged(readable: &str, token: &CallbackToken) -> String {
    let marker = format!("{MARKER_START}{token}{MARKER_END}");
    let room = MAX_NAME_CHARS - marker.chars().count();
    // EMR names are printable text; control characters would make them unreadable.
    let readable: String = readable
        .chars()
        .filter(|c| !c.is_control())
        .take(room)
        .collect();
    format!("{}{marker}", readable.trim_end())
}

/// The name of the step run for a callback: the user's name, kept readable, then the token.
pub fn step_name(readable: &str, token: &CallbackToken) -> String {
    tagged(readable, token)
}

/// The name of a cluster created for a callback.
pub fn cluster_name(readable: &str, token: &CallbackToken) -> String {
    tagged(readable, token)
}

/// The token a step or cluster name carries, if it carries one. Names of anyone
/// else's steps (SageMaker's own EMR steps among them) carry none.
pub fn token_in_name(name: &str) -> Option<CallbackToken> {
    let rest = name.strip_suffix(MARKER_END)?;
    let start = rest.len().checked_sub(TOKEN_LENGTH)?;
    let (head, token) = (rest.get(..start)?, rest.get(start..)?);
    let marker = MARKER_START.trim_start();
    if !head.ends_with(marker) {
        return None;
    }
    CallbackToken::parse(token).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> CallbackToken {
        CallbackToken::parse("26vcYbeWsZ").unwrap()
    }

    #[test]
    fn a_name_carries_its_token_and_stays_readable() {
        let name = step_name("train model", &token());
        assert_eq!(name, "train model [sm-callback:26vcYbeWsZ]");
        assert_eq!(token_in_name(&name), Some(token()));
    }

    #[test]
    fn a_long_name_is_cut_to_fit_emr_and_keeps_its_token() {
        let name = cluster_name(&"é".repeat(1000), &token());
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
        assert_eq!(token_in_name(&name), Some(token()));
    }

    #[test]
    fn names_without_a_token_carry_none() {
        for name in [
            "SageMaker EMR step",
            "x [sm-callback:short]",
            "x [sm-callback:26vcYbe-sZ]",
            "[other:26vcYbeWsZ]",
            "",
            "]",
        ] {
            assert_eq!(token_in_name(name), None, "{name}");
        }
    }
}
