//! The `local` binary, for tests that run it as a process.
//!
//! `CARGO_BIN_EXE_local` only exists for tests of the `local` package, so
//! the binary is built once here with the same cargo and target directory.

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
