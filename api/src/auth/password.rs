//! argon2id password hashing at the OWASP parameters (19 MiB, t=2, p=1).

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use crate::error::ApiError;

/// Shortest accepted password; long passphrases beat complexity rules (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest accepted password: bounds the hashing work an attacker can ask for.
pub const MAX_PASSWORD_CHARS: usize = 256;

fn hasher() -> Result<Argon2<'static>, ApiError> {
    let params = Params::new(19_456, 2, 1, None)
        .map_err(|e| ApiError::Internal(format!("argon2 params: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A salted PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash(password: &str) -> Result<String, ApiError> {
    hasher()?
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("argon2 hash: {e}")))
}

/// Whether `password` matches the stored PHC string; a malformed hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    hasher()
        .map(|h| h.verify_password(password.as_bytes(), phc).is_ok())
        .unwrap_or(false)
}

/// The policy check shared by sign-up and the CLI: `None` when acceptable.
pub fn policy_violation(password: &str) -> Option<String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        Some(format!("must be at least {MIN_PASSWORD_CHARS} characters"))
    } else if n > MAX_PASSWORD_CHARS {
        Some(format!("must be at most {MAX_PASSWORD_CHARS} characters"))
    } else {
        None
    }
}

/// A hash of a random password, verified against when the login is unknown so that response
/// time does not reveal which logins exist.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("not-a-real-password-0123456789").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted_argon2id() {
        let a = hash("correct horse battery").expect("hash");
        let b = hash("correct horse battery").expect("hash");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "salted");
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterY", &a));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn policy() {
        assert!(policy_violation("short").is_some());
        assert!(policy_violation("ten chars!").is_none());
        assert!(policy_violation(&"x".repeat(300)).is_some());
    }
}
