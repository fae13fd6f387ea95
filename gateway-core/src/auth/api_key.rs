//! API keys: consumers' keys are stored as SHA-256 digests; a presented key
//! is hashed and compared with every digest in constant time.

use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

/// The SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lower-case hex of the SHA-256 of `key`: what goes in `consumers.*.api_keys`.
pub fn hash_api_key(key: &str) -> String {
    hash_api_key_bytes(key.as_bytes())
}

/// Lower-case hex of the SHA-256 of a key as raw bytes.
pub(crate) fn hash_api_key_bytes(key: &[u8]) -> String {
    sha256(key).iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 64 hex digits.
pub(crate) fn parse_key_hash(hex: &str) -> Result<[u8; 32], &'static str> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("an API key is given as its SHA-256 digest: 64 hex digits (`local hash-key`)");
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| "not a hex digest")?;
    }
    Ok(out)
}

/// Key digests and the consumer each belongs to.
#[derive(Default)]
pub(crate) struct ApiKeys {
    entries: Vec<([u8; 32], usize)>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} digests, redacted)", self.entries.len())
    }
}

impl ApiKeys {
    /// Adds a digest; false if it is already present.
    pub(crate) fn insert(&mut self, digest: [u8; 32], consumer: usize) -> bool {
        if self.entries.iter().any(|(d, _)| *d == digest) {
            return false;
        }
        self.entries.push((digest, consumer));
        true
    }

    /// Whether no key is configured.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The consumer owning `key`. Every digest is compared, in constant
    /// time, whatever matches.
    pub(crate) fn find(&self, key: &[u8]) -> Option<usize> {
        let digest = sha256(key);
        let mut found = subtle::Choice::from(0);
        let mut index = 0u64;
        for (d, consumer) in &self.entries {
            let eq = d.ct_eq(&digest);
            index = u64::conditional_select(&index, &(*consumer as u64), eq);
            found |= eq;
        }
        bool::from(found).then_some(index as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_matches_sha256sum() {
        // printf %s secret | sha256sum
        assert_eq!(
            hash_api_key("secret"),
            "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
        );
    }

    #[test]
    fn lookup_finds_only_the_right_key() {
        let mut keys = ApiKeys::default();
        assert!(keys.insert(parse_key_hash(&hash_api_key("k-one")).expect("hex"), 3));
        assert!(keys.insert(parse_key_hash(&hash_api_key("k-two")).expect("hex"), 7));
        assert!(!keys.insert(parse_key_hash(&hash_api_key("k-two")).expect("hex"), 1));
        assert_eq!(keys.find(b"k-one"), Some(3));
        assert_eq!(keys.find(b"k-two"), Some(7));
        assert_eq!(keys.find(b"k-three"), None);
        assert_eq!(keys.find(b""), None);
        assert!(!format!("{keys:?}").contains("k-one"));
    }

    #[test]
    fn digests_must_be_hex() {
        assert!(parse_key_hash("abc").is_err());
        assert!(parse_key_hash(&"g".repeat(64)).is_err());
        assert!(parse_key_hash(&"A".repeat(64)).is_ok());
    }
}
