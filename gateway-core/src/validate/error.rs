//! The failures validation reports: a short list of locations (JSON
//! pointers such as `/body/items/0/qty` or `/query/limit`) with messages
//! written by the gateway, never the offending input itself.

use http::StatusCode;
use serde::Serialize;

/// Most entries in a problem's `errors` list.
pub const MAX_ERRORS: usize = 10;
/// Longest message kept per entry, in bytes.
const MAX_MESSAGE: usize = 200;
/// Longest pointer kept per entry, in bytes.
const MAX_POINTER: usize = 200;

/// One failing location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// JSON pointer of the location, rooted at `/body`, `/query`, `/path`,
    /// `/header` or `/content-type`.
    pub pointer: String,
    /// What is wrong there.
    pub message: String,
}

impl FieldError {
    /// An entry, with pointer and message cut to a bounded length.
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: truncate(pointer.into(), MAX_POINTER),
            message: truncate(message.into(), MAX_MESSAGE),
        }
    }

    /// The same entry with `prefix` (e.g. `/body`) put before its pointer.
    pub fn under(mut self, prefix: &str) -> Self {
        self.pointer = truncate(format!("{prefix}{}", self.pointer), MAX_POINTER);
        self
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// Appends one reference token to a JSON pointer (RFC 6901 escaping).
pub fn pointer_push(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// A request (or response) that failed validation: the status, the problem
/// kind and title, and at most [`MAX_ERRORS`] failing locations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationFailure {
    /// 400, 415, 422 for requests; 502 for an upstream response.
    pub status: StatusCode,
    /// Kebab-case problem kind.
    pub kind: &'static str,
    /// Human-readable title.
    pub title: &'static str,
    /// The failing locations (at most [`MAX_ERRORS`]).
    pub errors: Vec<FieldError>,
}

impl ValidationFailure {
    /// A failure with the given errors, capped at [`MAX_ERRORS`].
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        mut errors: Vec<FieldError>,
    ) -> Self {
        errors.truncate(MAX_ERRORS);
        Self {
            status,
            kind,
            title,
            errors,
        }
    }

    /// 400: parameters or JSON syntax.
    pub fn bad_request(errors: Vec<FieldError>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request",
            errors,
        )
    }

    /// 415: the body's media type is not accepted.
    pub fn unsupported_media_type(errors: Vec<FieldError>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            errors,
        )
    }

    /// 422: the body is JSON but does not match its schema.
    pub fn unprocessable(errors: Vec<FieldError>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "Request body does not match its schema",
            errors,
        )
    }

    /// 404 or 405: the API description has no operation for the request.
    pub fn not_described(method_known: bool) -> Self {
        let (status, pointer, message) = if method_known {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                "/method",
                "the method is not described for this path",
            )
        } else {
            (
                StatusCode::NOT_FOUND,
                "/path",
                "no path of the API description matches",
            )
        };
        Self::new(
            status,
            "operation-not-described",
            "No operation describes this request",
            vec![FieldError::new(pointer, message)],
        )
    }

    /// 502: the upstream answered with something its contract forbids.
    /// The client gets no error list: the details are the upstream's.
    pub fn bad_upstream_response() -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "invalid-upstream-response",
            "Upstream response does not match its contract",
            Vec::new(),
        )
    }
}

impl std::fmt::Display for ValidationFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.title, self.status.as_u16())?;
        for e in &self.errors {
            write!(f, "; {}: {}", e.pointer, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationFailure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_errors_and_lengths() {
        let many = (0..50)
            .map(|i| FieldError::new(format!("/{i}"), "x"))
            .collect();
        assert_eq!(
            ValidationFailure::bad_request(many).errors.len(),
            MAX_ERRORS
        );
        let long = FieldError::new("/a", "é".repeat(500));
        assert!(long.message.len() <= MAX_MESSAGE + '…'.len_utf8());
    }

    #[test]
    fn escapes_pointer_tokens() {
        let mut p = String::new();
        pointer_push(&mut p, "a/b");
        pointer_push(&mut p, "c~d");
        assert_eq!(p, "/a~1b/c~0d");
        assert_eq!(FieldError::new("/x", "m").under("/body").pointer, "/body/x");
    }
}
