//! Reading config text into the file model.

use super::error::{ConfigError, ConfigProblem};
use super::model::GatewayConfig;
use super::spec::GatewaySpec;
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
/// starts with `{`) into the file model.
pub fn parse_spec(file: &str, text: &str) -> Result<GatewaySpec, ConfigError> {
    let value: serde_json::Value = if is_json(file, text) {
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
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        single(file, &path, e.into_inner().to_string())
    })
}

/// Parses and validates config text. `file` names the source in errors.
pub fn load_file_text(
    file: &str,
    text: &str,
    registry: &PolicyRegistry,
) -> Result<GatewayConfig, ConfigError> {
    let spec = parse_spec(file, text)?;
    GatewayConfig::from_spec(file, spec, registry)
}

/// Like [`load_file_text`], but first reads the files that policies name
/// (e.g. `validate`'s `openapi_file`) with `read`, which gets each name as
/// written; a loader with a file system resolves it against the config's
/// directory.
pub fn load_file_text_with_files(
    file: &str,
    text: &str,
    registry: &PolicyRegistry,
    read: &dyn Fn(&str) -> Result<String, String>,
) -> Result<GatewayConfig, ConfigError> {
    let mut spec = parse_spec(file, text)?;
    let problems = crate::validate::inline_files(&mut spec, read);
    if !problems.is_empty() {
        return Err(ConfigError {
            file: file.to_owned(),
            problems,
        });
    }
    GatewayConfig::from_spec(file, spec, registry)
}
