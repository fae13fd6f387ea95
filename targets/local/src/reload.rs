//! Hot reload: when the config file changes (or on SIGHUP), the new file is
//! validated; a valid one is swapped in, an invalid one is refused with its
//! errors logged and the last good config keeps serving.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gateway_core::{ConfigError, Gateway, GatewayConfig};
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::load_config;

/// What a reload did.
#[derive(Debug)]
pub enum ReloadOutcome {
    /// The new config is live.
    Applied(ReloadSummary),
    /// The file was refused; the previous config is still serving.
    Refused(ConfigError),
}

/// What an applied reload changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadSummary {
    /// Routes of the new config.
    pub routes: usize,
    /// Settings that changed but take effect only after a restart.
    pub restart_required: Vec<&'static str>,
}

/// Settings that only take effect on restart.
fn restart_only_changes(old: &GatewayConfig, new: &GatewayConfig) -> Vec<&'static str> {
    let mut out = Vec::new();
    if old.server.listen != new.server.listen {
        out.push("server.listen");
    }
    if old.server.tls != new.server.tls {
        out.push("server.tls");
    }
    if old.store != new.store {
        out.push("store");
    }
    if old.server.limits.header_read_timeout != new.server.limits.header_read_timeout {
        out.push("server.limits.header_read_timeout");
    }
    out
}

/// Re-reads `path` and applies it if valid. Every caller (the file
/// watcher, SIGHUP, the admin API's `POST /reload`) comes through here, so
/// the `gateway_config_reloads_total` metric counts them all.
pub fn reload_now(path: &Path, gateway: &Gateway) -> ReloadOutcome {
    let started = std::time::Instant::now();
    let outcome = match load_config(path) {
        Ok(cfg) => {
            let old = gateway.config();
            let restart_required = restart_only_changes(&old, &cfg);
            for field in &restart_required {
                tracing::warn!(
                    field,
                    "this setting changed but takes effect only after a restart"
                );
            }
            let routes = cfg.routes().len();
            gateway.reload(cfg);
            tracing::info!(file = %path.display(), routes, "config reloaded");
            ReloadOutcome::Applied(ReloadSummary {
                routes,
                restart_required,
            })
        }
        Err(e) => {
            for p in &e.problems {
                tracing::error!(file = %e.file, field = %p.path, problem = %p.message, "config refused; keeping the last good config");
            }
            ReloadOutcome::Refused(e)
        }
    };
    crate::admin::metrics::record_reload(
        matches!(outcome, ReloadOutcome::Applied(_)),
        started.elapsed().as_secs_f64(),
    );
    outcome
}

/// Watches the config file's directory (editors often replace files) and
/// reloads after changes settle.
pub fn watch(path: PathBuf, gateway: Gateway) -> notify::Result<notify::RecommendedWatcher> {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let file_name = path.file_name().map(|n| n.to_owned());
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            let ours = event
                .paths
                .iter()
                .any(|p| p.file_name() == file_name.as_deref());
            let change = event.kind.is_modify() || event.kind.is_create();
            if ours && change {
                let _ = tx.send(());
            }
        }
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Let writes settle, then take every event so far as one.
            tokio::time::sleep(Duration::from_millis(150)).await;
            while rx.try_recv().is_ok() {}
            reload_now(&path, &gateway);
        }
    });
    Ok(watcher)
}
