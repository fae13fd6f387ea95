//! Compiled JSON Schemas and the conversion of their failures into
//! [`FieldError`]s that never echo the instance.

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, Validator};
use serde_json::Value;

use super::error::{FieldError, MAX_ERRORS, pointer_push};

/// A compiled schema (draft 2020-12 unless chosen otherwise).
pub struct CompiledSchema {
    validator: Validator,
}

impl std::fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompiledSchema")
    }
}

impl CompiledSchema {
    /// Compiles `schema` (draft 2020-12 unless it names another with
    /// `$schema`). External references are not resolved.
    pub fn compile(schema: &Value) -> Result<Self, String> {
        Self::compile_with(schema, None)
    }

    /// Compiles `schema` under a chosen draft (`None`: from `$schema`,
    /// default 2020-12). Formats are checked.
    pub fn compile_with(schema: &Value, draft: Option<Draft>) -> Result<Self, String> {
        let mut options = jsonschema::options().should_validate_formats(true);
        if let Some(d) = draft {
            options = options.with_draft(d);
        }
        options
            .build(schema)
            .map(|validator| Self { validator })
            .map_err(|e| format!("invalid JSON Schema: {}", e.masked()))
    }

    /// Whether `instance` is valid.
    pub fn is_valid(&self, instance: &Value) -> bool {
        self.validator.is_valid(instance)
    }

    /// Appends the failures of `instance` to `out` (at most
    /// [`MAX_ERRORS`] in all), each pointer under `prefix` (e.g. `/body`).
    pub fn check(&self, instance: &Value, prefix: &str, out: &mut Vec<FieldError>) {
        for e in self.validator.iter_errors(instance) {
            if out.len() >= MAX_ERRORS {
                break;
            }
            let mut pointer = format!("{prefix}{}", e.instance_path().as_str());
            let message = match e.kind() {
                ValidationErrorKind::Required { property } => {
                    if let Some(name) = property.as_str() {
                        pointer_push(&mut pointer, name);
                    }
                    "is required".to_owned()
                }
                _ => e.masked().to_string(),
            };
            out.push(FieldError::new(pointer, message));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_locations_and_masks_values() {
        let s = CompiledSchema::compile(&json!({
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": {
                "type": "object", "required": ["qty"],
                "properties": {"qty": {"type": "integer", "minimum": 1}}
            }}}
        }))
        .expect("valid schema");
        let mut out = Vec::new();
        s.check(
            &json!({"items": [{"qty": "secret-value"}, {}]}),
            "/body",
            &mut out,
        );
        let pointers: Vec<&str> = out.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/body/items/0/qty", "/body/items/1/qty"]);
        assert!(
            !out[0].message.contains("secret-value"),
            "{}",
            out[0].message
        );
        assert_eq!(out[1].message, "is required");
    }

    #[test]
    fn refuses_invalid_schemas() {
        assert!(CompiledSchema::compile(&json!({"type": 12})).is_err());
    }
}
