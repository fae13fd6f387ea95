//! A Redis server for tests: the one at `REDIS_URL` (as `./scripts/test`
//! starts), or a `redis-server` child process on a free loopback port,
//! killed when dropped.

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

/// A Redis server the test may use.
#[derive(Debug)]
pub(crate) struct TestRedis {
    url: String,
    child: Option<Child>,
}

impl TestRedis {
    /// `REDIS_URL`, or a fresh `redis-server` on a free port.
    pub(crate) async fn start() -> Result<Self> {
        if let Ok(url) = std::env::var("REDIS_URL")
            && !url.is_empty()
        {
            return Ok(Self { url, child: None });
        }
        for _ in 0..5 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
                .local_addr()?
                .port();
            let mut child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context(
                    "these tests need Redis: set REDIS_URL=redis://host:port/ or put `redis-server` on PATH",
                )?;
            for _ in 0..200 {
                if child.try_wait()?.is_some() {
                    break; // The port was taken; try another.
                }
                if tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                    .await
                    .is_ok()
                {
                    return Ok(Self {
                        url: format!("redis://127.0.0.1:{port}/"),
                        child: Some(child),
                    });
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        bail!("redis-server did not start on a free loopback port")
    }

    /// The `redis://` URL.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
