//! Who may drive the stack: the holder of the credentials it made when it started.
//!
//! Every endpoint binds 127.0.0.1, which any local user reaches. So each AWS endpoint
//! (SageMaker, EMR, and the front of moto) checks a request's Signature Version 4 as AWS
//! does, against a key pair made per start and handed out only through the exports and
//! the user's own state file; each function's Runtime API sits under a path only the
//! process started for it is told.

mod layer;
mod sigv4;

pub use layer::{require_signature, Protocol};

/// The stack's credentials: an access key id and its secret, new at every start.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AKIA` and 16 characters, as IAM's access key ids look.
    pub access_key_id: String,
    /// 40 characters, as IAM's secrets are.
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    // The secret stays out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// A new key pair from the kernel's random source.
    pub fn generate() -> Self {
        Self {
            access_key_id: format!("AKIA{}", random_text(16, UPPER_ALNUM)),
            secret_access_key: random_text(40, ALNUM),
        }
    }
}

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` characters drawn uniformly from `alphabet` (at most 256 characters) with the
/// kernel's random source: for secrets and ids that must not be guessed.
pub fn random_text(len: usize, alphabet: &[u8]) -> String {
    let mut out = String::with_capacity(len);
    // Rejection sampling keeps the draw uniform when 256 is not a multiple of the size.
    let limit = 256 - 256 % alphabet.len();
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::getrandom(&mut buf).expect("the kernel's random source");
        for &byte in &buf {
            if (byte as usize) < limit && out.len() < len {
                out.push(alphabet[byte as usize % alphabet.len()] as char);
            }
        }
    }
    out
}

/// A random id of `len` lower-case hex digits.
pub fn random_hex(len: usize) -> String {
    random_text(len, b"0123456789abcdef")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_look_like_iam_keys_and_differ_per_start() {
        let a = Credentials::generate();
        let b = Credentials::generate();
        assert_ne!(a, b);
        assert!(a.access_key_id.starts_with("AKIA") && a.access_key_id.len() == 20);
        assert_eq!(a.secret_access_key.len(), 40);
        assert!(!format!("{a:?}").contains(&a.secret_access_key));
    }
}
