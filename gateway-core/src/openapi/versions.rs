//! API versions: a path version gives one path per served version; a
//! header or query version is a parameter listing the versions; deprecated
//! versions are marked and their sunset dates noted.

use serde_json::json;

use super::operation::OperationNotes;
use crate::config::spec::{VersionSource, VersionSpec, VersioningSpec};

/// One served (not retired) version.
#[derive(Debug, Clone)]
pub(crate) struct ServedVersion {
    pub(crate) name: String,
    pub(crate) deprecated: bool,
    /// What clients should know about its lifecycle, if anything.
    pub(crate) note: Option<String>,
}

fn lifecycle(name: &str, v: &VersionSpec) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(d) = &v.deprecated {
        parts.push(format!("deprecated as of {d}"));
    }
    if let Some(s) = &v.sunset {
        parts.push(format!("sunset on {s} (`Sunset` header)"));
    }
    if parts.is_empty() {
        return None;
    }
    let mut note = format!("Version `{name}` is {}.", parts.join(", "));
    if let Some(l) = &v.link {
        note.push_str(&format!(" See <{l}>."));
    }
    Some(note)
}

/// The versions a route serves, in config order (sorted by name).
pub(crate) fn served(v: &VersioningSpec) -> Vec<ServedVersion> {
    v.versions
        .iter()
        .filter(|(_, s)| !s.retired)
        .map(|(name, s)| ServedVersion {
            name: name.clone(),
            deprecated: s.deprecated.is_some(),
            note: lifecycle(name, s),
        })
        .collect()
}

/// The path parameter a path version is read from, if the route reads it
/// from the path.
pub(crate) fn path_param(v: &VersioningSpec) -> Option<String> {
    (v.from == VersionSource::Path).then(|| v.name.clone().unwrap_or_else(|| "version".to_owned()))
}

/// Adds what every operation of a versioned route shares: retired versions
/// (410), unknown versions (400/404/406) and, for header, query and media
/// type versions, the parameter and lifecycle notes.
pub(crate) fn describe(v: &VersioningSpec, notes: &mut OperationNotes) {
    let retired: Vec<&str> = v
        .versions
        .iter()
        .filter(|(_, s)| s.retired)
        .map(|(n, _)| n.as_str())
        .collect();
    if !retired.is_empty() {
        notes.errors.insert(410);
        notes.notes.push(format!(
            "Retired versions (answer 410 Gone): {}.",
            retired.join(", ")
        ));
    }
    let served = served(v);
    let names: Vec<&str> = served.iter().map(|s| s.name.as_str()).collect();
    let (location, name) = match v.from {
        VersionSource::Path => {
            notes.errors.insert(404);
            return;
        }
        VersionSource::Header => ("header", v.name.as_deref().unwrap_or("api-version")),
        VersionSource::Query => ("query", v.name.as_deref().unwrap_or("version")),
        VersionSource::MediaType => {
            notes.errors.insert(406);
            notes.notes.push(format!(
                "The API version is chosen with the `Accept` media type (`application/vnd.NAME.vVERSION+json` or `application/json; version=VERSION`); versions: {}{}.",
                names.join(", "),
                v.default
                    .as_ref()
                    .map(|d| format!("; default {d}"))
                    .unwrap_or_default()
            ));
            lifecycle_notes(&served, notes);
            return;
        }
    };
    notes.errors.insert(400);
    let mut schema = json!({ "type": "string", "enum": names });
    if let Some(d) = &v.default {
        schema["default"] = json!(d);
    }
    notes.add_parameter(json!({
        "name": name,
        "in": location,
        "required": v.default.is_none(),
        "description": "The API version.",
        "schema": schema,
    }));
    lifecycle_notes(&served, notes);
}

fn lifecycle_notes(served: &[ServedVersion], notes: &mut OperationNotes) {
    notes
        .notes
        .extend(served.iter().filter_map(|s| s.note.clone()));
    if !served.is_empty() && served.iter().all(|s| s.deprecated) {
        notes.deprecated = true;
    }
}
