//! Basic auth: user names with Argon2 password hashes (PHC strings).
//!
//! Verifying an Argon2 hash costs what its parameters say (OWASP's
//! `m=19456,t=2,p=1` is tens of milliseconds natively, more on wasm), so a
//! successful verification is remembered in process memory for
//! [`CACHE_TTL`], keyed by a SHA-256 of the user name, password and stored
//! hash. Failed attempts are never cached.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use base64::Engine as _;

use super::api_key::sha256;

/// How long a successful password check is remembered.
pub(crate) const CACHE_TTL_MS: u64 = 5 * 60 * 1000;
/// Most remembered checks; the cache is emptied when full.
const CACHE_MAX: usize = 4096;

/// Checks that `s` is an Argon2 PHC string.
pub(crate) fn parse_password_hash(s: &str) -> Result<String, &'static str> {
    const WHY: &str = "a password is given as an Argon2 PHC string, `$argon2id$v=19$m=...,t=...,p=...$salt$hash` (`local hash-password`)";
    let parsed = PasswordHash::new(s).map_err(|_| WHY)?;
    if !parsed.algorithm.as_str().starts_with("argon2") || parsed.hash.is_none() {
        return Err(WHY);
    }
    Ok(s.to_owned())
}

/// An Argon2id PHC string of `password` with the crate's default
/// parameters (`m=19456,t=2,p=1`) and the given salt (at least 8 random bytes).
pub fn hash_password(password: &str, salt: &[u8]) -> Result<String, String> {
    use argon2::PasswordHasher as _;
    let salt = argon2::password_hash::SaltString::encode_b64(salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// User name and password from an `Authorization: Basic` value, if the
/// scheme is Basic (any case). `Some(Err)` for a malformed value.
pub(crate) fn parse_basic(value: &[u8]) -> Option<Result<(String, String), ()>> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    Some(
        decoded
            .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())))
            .ok_or(()),
    )
}

/// Users, their hashes, and the cache of recent successful checks.
#[derive(Default)]
pub(crate) struct BasicCredentials {
    users: HashMap<String, (String, usize)>,
    cache: Mutex<HashMap<[u8; 32], (usize, u64)>>,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BasicCredentials({} users, redacted)", self.users.len())
    }
}

impl BasicCredentials {
    /// Adds a user; false if the name is taken.
    pub(crate) fn insert(&mut self, username: &str, phc: String, consumer: usize) -> bool {
        self.users
            .insert(username.to_owned(), (phc, consumer))
            .is_none()
    }

    /// Whether no user is configured.
    pub(crate) fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The consumer whose credentials these are, checked against the stored
    /// hash or a recent successful check.
    pub(crate) fn verify(&self, username: &str, password: &str, now_ms: u64) -> Option<usize> {
        let (phc, consumer) = self.users.get(username)?;
        let mut material = Vec::with_capacity(username.len() + password.len() + phc.len() + 2);
        material.extend_from_slice(username.as_bytes());
        material.push(0);
        material.extend_from_slice(password.as_bytes());
        material.push(0);
        material.extend_from_slice(phc.as_bytes());
        let key = sha256(&material);
        if let Ok(cache) = self.cache.lock()
            && let Some(&(c, until)) = cache.get(&key)
            && until > now_ms
        {
            return Some(c);
        }
        let parsed = PasswordHash::new(phc).ok()?;
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .ok()?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(key, (*consumer, now_ms + CACHE_TTL_MS));
        }
        Some(*consumer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_HASH: &str =
        "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHRzYWx0$xNYeOFrda0m/2sJVlcs76T/JvmL0kWpAqeONLu3PZDw";

    /// An Argon2id hash with cheap parameters, as tests use.
    fn cheap_hash(password: &str) -> String {
        use argon2::PasswordHasher as _;
        let params = argon2::Params::new(256, 1, 1, None).expect("params");
        let argon = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = argon2::password_hash::SaltString::encode_b64(b"saltsaltsalt").expect("salt");
        argon
            .hash_password(password.as_bytes(), &salt)
            .expect("hash")
            .to_string()
    }

    #[test]
    fn cheap_hash_for_the_test_configs() {
        // The integration tests and conformance scenario use this literal.
        assert_eq!(cheap_hash("correct horse"), TEST_HASH);
        let mut creds = BasicCredentials::default();
        assert!(creds.insert("ada", parse_password_hash(TEST_HASH).expect("phc"), 0));
        assert_eq!(creds.verify("ada", "correct horse", 0), Some(0));
    }

    #[test]
    fn parses_the_basic_scheme_case_insensitively() {
        let v = format!(
            "bAsIc {}",
            base64::engine::general_purpose::STANDARD.encode("ada:pa:ss")
        );
        assert_eq!(
            parse_basic(v.as_bytes()),
            Some(Ok(("ada".into(), "pa:ss".into())))
        );
        assert_eq!(parse_basic(b"Bearer abc"), None);
        assert_eq!(parse_basic(b"Basic !!!"), Some(Err(())));
    }

    #[test]
    fn verifies_and_caches_only_success() {
        let mut creds = BasicCredentials::default();
        assert!(creds.insert(
            "ada",
            parse_password_hash(&cheap_hash("correct horse")).expect("phc"),
            2
        ));
        assert_eq!(creds.verify("ada", "wrong", 0), None);
        assert!(creds.cache.lock().expect("lock").is_empty());
        assert_eq!(creds.verify("ada", "correct horse", 0), Some(2));
        assert_eq!(creds.cache.lock().expect("lock").len(), 1);
        assert_eq!(creds.verify("ada", "correct horse", 1), Some(2));
        assert_eq!(creds.verify("bob", "correct horse", 1), None);
        assert!(!format!("{creds:?}").contains("argon2"));
    }

    #[test]
    fn refuses_non_argon2_hashes() {
        assert!(parse_password_hash("plain").is_err());
        assert!(parse_password_hash("$pbkdf2-sha256$i=1$c2FsdA$aGFzaA").is_err());
    }
}
