//! Variable references in config values: `${NAME}` in any string value is
//! replaced by the variable `NAME` when the config is loaded, so secrets
//! (HMAC keys, tokens, Redis passwords) stay out of config files and
//! artefacts. `$${` writes a literal `${`.
//!
//! Where variables come from is the loader's business: the process
//! environment (self-hosted, Lambda), the component environment (Spin),
//! secrets and vars (Workers). Problems name the field and the variable,
//! never a value.

use serde_json::Value;

use super::error::ConfigProblem;

/// Looks up a variable by name.
pub type VarLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A lookup that knows no variable: every reference is reported unset.
pub fn no_vars(_: &str) -> Option<String> {
    None
}

/// Replaces the references in every string value of `value` (not in
/// keys), collecting a problem per unset variable or malformed reference.
pub(crate) fn substitute(value: &mut Value, var: VarLookup<'_>, problems: &mut Vec<ConfigProblem>) {
    walk(value, &mut String::new(), var, problems);
}

fn walk(
    value: &mut Value,
    path: &mut String,
    var: VarLookup<'_>,
    problems: &mut Vec<ConfigProblem>,
) {
    match value {
        Value::String(s) if s.contains('$') => match expand(s, var) {
            Ok(Some(new)) => *s = new,
            Ok(None) => {}
            Err(message) => problems.push(ConfigProblem::new(path.clone(), message)),
        },
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(item, path, var, problems);
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                walk(v, path, var, problems);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// The expanded string, `None` when it holds no reference.
fn expand(s: &str, var: VarLookup<'_>) -> Result<Option<String>, String> {
    if !s.contains("${") {
        return Ok(None);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or("unclosed variable reference `${`: write `$${` for a literal `${`")?;
            let name = &after[..end];
            if !valid_name(name) {
                return Err(format!(
                    "`${{{}}}` is not a variable reference: names are letters, digits and `_`, not starting with a digit",
                    name.escape_debug()
                ));
            }
            let value = var(name).ok_or_else(|| format!("variable `{name}` is not set"))?;
            out.push_str(&value);
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(Some(out))
}

/// Whether `s` holds a `${NAME}` reference (a `$${` escape is none).
pub(crate) fn has_reference(s: &str) -> bool {
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            rest = after;
        } else if tail.starts_with("${") {
            return true;
        } else {
            rest = &tail[1..];
        }
    }
    false
}

fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "SECRET" => Some("s3cr3t".into()),
            "HOST" => Some("db.internal".into()),
            _ => None,
        }
    }

    #[test]
    fn replaces_whole_and_embedded_references_in_values_only() {
        let mut v = json!({
            "a": "${SECRET}",
            "b": ["redis://:${SECRET}@${HOST}:6379", "$${SECRET} and $5"],
            "${SECRET}": 1,
            "n": 3
        });
        let mut problems = Vec::new();
        substitute(&mut v, &vars, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            v,
            json!({
                "a": "s3cr3t",
                "b": ["redis://:s3cr3t@db.internal:6379", "${SECRET} and $5"],
                "${SECRET}": 1,
                "n": 3
            })
        );
    }

    #[test]
    fn unset_and_malformed_references_name_the_field() {
        let mut v = json!({ "x": { "y": ["ok", "${MISSING}"] }, "z": "${1BAD}", "w": "${OPEN" });
        let mut problems = Vec::new();
        substitute(&mut v, &vars, &mut problems);
        let text: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(
            text.contains(&"x.y[1]: variable `MISSING` is not set".to_owned()),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("z: `${1BAD}` is not a variable reference")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("w: unclosed variable reference")),
            "{text:?}"
        );
    }
}
