//! The config as an operator may see it (the self-hosted admin API's
//! `GET /config`): the file's values, as written, with every secret
//! replaced by [`REDACTED`].
//!
//! Redacted are
//! - every value that holds a `${NAME}` reference (variables are where
//!   secrets come from, see [`super::vars`]),
//! - the values of fields and header maps whose name says secret: JWT/HMAC
//!   `secret`, `api_keys` digests, `password_hash`, `token_sha256`, and
//!   headers such as `Authorization`, `Cookie`, `X-Api-Key` that `headers`
//!   or `transform` policies send upstream (any key containing `secret`,
//!   `password`, `token`, `api_key`/`apikey`/`api-key`, `authorization`,
//!   `cookie`, `credential` or `private`, or ending in `-key`/`_key`),
//! - the user information of URLs (`redis://:password@host`).
//!
//! Booleans, numbers and nulls are kept: they carry no secret
//! (`strip_token: true`).

use serde_json::Value;

use super::vars::has_reference;

/// What a redacted value becomes.
pub const REDACTED: &str = "[redacted]";

/// Key fragments that mark a secret value (compared in lower case, with
/// `-` read as `_`).
const SECRET_KEYS: &[&str] = &[
    "secret",
    "password",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "credential",
    "private",
];

/// Whether a field or header named `key` holds a secret: it contains one
/// of [`SECRET_KEYS`] or ends in `_key` / `-key` (`X-Internal-Key`,
/// `signing_key`; not `key` alone, the TLS key file or a rate-limit key).
fn secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    SECRET_KEYS.iter().any(|s| key.contains(s)) || key.ends_with("_key")
}

/// `value` (the file's values before variables are replaced) with its
/// secrets replaced by [`REDACTED`].
pub(crate) fn redact(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(redact_string(s)),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if secret_key(k) { hide(v) } else { redact(v) };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Every string, array and object under a secret key is hidden whole.
fn hide(value: &Value) -> Value {
    match value {
        Value::Bool(_) | Value::Number(_) | Value::Null => value.clone(),
        _ => Value::String(REDACTED.to_owned()),
    }
}

fn redact_string(s: &str) -> String {
    if has_reference(s) {
        return REDACTED.to_owned();
    }
    without_userinfo(s).unwrap_or_else(|| s.to_owned())
}

/// `scheme://user:pass@host/...` with the user information redacted;
/// `None` when `s` has none.
fn without_userinfo(s: &str) -> Option<String> {
    let start = s.find("://")? + 3;
    let authority_len = s[start..].find(['/', '?', '#']).unwrap_or(s.len() - start);
    let at = s[start..start + authority_len].rfind('@')?;
    Some(format!("{}{REDACTED}{}", &s[..start], &s[start + at..]))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secret_fields_and_headers_are_hidden_and_the_rest_kept() {
        let file = json!({
            "jwt_issuers": { "main": { "algorithms": ["HS256"], "keys": [
                { "kid": "k1", "secret": "hmac-secret-0123456789-0123456789" },
                { "pem": "-----BEGIN PUBLIC KEY-----" }
            ]}},
            "consumers": { "alice": {
                "api_keys": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
                "basic": { "username": "alice", "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA" }
            }},
            "registry": { "token_sha256": "aa".repeat(32) },
            "routes": [{ "path": "/a", "upstream": "u", "policies": [
                { "headers": { "request": { "set": {
                    "Authorization": "Bearer upstream-token",
                    "X-Api-Key": "upstream-key",
                    "X-Tenant": "acme",
                    "X-Internal-Key": "internal-key-value"
                }}}},
                { "auth": { "jwt": { "issuers": ["main"], "strip_token": true } } }
            ]}],
            "store": "redis://:redis-pass@cache:6379/0",
            "upstreams": { "u": { "url": "https://api.example.com/v1" } }
        });
        let shown = redact(&file);
        let text = shown.to_string();
        for secret in [
            "hmac-secret",
            "9f86d081",
            "argon2id",
            &"aa".repeat(32),
            "upstream-token",
            "upstream-key",
            "redis-pass",
            "internal-key-value",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(shown["jwt_issuers"]["main"]["keys"][0]["kid"], "k1");
        assert_eq!(shown["jwt_issuers"]["main"]["keys"][0]["secret"], REDACTED);
        assert_eq!(shown["consumers"]["alice"]["api_keys"], REDACTED);
        assert_eq!(shown["consumers"]["alice"]["basic"]["username"], "alice");
        let set = &shown["routes"][0]["policies"][0]["headers"]["request"]["set"];
        assert_eq!(set["X-Tenant"], "acme");
        assert_eq!(set["Authorization"], REDACTED);
        assert_eq!(
            shown["routes"][0]["policies"][1]["auth"]["jwt"]["strip_token"],
            true
        );
        assert_eq!(shown["store"], "redis://[redacted]@cache:6379/0");
        assert_eq!(shown["upstreams"]["u"]["url"], "https://api.example.com/v1");
    }

    #[test]
    fn values_from_variables_are_hidden_but_escapes_are_not() {
        let shown = redact(&json!({
            "a": "${DB_HOST}",
            "b": "prefix-${TENANT}-suffix",
            "c": "$${LITERAL}",
            "d": "costs $5",
        }));
        assert_eq!(shown["a"], REDACTED);
        assert_eq!(shown["b"], REDACTED);
        assert_eq!(shown["c"], "$${LITERAL}");
        assert_eq!(shown["d"], "costs $5");
    }

    #[test]
    fn userinfo_only_in_the_authority() {
        assert_eq!(without_userinfo("http://h/p@x"), None);
        assert_eq!(
            without_userinfo("http://u:p@h/p").as_deref(),
            Some("http://[redacted]@h/p")
        );
        assert_eq!(without_userinfo("plain"), None);
    }
}
