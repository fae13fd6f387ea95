//! Schema and OpenAPI files named in `validate` settings, read when the
//! config is loaded and put inline. Only a loader with a file system (the
//! self-hosted target) does this; elsewhere a `*_file` key is refused at
//! load with a message asking for the inline form.

use serde_json::Value;

use super::config::FILE_KEYS;
use crate::config::ConfigProblem;
use crate::config::spec::GatewaySpec;

/// Replaces every `body_file`, `response_body_file` and `openapi_file` of
/// the `validate` policies in `spec` by the parsed file (JSON, or YAML
/// unless the name ends in `.json`). `read` returns a file's text given its
/// name as written in the config.
pub fn inline_files(
    spec: &mut GatewaySpec,
    read: &dyn Fn(&str) -> Result<String, String>,
) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for (i, route) in spec.routes.iter_mut().enumerate() {
        for (j, policy) in route.policies.iter_mut().enumerate() {
            let Some(Value::Object(settings)) = policy.get_mut("validate") else {
                continue;
            };
            for (file_key, inline_key) in FILE_KEYS {
                let Some(Value::String(name)) = settings.get(file_key).cloned() else {
                    continue;
                };
                let at = format!("routes[{i}].policies[{j}].validate.{file_key}");
                if settings.contains_key(inline_key) {
                    problems.push(ConfigProblem::new(
                        at,
                        format!("give `{file_key}` or `{inline_key}`, not both"),
                    ));
                    continue;
                }
                match read(&name).and_then(|text| parse(&name, &text)) {
                    Ok(v) => {
                        settings.remove(file_key);
                        settings.insert(inline_key.to_owned(), v);
                    }
                    Err(e) => problems.push(ConfigProblem::new(at, format!("`{name}`: {e}"))),
                }
            }
        }
    }
    problems
}

fn parse(name: &str, text: &str) -> Result<Value, String> {
    if name.ends_with(".json") {
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))
    } else {
        serde_saphyr::from_str(text).map_err(|e| format!("invalid YAML: {e}"))
    }
}
