//! The admin API: a second listener, loopback by default and protected by
//! a bearer token, for operators (see docs/admin.md).
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /config` | the config being served, secrets redacted |
//! | `POST /reload` | reload the config file (as the file watcher does): 200 summary, or 422 with the problems |
//! | `GET /routes` | the routes (the facts of the `routes` command) |
//! | `GET /upstreams` | endpoints with health, breaker states, discovery source |
//! | `POST /cache/purge` | purge the response cache by `url`, `prefix` or `tag` |
//! | `GET /registry` | the service registry's services and instances |
//! | `GET /metrics` | Prometheus text exposition |
//!
//! It is a process setting of the self-hosted target (flags and
//! environment, [`AdminOptions`]), not part of the gateway config: the
//! config it shows and reloads cannot switch it on or widen it.

mod handlers;
pub mod metrics;
mod respond;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use gateway_core::Gateway;
use gateway_core::auth::BearerToken;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The admin listener's default address (loopback only).
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9901";

/// How the admin listener runs.
#[derive(Clone)]
pub struct AdminOptions {
    /// Where it listens.
    pub listen: SocketAddr,
    /// The bearer token every request must present. Without one the admin
    /// listener does not start.
    pub token: Option<String>,
    /// Allow a non-loopback `listen` address.
    pub allow_remote: bool,
}

impl std::fmt::Debug for AdminOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminOptions")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "redacted"))
            .field("allow_remote", &self.allow_remote)
            .finish()
    }
}

/// What the handlers need.
pub(crate) struct AdminState {
    pub(crate) gateway: Gateway,
    /// The config file that `POST /reload` reads.
    pub(crate) config_path: PathBuf,
    pub(crate) token: BearerToken,
    /// The Prometheus recorder, when this process could install it.
    pub(crate) metrics: Option<PrometheusHandle>,
}

/// Binds the admin listener if `opts` allow it: `None` (with a log line)
/// without a token; an error for a non-loopback address without
/// `allow_remote`, or when the address cannot be bound.
pub async fn bind(opts: &AdminOptions) -> anyhow::Result<Option<(TcpListener, BearerToken)>> {
    let Some(token) = opts
        .token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        tracing::info!("admin API off: no token (set GATEWAY_ADMIN_TOKEN or --admin-token-file)");
        return Ok(None);
    };
    if !opts.listen.ip().is_loopback() && !opts.allow_remote {
        bail!(
            "the admin API would listen on {}, which is not a loopback address: pass --admin-allow-remote (GATEWAY_ADMIN_ALLOW_REMOTE=true) to allow it",
            opts.listen
        );
    }
    let listener = TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("binding the admin listener {}", opts.listen))?;
    Ok(Some((listener, BearerToken::from_token(token))))
}

/// Serves the admin API on `listener` until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    state: AdminState,
    mut shutdown: watch::Receiver<bool>,
) {
    let state = Arc::new(state);
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let Some((stream, _)) =
            crate::server::next_connection(&listener, &mut shutdown, "admin").await
        else {
            break;
        };
        let state = state.clone();
        conns.spawn(async move {
            let svc = service_fn(move |req: http::Request<Incoming>| {
                let state = state.clone();
                async move {
                    let resp = handlers::handle(&state, req).await;
                    Ok::<_, Infallible>(resp)
                }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder.serve_connection(TokioIo::new(stream), svc).await {
                tracing::debug!(error = %e, "admin connection closed with error");
            }
        });
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}
