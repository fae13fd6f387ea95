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

/// Response failures recorded by `validate` with `response: report`: on
/// the response's extensions and on the policy context, for logs and
/// metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseValidationReport {
    /// The failing locations.
    pub errors: Vec<FieldError>,
}

#[cfg(test)]
mod tests;
