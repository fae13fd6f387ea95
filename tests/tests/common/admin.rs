//! A gateway with its admin listener, and calls to the admin API.

use std::path::Path;

use anyhow::{Context as _, Result};
use gateway_local::RunningServer;
use gateway_local::admin::AdminOptions;
use serde_json::Value;

use super::{TestGateway, json_call, write_atomically};

/// The admin token the tests use.
pub(crate) const ADMIN_TOKEN: &str = "admin-test-token-7c1f";

/// A gateway on `127.0.0.1:0` with its admin listener on another loopback
/// port, serving a config file in its own temp directory.
pub(crate) struct AdminGateway(TestGateway);

impl AdminGateway {
    /// Starts with `token` (none: the admin listener must stay off).
    pub(crate) async fn start_with_token(yaml: &str, token: Option<&str>) -> Result<Self> {
        let admin = AdminOptions {
            listen: "127.0.0.1:0".parse()?,
            token: token.map(str::to_owned),
            allow_remote: false,
        };
        Ok(Self(
            TestGateway::start_with(yaml, false, Some(admin)).await?,
        ))
    }

    /// Starts with [`ADMIN_TOKEN`].
    pub(crate) async fn start(yaml: &str) -> Result<Self> {
        Self::start_with_token(yaml, Some(ADMIN_TOKEN)).await
    }

    /// The running server.
    pub(crate) fn server(&self) -> &RunningServer {
        self.0.server()
    }

    /// `http://PUBLIC` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        self.0.url(path)
    }

    /// `http://ADMIN` + `path`.
    pub(crate) fn admin_url(&self, path: &str) -> Result<String> {
        let addr = self
            .server()
            .admin_addr()
            .context("the admin listener runs")?;
        Ok(format!("http://{addr}{path}"))
    }

    /// The config file.
    pub(crate) fn config_path(&self) -> &Path {
        self.0.config_path()
    }

    /// Replaces the config file.
    pub(crate) fn write_config(&self, yaml: &str) -> Result<()> {
        write_atomically(self.0.config_path(), yaml)
    }

    /// An admin request with the token; the status and the body as JSON
    /// (a string when it is not JSON).
    pub(crate) async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        json_call(method, &self.admin_url(path)?, Some(ADMIN_TOKEN), body).await
    }

    /// `GET` on the admin API.
    pub(crate) async fn admin_get(&self, path: &str) -> Result<(u16, Value)> {
        self.admin(reqwest::Method::GET, path, None).await
    }
}
