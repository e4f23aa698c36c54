//! Quoting untrusted text in messages: hostile input can be megabytes long, so errors
//! quote only its start.

/// `text` cut to `max_chars` characters, with an ellipsis when it was cut.
pub fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A JSON value as it would be quoted in an error message.
pub fn quote(value: &serde_json::Value) -> String {
    shorten(&value.to_string(), 40)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_characters_and_marks_the_cut() {
        assert_eq!(shorten("héllo", 2), "hé…");
        assert_eq!(shorten("hé", 2), "hé");
        assert_eq!(
            quote(&serde_json::json!("x".repeat(100))).chars().count(),
            41
        );
    }
}
