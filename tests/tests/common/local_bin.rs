//! The `local` binary, for tests that run it as a process.
//!
//! `CARGO_BIN_EXE_local` only exists for tests of the `local` package, so
//! the binary is built once per test process with the same cargo and
//! target directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context as _, Result, anyhow, ensure};

/// The workspace directory.
pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace")
        .to_owned()
}

/// The `local` binary, built on first use.
pub(crate) fn local_bin() -> Result<&'static Path> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| build_local().map_err(|e| format!("{e:#}")))
        .as_deref()
        .map_err(|e| anyhow!("{e}"))
}

fn build_local() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("CARGO_BIN_EXE_local") {
        return Ok(PathBuf::from(p));
    }
    // This test binary lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test binary outside <target>/<profile>/deps")?
        .to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build", "--quiet", "--locked", "-p", "local", "--bin", "local",
    ])
    .current_dir(workspace_root());
    // Cargo sets these for this test process; passed on, some build scripts
    // (ring's) see a changed environment and the shared target dir rebuilds.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let per_crate = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
        ]
        .iter()
        .any(|p| key.starts_with(p));
        if per_crate
            || key == "CARGO_TARGET_TMPDIR"
            || key == "CARGO_RUSTC_CURRENT_DIR"
            || key == "OUT_DIR"
        {
            cmd.env_remove(key.as_ref());
        }
    }
    if let Some(target_dir) = profile_dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target_dir);
    }
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running cargo build -p local")?;
    ensure!(status.success(), "cargo build -p local failed: {status}");
    let bin = profile_dir.join(format!("local{}", std::env::consts::EXE_SUFFIX));
    ensure!(bin.exists(), "{} was not built", bin.display());
    Ok(bin)
}

/// The lines a process wrote to its stdout so far, collected by a thread.
pub(crate) type Lines = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// A gateway running as a `local` process of its own, killed on drop.
#[derive(Debug)]
pub(crate) struct GatewayProcess {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl GatewayProcess {
    /// Starts `local` on `config` on a free loopback port and waits until
    /// it answers HTTP.
    pub(crate) async fn start(config: &Path) -> Result<Self> {
        Self::start_with_env(config, &[]).await
    }

    /// Like [`GatewayProcess::start`], with extra environment variables.
    pub(crate) async fn start_with_env(config: &Path, vars: &[(&str, &str)]) -> Result<Self> {
        Self::spawn(config, vars, false).await.map(|(p, _)| p)
    }

    /// Like [`GatewayProcess::start`], and collects the process's stdout
    /// (the access log) line by line.
    pub(crate) async fn start_capturing(config: &Path) -> Result<(Self, Lines)> {
        let (p, lines) = Self::spawn(config, &[], true).await?;
        Ok((p, lines.context("stdout is captured")?))
    }

    async fn spawn(
        config: &Path,
        vars: &[(&str, &str)],
        capture: bool,
    ) -> Result<(Self, Option<Lines>)> {
        let port = super::dead_port()?;
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        // Building the binary (first use only) blocks: off the runtime.
        let bin = tokio::task::spawn_blocking(|| local_bin().map(Path::to_owned)).await??;
        let child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .args(["--listen", &addr.to_string(), "--no-watch"])
            .env("GATEWAY_LOG", "warn")
            .envs(vars.iter().copied())
            .stdout(if capture {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            })
            .spawn()
            .context("starting the local binary")?;
        let mut process = Self { child, addr };
        let lines = process.child.stdout.take().map(|out| {
            let lines = Lines::default();
            let sink = lines.clone();
            std::thread::spawn(move || {
                use std::io::BufRead as _;
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
            });
            lines
        });
        let url = process.url("/");
        let up = super::eventually(std::time::Duration::from_secs(20), || {
            let url = url.clone();
            async move { super::client().get(url).send().await.is_ok() }
        })
        .await;
        ensure!(up, "the gateway process never answered on {addr}");
        Ok((process, lines))
    }

    /// Stops the process as an operator would (SIGTERM: drain, flush,
    /// exit) and waits up to 20 seconds for it to exit.
    #[cfg(unix)]
    pub(crate) async fn terminate(mut self) -> Result<std::process::ExitStatus> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("running kill")?;
        ensure!(status.success(), "kill -TERM failed: {status}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "the gateway process did not exit after SIGTERM"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// `http://ADDR` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
