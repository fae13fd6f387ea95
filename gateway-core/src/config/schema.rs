//! The JSON Schema of the config file, generated from the spec types and the
//! registered policy kinds, so editors can complete and check configs.

use schemars::generate::SchemaSettings;

use super::spec::GatewaySpec;
use crate::policy::PolicyRegistry;

/// The config file's JSON Schema (draft 2020-12).
pub fn json_schema(registry: &PolicyRegistry) -> serde_json::Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let mut kinds = Vec::new();
    for f in registry.kinds() {
        let settings = (f.schema)(&mut generator);
        kinds.push(serde_json::json!({
            "type": "object",
            "properties": { f.kind: settings },
            "required": [f.kind],
            "additionalProperties": false,
        }));
    }
    let root = generator.into_root_schema_for::<GatewaySpec>();
    let mut value = root.to_value();
    let policy = serde_json::json!({
        "description": "One policy: a single key naming its kind, with its settings as value.",
        "oneOf": kinds,
    });
    if let Some(items) = value.pointer_mut("/$defs/RouteSpec/properties/policies/items") {
        *items = policy;
    }
    if let Some(obj) = value.as_object_mut() {
        obj.insert("title".into(), "Gateway configuration".into());
    }
    value
}
