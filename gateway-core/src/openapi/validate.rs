//! `validate` policies: their JSON Schemas become parameters, request
//! bodies and response content; an OpenAPI document they check against
//! becomes the route's operations (see [`super::fragment`]).

use serde_json::{Map, Value, json};

use super::operation::{Fragment, OperationNotes};
use crate::validate::ValidateSpec;

/// Adds what a `validate` policy checks to the operation.
pub(crate) fn describe(settings: &Value, notes: &mut OperationNotes) {
    let Ok(spec) = serde_json::from_value::<ValidateSpec>(settings.clone()) else {
        return;
    };
    notes.errors.insert(400);
    if let Some(doc) = spec.openapi {
        notes.errors.extend([415, 422]);
        notes.fragment = Some(Fragment {
            doc,
            strip_prefix: spec.strip_prefix,
        });
        return;
    }
    if let Some(q) = &spec.query {
        notes.add_object_parameters("query", q);
    }
    if let Some(h) = &spec.headers {
        notes.add_object_parameters("header", h);
    }
    if let Some(body) = &spec.body {
        let types = spec
            .content_types
            .unwrap_or_else(|| vec!["application/json".to_owned()]);
        let mut content = Map::new();
        for t in types {
            let is_json = {
                let essence = t
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                essence == "application/json" || essence.ends_with("+json")
            };
            let media = if is_json {
                json!({ "schema": body })
            } else {
                json!({})
            };
            content.insert(t, media);
        }
        notes.request_body = Some(json!({
            "required": spec.body_required.unwrap_or(true),
            "content": content,
        }));
        notes.errors.extend([415, 422]);
    }
    if let Some(r) = &spec.response_body {
        notes.success_content = Some(json!({ "application/json": { "schema": r } }));
    }
}
