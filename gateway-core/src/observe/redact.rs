//! Keeping secrets out of log lines: query parameters and headers.

use http::{HeaderName, Uri};

use super::{AccessLogConfig, QueryMode};

/// What a redacted value is logged as.
pub(crate) const REDACTED: &str = "[redacted]";

/// Query parameter names that always carry secrets.
const SENSITIVE_QUERY: &[&str] = &[
    "access_token",
    "api_key",
    "apikey",
    "code",
    "id_token",
    "jwt",
    "key",
    "pass",
    "password",
    "pwd",
    "refresh_token",
    "secret",
    "sig",
    "signature",
    "token",
];

/// Parts of names (parameters and headers) that mark a secret.
const SENSITIVE_PARTS: &[&str] = &[
    "token", "secret", "password", "passwd", "key", "auth", "session", "cookie", "sig",
];

/// Headers that always carry credentials.
const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-amz-security-token",
];

fn sensitive_name(lower: &str) -> bool {
    SENSITIVE_PARTS.iter().any(|p| lower.contains(p))
}

/// Whether a request header's value must not be logged.
pub(crate) fn sensitive_header(name: &HeaderName) -> bool {
    SENSITIVE_HEADERS.contains(&name.as_str()) || sensitive_name(name.as_str())
}

fn sensitive_param(raw_name: &str, extra: &[String]) -> bool {
    let decoded = percent_encoding::percent_decode_str(raw_name).decode_utf8_lossy();
    let lower = decoded.to_ascii_lowercase();
    SENSITIVE_QUERY.contains(&lower.as_str()) || extra.contains(&lower) || sensitive_name(&lower)
}

/// The path to log for `uri`: the path alone, or with the query string
/// whose sensitive values are replaced by [`REDACTED`].
pub(crate) fn logged_path(uri: &Uri, cfg: &AccessLogConfig) -> String {
    let path = uri.path();
    let query = match (cfg.query, uri.query()) {
        (QueryMode::Redact, Some(q)) if !q.is_empty() => q,
        _ => return path.to_owned(),
    };
    let mut out = String::with_capacity(path.len() + 1 + query.len());
    out.push_str(path);
    out.push('?');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) if sensitive_param(name, &cfg.redact_query) => {
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(pair),
        }
    }
    out
}
