//! Error responses: RFC 9457 `application/problem+json`, as the gateway
//! writes them (see [`crate::error`]), as shared components.

use std::collections::BTreeSet;

use http::StatusCode;
use serde_json::{Map, Value, json};

/// The name of the response component for `status`.
pub(crate) fn response_name(status: u16) -> String {
    format!("Problem{status}")
}

/// A reference to the response component for `status`.
pub(crate) fn response_ref(status: u16) -> Value {
    json!({ "$ref": format!("#/components/responses/{}", response_name(status)) })
}

/// The Problem Details schema the gateway's error bodies follow.
fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "Problem Details (RFC 9457).",
        "required": ["type", "title", "status"],
        "properties": {
            "type": { "type": "string", "format": "uri-reference",
                      "description": "Identifies the kind of problem, e.g. `urn:gateway:problem:route-not-found`." },
            "title": { "type": "string", "description": "A short summary of the kind of problem." },
            "status": { "type": "integer", "minimum": 100, "maximum": 599 },
            "detail": { "type": "string", "description": "What happened in this occurrence." },
            "errors": {
                "type": "array",
                "description": "Failed validation checks (at most a few), as JSON pointers into the request.",
                "items": {
                    "type": "object",
                    "required": ["pointer", "message"],
                    "properties": {
                        "pointer": { "type": "string" },
                        "message": { "type": "string" }
                    }
                }
            }
        },
        "additionalProperties": true
    })
}

/// When the gateway answers `status`.
fn description(status: u16) -> String {
    let why = match status {
        400 => "The request is malformed or fails validation of its parameters",
        401 => "Credentials are missing or invalid",
        403 => "The caller may not do this",
        404 => "No such resource or API version",
        405 => "The method is not allowed on this path",
        406 => "The requested API version is not available",
        408 => "The request took too long to arrive",
        410 => "The API version has been retired",
        413 => "The request body is too large",
        415 => "The request body's media type is not accepted",
        422 => "The request body does not match its schema",
        429 => "Too many requests",
        502 => "The upstream answered with an invalid response",
        503 => "The upstream is unavailable",
        504 => "The upstream did not answer in time",
        _ => StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error"),
    };
    format!("{why} (problem details).")
}

/// Adds the `GatewayProblem` schema and a response component for each status to
/// `components`.
pub(crate) fn add_components(statuses: &BTreeSet<u16>, components: &mut Map<String, Value>) {
    if statuses.is_empty() {
        return;
    }
    let schemas = components
        .entry("schemas")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(s) = schemas {
        s.insert("GatewayProblem".to_owned(), problem_schema());
    }
    let responses = components
        .entry("responses")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(r) = responses {
        for &status in statuses {
            r.insert(
                response_name(status),
                json!({
                    "description": description(status),
                    "content": {
                        "application/problem+json": {
                            "schema": { "$ref": "#/components/schemas/GatewayProblem" }
                        }
                    }
                }),
            );
        }
    }
}
