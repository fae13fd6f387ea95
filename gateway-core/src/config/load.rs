//! Reading config text into the file model.

use super::error::{ConfigError, ConfigProblem};
use super::model::GatewayConfig;
use super::redact::redact;
use super::spec::GatewaySpec;
use super::vars::{VarLookup, no_vars, substitute};
use crate::policy::PolicyRegistry;

fn is_json(file: &str, text: &str) -> bool {
    file.ends_with(".json") || text.trim_start().starts_with('{')
}

fn single(file: &str, path: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        file: file.to_owned(),
        problems: vec![ConfigProblem::new(path, message)],
    }
}

/// Parses YAML or JSON text (JSON when `file` ends in `.json` or the text
/// starts with `{`) into the file model. Knows no variables: a `${NAME}`
/// reference is a problem (see [`parse_spec_with_vars`]).
pub fn parse_spec(file: &str, text: &str) -> Result<GatewaySpec, ConfigError> {
    parse_spec_with_vars(file, text, &no_vars)
}

/// Like [`parse_spec`], replacing each `${NAME}` in a string value with
/// `var(NAME)` (see [`super::vars`]).
pub fn parse_spec_with_vars(
    file: &str,
    text: &str,
    var: VarLookup<'_>,
) -> Result<GatewaySpec, ConfigError> {
    parse_with_view(file, text, var).map(|(spec, _)| spec)
}

/// Parses like [`parse_spec_with_vars`], also giving the file's values with
/// secrets redacted (see [`super::redact`]).
fn parse_with_view(
    file: &str,
    text: &str,
    var: VarLookup<'_>,
) -> Result<(GatewaySpec, serde_json::Value), ConfigError> {
    let mut value: serde_json::Value = if is_json(file, text) {
        serde_json::from_str(text).map_err(|e| {
            single(
                file,
                "",
                format!(
                    "invalid JSON at line {} column {}: {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?
    } else {
        serde_saphyr::from_str(text).map_err(|e| single(file, "", format!("invalid YAML: {e}")))?
    };
    if !value.is_object() {
        return Err(single(
            file,
            "",
            "the config must be a mapping with `version`, `upstreams` and `routes`",
        ));
    }
    let view = redact(&value);
    let mut problems = Vec::new();
    substitute(&mut value, var, &mut problems);
    if !problems.is_empty() {
        return Err(ConfigError {
            file: file.to_owned(),
            problems,
        });
    }
    let spec = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        single(file, &path, without_values(&e.into_inner().to_string()))
    })?;
    Ok((spec, view))
}

/// A type error without the offending value: `invalid type: string
/// "s3cr3t", expected u64` becomes `invalid type: string, expected u64`.
/// The field path says where; the value may be a secret in the wrong place.
fn without_values(message: &str) -> String {
    static VALUE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"^(invalid (?:type|value|length): [a-z ]+?) (?:"(?:[^"\\]|\\.)*"|`[^`]*`|[-0-9.eE+]+)"#)
            .expect("valid regex")
    });
    VALUE.replace(message, "$1").into_owned()
}

/// Parses and validates config text. `file` names the source in errors.
/// Knows no variables (see [`load_file_text_with_vars`]).
pub fn load_file_text(
    file: &str,
    text: &str,
    registry: &PolicyRegistry,
) -> Result<GatewayConfig, ConfigError> {
    load_file_text_with_vars(file, text, registry, &no_vars)
}

/// Parses and validates config text, replacing `${NAME}` references with
/// `var(NAME)`.
pub fn load_file_text_with_vars(
    file: &str,
    text: &str,
    registry: &PolicyRegistry,
    var: VarLookup<'_>,
) -> Result<GatewayConfig, ConfigError> {
    let (spec, view) = parse_with_view(file, text, var)?;
    let mut config = GatewayConfig::from_spec(file, spec, registry)?;
    config.redacted = Some(std::sync::Arc::new(view));
    Ok(config)
}

/// Like [`load_file_text`], but first reads the files that policies name
/// (e.g. `validate`'s `openapi_file`) with `read`, which gets each name as
/// written; a loader with a file system resolves it against the config's
/// directory. `${NAME}` references are replaced with `var(NAME)`.
pub fn load_file_text_with_files(
    file: &str,
    text: &str,
    registry: &PolicyRegistry,
    read: &dyn Fn(&str) -> Result<String, String>,
    var: VarLookup<'_>,
) -> Result<GatewayConfig, ConfigError> {
    let (mut spec, view) = parse_with_view(file, text, var)?;
    let problems = crate::validate::inline_files(&mut spec, read);
    if !problems.is_empty() {
        return Err(ConfigError {
            file: file.to_owned(),
            problems,
        });
    }
    let mut config = GatewayConfig::from_spec(file, spec, registry)?;
    config.redacted = Some(std::sync::Arc::new(view));
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_errors_name_the_field_but_not_the_value() {
        let err = parse_spec(
            "g.yaml",
            "version: 1\nserver: { limits: { max_header_count: \"s3cr3t-value\" } }\n",
        )
        .expect_err("type error");
        let text = err.to_string();
        assert!(text.contains("server.limits.max_header_count"), "{text}");
        assert!(text.contains("invalid type: string"), "{text}");
        assert!(!text.contains("s3cr3t-value"), "{text}");
        let err = parse_spec("g.yaml", "version: \"x\"\n").expect_err("type error");
        assert!(!err.to_string().contains("\"x\""), "{err}");
        assert_eq!(
            without_values("invalid value: integer `-3`, expected u32"),
            "invalid value: integer, expected u32"
        );
        assert_eq!(without_values("unknown field `x`"), "unknown field `x`");
    }
}
