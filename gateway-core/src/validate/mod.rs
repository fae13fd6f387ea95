//! Request and response validation against JSON Schema (draft 2020-12) or
//! an OpenAPI 3.0/3.1 document, used by the `validate` policy.
//!
//! JSON bodies are parsed strictly first ([`json::parse_strict`]):
//! duplicate keys and excessive nesting are 400 before any schema runs.
//! Failures become [`ValidationFailure`]s: 400 (parameters, malformed
//! JSON), 415 (media type), 422 (body schema), whose problem document lists
//! at most [`error::MAX_ERRORS`] locations as JSON pointers.

pub mod config;
pub mod error;
pub mod files;
pub mod json;
pub mod openapi;
pub mod params;
pub mod rules;
pub mod schema;

pub use config::{ResponseMode, ValidateSpec};
pub use error::{FieldError, ValidationFailure};
pub use files::inline_files;

/// Response failures recorded by `validate` when an upstream response does
/// not match its contract: on the response's extensions (and, in `report`
/// mode, on the policy context) so the adapter logs them (see
/// [`crate::report`]). Never sent to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseValidationReport {
    /// The failing locations.
    pub errors: Vec<FieldError>,
    /// `true` when the route enforces its response contract (the client got
    /// a 502), `false` in `report` mode (the response passed through).
    pub enforced: bool,
}

impl ResponseValidationReport {
    /// The failing JSON pointers, comma-separated, for a log line. Only
    /// locations: messages may quote upstream data.
    pub fn pointers(&self) -> String {
        self.errors
            .iter()
            .map(|e| e.pointer.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests;
