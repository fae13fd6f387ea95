//! The `docs:` section of the config file.

use schemars::JsonSchema;
use serde::Deserialize;

/// API documentation served by the gateway: the OpenAPI 3.1 document built
/// from the routes, and a docs page that renders it. Off unless given.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocsSpec {
    /// Path of the human docs page (its assets are served below it).
    /// Default `/docs`.
    pub path: Option<String>,
    /// Path of the OpenAPI document (JSON). Default `/openapi.json`.
    pub openapi_path: Option<String>,
    /// `info.title` of the document and the page title. Default `API`.
    pub title: Option<String>,
    /// `info.version` of the document (the API's version, not the
    /// gateway's). Default `1.0.0`.
    pub version: Option<String>,
    /// `info.description` of the document (CommonMark).
    pub description: Option<String>,
    /// Base URLs clients reach the API at, e.g. `https://api.example.com`.
    /// Default: none (the document's paths are relative to where it was
    /// fetched from).
    #[serde(default)]
    pub servers: Vec<DocsServerSpec>,
}

/// One server of the API.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocsServerSpec {
    /// Base URL, e.g. `https://api.example.com`.
    pub url: String,
    /// What this server is, e.g. `production`.
    pub description: Option<String>,
}
