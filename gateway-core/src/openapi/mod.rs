//! API documentation: one OpenAPI 3.1 document built from the routes when
//! the config is loaded, and (with `docs:` in the config) served with a
//! docs page whose assets are compiled in.
//!
//! Each route pattern becomes a path item (`{*rest}` catch-alls become a
//! `{rest}` parameter), each method an operation named after the route.
//! Host restrictions, header matches, API versions, `auth` mechanisms
//! (security schemes and requirements), `validate` schemas and the
//! upstream OpenAPI documents that `validate` checks against are merged in,
//! with the RFC 9457 problem responses the gateway may answer with. What a
//! policy kind contributes is decided in [`policies::describe_policy`],
//! the place to describe new kinds.

mod assets;
pub mod config;
mod document;
mod fragment;
pub mod operation;
mod paths;
pub mod policies;
mod problems;
mod security;
mod serve;
pub mod spec;
#[cfg(test)]
mod tests;
mod validate;
mod versions;

use bytes::Bytes;
use serde_json::Value;

pub use config::{DocsConfig, DocsServer};
pub use document::ANY_METHODS;
pub use serve::DocsSite;
pub use spec::{DocsServerSpec, DocsSpec};

use crate::config::spec::{GatewaySpec, RouteSpec, VersionSource};

/// A route as listed by `routes`: what it matches and how it is versioned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouteInfo {
    /// Path pattern.
    pub path: String,
    /// Methods it accepts; empty for any.
    pub methods: Vec<String>,
    /// Hosts it serves; empty for any.
    pub hosts: Vec<String>,
    /// Required request headers, as `name=value`.
    pub headers: Vec<String>,
    /// Versioning, e.g. `header api-version: v1, v2 (default v2)`.
    pub versioning: Option<String>,
}

impl RouteInfo {
    fn of(r: &RouteSpec) -> Self {
        let versioning = r.versioning.as_ref().map(|v| {
            let from = match v.from {
                VersionSource::Path => {
                    format!("path {{{}}}", v.name.as_deref().unwrap_or("version"))
                }
                VersionSource::Header => {
                    format!("header {}", v.name.as_deref().unwrap_or("api-version"))
                }
                VersionSource::Query => {
                    format!("query {}", v.name.as_deref().unwrap_or("version"))
                }
                VersionSource::MediaType => "media type".to_owned(),
            };
            let list: Vec<String> = v
                .versions
                .iter()
                .map(|(name, s)| {
                    if s.retired {
                        format!("{name} (retired)")
                    } else if s.deprecated.is_some() {
                        format!("{name} (deprecated)")
                    } else {
                        name.clone()
                    }
                })
                .collect();
            let default = v
                .default
                .as_ref()
                .map(|d| format!(", default {d}"))
                .unwrap_or_default();
            format!("{from}: {}{default}", list.join(", "))
        });
        Self {
            path: r.path.clone(),
            methods: r.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
            hosts: r.hosts.clone(),
            headers: r.headers.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            versioning,
        }
    }
}

/// The API description of a config: its OpenAPI document, its route
/// listing and, when `docs:` is set, the site that serves them.
#[derive(Debug, Clone)]
pub struct ApiDocs {
    document: Value,
    routes: Vec<RouteInfo>,
    site: Option<DocsSite>,
}

impl ApiDocs {
    /// Builds the description of `spec`, whose routes are named `names`
    /// (in config order); `docs` is the validated `docs:` section.
    pub(crate) fn build(spec: &GatewaySpec, names: &[String], docs: Option<DocsConfig>) -> Self {
        let info = docs.clone().unwrap_or_default();
        let document = document::build(spec, names, &info);
        let site = docs.map(|d| {
            let json = serde_json::to_vec(&document).unwrap_or_default();
            DocsSite::new(d, Bytes::from(json))
        });
        Self {
            document,
            routes: spec.routes.iter().map(RouteInfo::of).collect(),
            site,
        }
    }

    /// The OpenAPI 3.1 document.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The routes, in config order.
    pub fn routes(&self) -> &[RouteInfo] {
        &self.routes
    }

    /// The site serving the document and page, when `docs:` is set.
    pub fn site(&self) -> Option<&DocsSite> {
        self.site.as_ref()
    }
}
