use std::fmt;

/// The callback token SageMaker puts in a Callback step's message.
///
/// The API model fixes it at 10 characters of `[a-zA-Z0-9]`. A token that does not
/// match cannot be reported on, so it is rejected before anything else is read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallbackToken(String);

/// The length of a token, in the API model.
pub const TOKEN_LENGTH: usize = 10;

impl CallbackToken {
    /// Checks a token: 10 characters of `[a-zA-Z0-9]`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() != TOKEN_LENGTH {
            return Err(format!(
                "token must be {TOKEN_LENGTH} characters, got {}",
                raw.chars().count()
            ));
        }
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("token must contain only [a-zA-Z0-9]".to_owned());
        }
        Ok(Self(raw.to_owned()))
    }

    /// The token as SageMaker wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallbackToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ten_alphanumerics() {
        assert_eq!(
            CallbackToken::parse("26vcYbeWsZ").unwrap().as_str(),
            "26vcYbeWsZ"
        );
    }

    #[test]
    fn rejects_wrong_length_and_characters() {
        assert!(CallbackToken::parse("short").is_err());
        assert!(CallbackToken::parse("26vcYbeWsZ1").is_err());
        assert!(CallbackToken::parse("26vcYbe-sZ").is_err());
        assert!(CallbackToken::parse("26vcYbeWsé").is_err());
    }
}
