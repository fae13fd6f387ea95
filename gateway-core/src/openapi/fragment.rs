//! Operations taken from an upstream OpenAPI document that a `validate`
//! policy references: their paths move under the policy's `strip_prefix`,
//! their components join the gateway document's (renamed on a clash) and
//! their `$ref`s follow.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::operation::Fragment;
use super::security::component_name;

/// The operation keys of a Path Item Object.
pub(crate) const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One operation of a fragment, at its gateway path.
#[derive(Debug, Clone)]
pub(crate) struct ImportedOperation {
    /// The path as clients send it (with the strip prefix).
    pub(crate) path: String,
    /// Lower-case method.
    pub(crate) method: String,
    /// The Operation Object, with path-level parameters folded in and
    /// references rewritten.
    pub(crate) operation: Value,
}

fn rewrite_refs(v: &mut Value, renames: &HashMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if k == "$ref"
                    && let Value::String(r) = val
                {
                    // `#/components/{section}/{name}` and anything below it.
                    let head: String = r.splitn(5, '/').take(4).collect::<Vec<_>>().join("/");
                    if let Some(new) = renames.get(&head) {
                        *r = format!("{new}{}", &r[head.len()..]);
                    }
                } else {
                    rewrite_refs(val, renames);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| rewrite_refs(i, renames)),
        _ => {}
    }
}

/// Moves the fragment's components into `components` (security schemes
/// stay out: the gateway's `auth` policies say how clients authenticate)
/// and returns its operations at their gateway paths.
pub(crate) fn import(
    fragment: &Fragment,
    route_name: &str,
    components: &mut Map<String, Value>,
) -> Vec<ImportedOperation> {
    let mut renames = HashMap::new();
    let mut incoming = Vec::new();
    for (section, entries) in fragment.doc["components"].as_object().into_iter().flatten() {
        if section == "securitySchemes" || section.starts_with("x-") {
            continue;
        }
        for (name, value) in entries.as_object().into_iter().flatten() {
            let existing = components.get(section).and_then(|s| s.get(name));
            let new_name = match existing {
                None => name.clone(),
                Some(v) if v == value => name.clone(),
                Some(_) => format!("{}.{}", component_name(route_name), name),
            };
            if &new_name != name {
                renames.insert(
                    format!("#/components/{section}/{name}"),
                    format!("#/components/{section}/{new_name}"),
                );
            }
            incoming.push((section.clone(), new_name, value.clone()));
        }
    }
    for (section, name, mut value) in incoming {
        rewrite_refs(&mut value, &renames);
        if let Value::Object(s) = components
            .entry(section)
            .or_insert_with(|| Value::Object(Map::new()))
        {
            s.insert(name, value);
        }
    }
    let prefix = fragment.strip_prefix.as_deref().unwrap_or("");
    let mut out = Vec::new();
    for (path, item) in fragment.doc["paths"].as_object().into_iter().flatten() {
        let shared: Vec<Value> = item["parameters"].as_array().cloned().unwrap_or_default();
        for method in METHODS {
            let Some(op) = item.get(method).and_then(Value::as_object) else {
                continue;
            };
            let mut op = op.clone();
            if !shared.is_empty() {
                let mut params: Vec<Value> = op
                    .get("parameters")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for p in &shared {
                    let overridden = params
                        .iter()
                        .any(|q| q.get("name") == p.get("name") && q.get("in") == p.get("in"));
                    if !overridden {
                        params.push(p.clone());
                    }
                }
                op.insert("parameters".to_owned(), Value::Array(params));
            }
            let mut op = Value::Object(op);
            rewrite_refs(&mut op, &renames);
            out.push(ImportedOperation {
                path: format!("{prefix}{path}"),
                method: method.to_owned(),
                operation: op,
            });
        }
    }
    out
}
