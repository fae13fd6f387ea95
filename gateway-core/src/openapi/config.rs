//! `docs:` validated: where the document and the page are served, and the
//! document's `info` and `servers`.

use super::spec::DocsSpec;
use crate::config::Problems;

/// Default path of the docs page.
pub const DEFAULT_PATH: &str = "/docs";
/// Default path of the OpenAPI document.
pub const DEFAULT_OPENAPI_PATH: &str = "/openapi.json";

/// One entry of the document's `servers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocsServer {
    /// Base URL.
    pub url: String,
    /// What this server is.
    pub description: Option<String>,
}

/// The validated `docs:` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocsConfig {
    /// Path of the docs page; its assets live below it.
    pub path: String,
    /// Path of the OpenAPI document.
    pub openapi_path: String,
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// `info.description`.
    pub description: Option<String>,
    /// `servers`.
    pub servers: Vec<DocsServer>,
}

impl Default for DocsConfig {
    fn default() -> Self {
        Self {
            path: DEFAULT_PATH.to_owned(),
            openapi_path: DEFAULT_OPENAPI_PATH.to_owned(),
            title: "API".to_owned(),
            version: "1.0.0".to_owned(),
            description: None,
            servers: Vec::new(),
        }
    }
}

/// Problems with a path the gateway answers itself, if any.
fn path_problem(p: &str) -> Option<&'static str> {
    if !p.starts_with('/') {
        Some("must start with `/`")
    } else if p == "/" {
        Some("must not be `/`: the gateway would answer every request itself")
    } else if p.ends_with('/') {
        Some("must not end with `/`")
    } else if p.contains(['{', '}', '?', '#', '*', ' ']) {
        Some("must be a literal path (no `{`, `}`, `*`, `?`, `#` or spaces)")
    } else {
        None
    }
}

/// Whether `route_path` (a route pattern) lies at or below `owned`.
fn under(route_path: &str, owned: &str) -> bool {
    let literal = route_path.split('{').next().unwrap_or(route_path);
    literal == owned
        || literal
            .strip_prefix(owned)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl DocsConfig {
    /// Validates `docs:`; problems name `docs.*` fields.
    pub(crate) fn build(spec: &DocsSpec, p: &mut Problems) -> Option<Self> {
        let d = Self::default();
        let cfg = Self {
            path: spec.path.clone().unwrap_or(d.path),
            openapi_path: spec.openapi_path.clone().unwrap_or(d.openapi_path),
            title: spec.title.clone().unwrap_or(d.title),
            version: spec.version.clone().unwrap_or(d.version),
            description: spec.description.clone(),
            servers: spec
                .servers
                .iter()
                .map(|s| DocsServer {
                    url: s.url.clone(),
                    description: s.description.clone(),
                })
                .collect(),
        };
        let mut ok = true;
        for (field, value) in [("path", &cfg.path), ("openapi_path", &cfg.openapi_path)] {
            if let Some(why) = path_problem(value) {
                p.push(format!("docs.{field}"), format!("`{value}` {why}"));
                ok = false;
            }
        }
        if cfg.path == cfg.openapi_path {
            p.push(
                "docs.openapi_path",
                "must differ from `docs.path` (the page and the document need their own paths)",
            );
            ok = false;
        }
        if cfg.title.trim().is_empty() {
            p.push("docs.title", "must not be empty");
            ok = false;
        }
        if cfg.version.trim().is_empty() {
            p.push("docs.version", "must not be empty");
            ok = false;
        }
        for (i, s) in cfg.servers.iter().enumerate() {
            if s.url.is_empty() || s.url.contains(char::is_whitespace) {
                p.push(
                    format!("docs.servers[{i}].url"),
                    "must be a URL such as `https://api.example.com`",
                );
                ok = false;
            }
        }
        ok.then_some(cfg)
    }

    /// The `docs.*` field whose path a route at `route_path` would sit
    /// under, if any: the gateway answers those paths itself.
    pub(crate) fn shadowed_by(&self, route_path: &str) -> Option<(&'static str, &str)> {
        if under(route_path, &self.openapi_path) {
            Some(("openapi_path", &self.openapi_path))
        } else if under(route_path, &self.path) {
            Some(("path", &self.path))
        } else {
            None
        }
    }

    /// Whether the gateway answers `path` itself (the page, its assets or
    /// the document).
    pub(crate) fn owns(&self, path: &str) -> bool {
        path == self.openapi_path || under(path, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_under_docs_paths_are_detected_literal_prefix_only() {
        let d = DocsConfig::default();
        assert_eq!(d.shadowed_by("/docs").map(|s| s.0), Some("path"));
        assert_eq!(d.shadowed_by("/docs/{*rest}").map(|s| s.0), Some("path"));
        assert_eq!(
            d.shadowed_by("/openapi.json").map(|s| s.0),
            Some("openapi_path")
        );
        assert_eq!(d.shadowed_by("/docsy"), None);
        assert_eq!(d.shadowed_by("/{*rest}"), None);
        assert!(d.owns("/docs/assets/x.js"));
        assert!(!d.owns("/docsy"));
    }

    #[test]
    fn bad_paths_are_problems_naming_the_field() {
        let mut p = Problems::default();
        let spec = DocsSpec {
            path: Some("docs/".into()),
            openapi_path: Some("/".into()),
            ..DocsSpec::default()
        };
        assert!(DocsConfig::build(&spec, &mut p).is_none());
        let text = p.into_error("g.yaml").to_string();
        assert!(text.contains("docs.path"), "{text}");
        assert!(text.contains("docs.openapi_path"), "{text}");
    }
}
