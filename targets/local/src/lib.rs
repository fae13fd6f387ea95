//! The self-hosted gateway: hyper + tokio around `gateway-core`.
//!
//! This crate only adapts: it converts hyper types to `http` types,
//! implements the core's environment traits on tokio, and runs listeners.

pub mod access_log;
pub mod admin;
pub mod dns;
pub mod head_timeout;
pub mod health;
pub mod otlp;
pub mod reload;
pub mod server;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use gateway_core::config::ConfigProblem;
use gateway_core::{Capabilities, ConfigError, Gateway, GatewayConfig, KvStore, PolicyRegistry};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use gateway_registry::Registry;
use gateway_tokio::{HyperClient, SystemClock, tokio_env};

/// Entries the embedded store keeps at most.
const MEMORY_STORE_ENTRIES: usize = 100_000;

/// The default listen address when neither flag nor config gives one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// What the self-hosted target offers.
pub const CAPABILITIES: Capabilities = Capabilities {
    target: "local",
    shared_state: true,
    atomic_counters: true,
    exact_counters_hint: "",
    platform_store: None,
    background_work: true,
    file_system: true,
    listener: true,
    redis: true,
    max_concurrent_subrequests: None,
    active_health_checks: true,
    dns_discovery: true,
};

/// Reads and validates a config file, also against [`CAPABILITIES`].
pub fn load_config(path: &Path) -> Result<GatewayConfig, ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: name.clone(),
        problems: vec![ConfigProblem::new("", format!("cannot read the file: {e}"))],
    })?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| e.to_string());
    let config = gateway_core::config::load_file_text_with_files(
        &name,
        &text,
        &PolicyRegistry::builtin(),
        &read,
        &|name| std::env::var(name).ok(),
    )?;
    for w in CAPABILITIES.check(&config)? {
        tracing::warn!(file = %name, field = %w.path, "{}", w.message);
    }
    Ok(config)
}

/// Connects the configured state store: in memory (per instance) by
/// default, Redis when the config names a `redis://` URL.
pub async fn build_store(config: &GatewayConfig) -> anyhow::Result<Arc<dyn KvStore>> {
    gateway_store_redis::open_store(&config.store, Arc::new(SystemClock), MEMORY_STORE_ENTRIES)
        .await
        .context("connecting the state store")
}

/// The gateway with the service registry over `env.store` and the
/// system's DNS resolver (for `dns` upstreams) wired in.
pub fn wire_discovery(gateway: Gateway, env: &gateway_core::Env) -> Gateway {
    let gateway = gateway.with_directory(Arc::new(Registry::new(env)));
    match dns::DnsResolver::system() {
        Ok(resolver) => gateway.with_resolver(Arc::new(resolver)),
        Err(e) => {
            tracing::warn!(error = %e, "no DNS resolver: `dns` upstreams will answer 503");
            gateway
        }
    }
}

/// How to start a server.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// The config file.
    pub config: PathBuf,
    /// Overrides `server.listen`.
    pub listen: Option<SocketAddr>,
    /// Reload when the file changes.
    pub watch: bool,
    /// The admin listener, if wanted (it starts only with a token).
    pub admin: Option<admin::AdminOptions>,
}

/// A server running in the background.
pub struct RunningServer {
    addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    _admin: Option<AbortOnDrop>,
    gateway: Gateway,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    _watcher: Option<notify::RecommendedWatcher>,
    _health_checks: AbortOnDrop,
    spans: Option<otlp::SpanExport>,
}

/// Aborts a background task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin listener's bound address, when it runs.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The gateway being served.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// Stops accepting, drains in-flight requests, exports the spans
    /// still queued and returns when done.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        self.wait().await;
    }

    /// A handle that can trigger shutdown from elsewhere.
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }

    /// Waits until the server stops, then exports the spans still queued.
    pub async fn wait(self) {
        let _ = self.task.await;
        if let Some(spans) = self.spans {
            spans.shutdown().await;
        }
    }
}

/// Loads the config, connects the store, binds and serves in the background.
pub async fn start(opts: StartOptions) -> anyhow::Result<RunningServer> {
    let cfg = load_config(&opts.config)?;
    let listen = match opts.listen.or(cfg.server.listen) {
        Some(a) => a,
        None => DEFAULT_LISTEN.parse().context("default listen address")?,
    };
    let tls = cfg.server.tls.as_ref().map(tls::acceptor).transpose()?;
    let mut settings = server::ListenerSettings::from_config(&cfg);
    let store = build_store(&cfg).await?;
    let env = tokio_env(store, Arc::new(HyperClient::default()));
    let mut gateway = Gateway::new(cfg, env.clone());
    let spans = otlp::SpanExport::from_env()?;
    if let Some(export) = &spans {
        gateway = gateway.with_span_recording();
        settings.spans = Some(export.sink());
    }
    let gateway = wire_discovery(gateway, &env);
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    let watcher = if opts.watch {
        Some(
            reload::watch(opts.config.clone(), gateway.clone())
                .context("watching the config file")?,
        )
    } else {
        None
    };
    let health_checks = AbortOnDrop(health::supervise(gateway.clone()));
    let (tx, rx) = watch::channel(false);
    let admin = match &opts.admin {
        Some(a) => admin::bind(a).await?,
        None => None,
    };
    let (admin_addr, admin_task) = match admin {
        Some((listener, token)) => {
            let admin_addr = listener.local_addr()?;
            let state = admin::AdminState {
                gateway: gateway.clone(),
                config_path: opts.config.clone(),
                token,
                metrics: admin::metrics::install(),
            };
            tracing::info!(addr = %admin_addr, "admin API listening");
            let task = tokio::spawn(admin::serve(listener, state, rx.clone()));
            (Some(admin_addr), Some(AbortOnDrop(task)))
        }
        None => (None, None),
    };
    let task = tokio::spawn(server::serve(listener, tls, gateway.clone(), settings, rx));
    Ok(RunningServer {
        addr,
        admin_addr,
        _admin: admin_task,
        gateway,
        shutdown: tx,
        task,
        _watcher: watcher,
        _health_checks: health_checks,
        spans,
    })
}
