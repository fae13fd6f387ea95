//! Route patterns as OpenAPI paths: matchit's `{param}` and catch-all
//! `{*rest}` both become `{param}` path parameters.

use serde_json::{Value, json};

/// One path parameter of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathParam {
    pub(crate) name: String,
    /// `{*name}`: the rest of the path, `/` included.
    pub(crate) catch_all: bool,
}

/// The OpenAPI path for a route pattern and its parameters. Escaped
/// braces (`{{`, `}}`) stay literal characters.
pub(crate) fn convert(pattern: &str) -> (String, Vec<PathParam>) {
    let mut out = String::with_capacity(pattern.len());
    let mut params = Vec::new();
    let mut rest = pattern;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        match tail.find('}') {
            Some(end) if tail.starts_with('{') => {
                let inner = &tail[1..end];
                let (name, catch_all) = match inner.strip_prefix('*') {
                    Some(n) => (n, true),
                    None => (inner, false),
                };
                out.push('{');
                out.push_str(name);
                out.push('}');
                params.push(PathParam {
                    name: name.to_owned(),
                    catch_all,
                });
                rest = &tail[end + 1..];
            }
            _ => {
                out.push_str(tail);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    (out, params)
}

/// The Parameter Object of a path parameter.
pub(crate) fn parameter(p: &PathParam) -> Value {
    let mut v = json!({
        "name": p.name,
        "in": "path",
        "required": true,
        "schema": { "type": "string" },
    });
    if p.catch_all {
        v["description"] =
            json!("The rest of the path: any number of segments, `/` included (a catch-all).");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_become_openapi_paths() {
        let cases = [
            ("/users", "/users", vec![]),
            ("/users/{id}", "/users/{id}", vec![("id", false)]),
            (
                "/orgs/{org}/files/{*rest}",
                "/orgs/{org}/files/{rest}",
                vec![("org", false), ("rest", true)],
            ),
        ];
        for (pattern, path, params) in cases {
            let (p, ps) = convert(pattern);
            assert_eq!(p, path, "{pattern}");
            let got: Vec<(&str, bool)> =
                ps.iter().map(|p| (p.name.as_str(), p.catch_all)).collect();
            assert_eq!(got, params, "{pattern}");
        }
    }
}
