//! What each policy kind adds to the document: the extension point for
//! policies. A policy kind that changes what clients see (credentials,
//! parameters, bodies, error statuses, limits) gets an arm in
//! [`describe_policy`]; kinds without one leave the operation as it is.

use super::operation::OperationNotes;
use super::{security, validate};

/// Adds what a policy of `kind` with these settings means for the
/// operation `notes` describes. Settings are the policy's config value,
/// already validated when the config was built.
pub fn describe_policy(kind: &str, settings: &serde_json::Value, notes: &mut OperationNotes) {
    match kind {
        "auth" => security::describe(settings, notes),
        "validate" => validate::describe(settings, notes),
        "request_size" => {
            notes.errors.insert(413);
        }
        "rate_limit" => describe_rate_limit(settings, notes),
        "waf" => {
            notes.errors.insert(403);
        }
        "deny" => {
            let status = settings["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok());
            notes.errors.insert(status.unwrap_or(403));
        }
        _ => {}
    }
}

/// A `rate_limit` policy: 429 (and 503 where a limit fails closed), and one
/// sentence per limit with its rate and what it counts by.
fn describe_rate_limit(settings: &serde_json::Value, notes: &mut OperationNotes) {
    notes.errors.insert(429);
    let limits = settings["limits"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for limit in limits {
        if limit["on_store_error"] == "deny" {
            notes.errors.insert(503);
        }
        let name = limit["name"].as_str().unwrap_or("limit");
        let rate = limit["rate"].as_str().unwrap_or("?");
        let key = match limit["key"].as_array() {
            Some(parts) => parts
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect::<Vec<_>>()
                .join(" + "),
            None => "client_ip".to_owned(),
        };
        notes
            .notes
            .push(format!("Rate limit `{name}`: {rate} per {key}."));
    }
    if let Some(shared) = settings["use"].as_array() {
        let names: Vec<&str> = shared
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect();
        if !names.is_empty() {
            notes
                .notes
                .push(format!("Shared rate limits: {}.", names.join(", ")));
        }
    }
}
