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
