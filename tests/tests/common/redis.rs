//! A Redis server for tests: the one at `REDIS_URL` when set (as
//! `scripts/test` provides), otherwise a throwaway `redis-server` on a free
//! loopback port, stopped on drop. With neither, the test fails.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::{dead_port, eventually};

/// A running Redis.
#[derive(Debug)]
pub(crate) struct Redis {
    url: String,
    child: Option<Child>,
}

impl Redis {
    /// `REDIS_URL`, or a server of our own.
    pub(crate) async fn start() -> Result<Self> {
        if let Ok(url) = std::env::var("REDIS_URL")
            && !url.is_empty()
        {
            return Ok(Self { url, child: None });
        }
        Self::start_own().await
    }

    /// A throwaway `redis-server` of our own, even when `REDIS_URL` is
    /// set (for tests that stop it).
    pub(crate) async fn start_own() -> Result<Self> {
        for _ in 0..5 {
            let port = dead_port()?;
            let mut child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting redis-server (install it, or set REDIS_URL)")?;
            let up = eventually(Duration::from_secs(5), || async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
            })
            .await;
            if up {
                return Ok(Self {
                    url: format!("redis://127.0.0.1:{port}/"),
                    child: Some(child),
                });
            }
            // The port was taken meanwhile: try another.
            let _ = child.kill();
            let _ = child.wait();
        }
        bail!("redis-server did not start on a free loopback port after 5 attempts")
    }

    /// The `redis://` URL.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Redis {
    /// Stops a server of our own (a shared one is left alone).
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
