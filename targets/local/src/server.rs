//! The listener: accepts TCP (optionally TLS), speaks HTTP/1.1 and HTTP/2,
//! enforces connection-level limits and drains in-flight requests on shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gateway_core::{ClientInfo, Gateway};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::head_timeout::{HeadTimeout, InFlight};
use gateway_tokio::body::from_incoming;

/// Connection-level settings taken from the config at start.
#[derive(Debug, Clone)]
pub struct ListenerSettings {
    /// Header bytes hyper buffers before refusing (431) outright.
    pub max_head_bytes: usize,
    /// Header fields hyper parses before refusing (431) outright.
    pub max_headers: usize,
    /// Time to receive a request head (408).
    pub header_read_timeout: Duration,
    /// Longest pause inside a request body (408).
    pub body_idle_timeout: Duration,
    /// Time allowed for in-flight requests on shutdown.
    pub shutdown_grace: Duration,
    /// Where recorded traces go for OTLP export, when exporting.
    pub spans: Option<crate::otlp::SpanSink>,
}

impl ListenerSettings {
    /// Derives the settings from a config. hyper's own caps sit above the
    /// gateway's limits so that the gateway answers with problem+json first.
    pub fn from_config(cfg: &gateway_core::GatewayConfig) -> Self {
        let l = &cfg.server.limits;
        Self {
            max_head_bytes: (2 * (l.max_header_bytes + l.max_uri_bytes)).max(16 * 1024),
            max_headers: 2 * l.max_header_count + 8,
            header_read_timeout: l.header_read_timeout,
            body_idle_timeout: l.body_idle_timeout,
            shutdown_grace: cfg.server.shutdown_grace,
            spans: None,
        }
    }
}

fn builder(s: &ListenerSettings) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .max_buf_size(s.max_head_bytes.max(8192))
        .max_headers(s.max_headers)
        // The gateway's own 408 (HeadTimeout) fires first; this is the backstop.
        .header_read_timeout(s.header_read_timeout + Duration::from_secs(1))
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(s.max_head_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    b
}

async fn serve_conn<I>(
    io: I,
    peer: SocketAddr,
    tls: bool,
    gateway: Gateway,
    settings: Arc<ListenerSettings>,
    watcher: Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let in_flight = InFlight::default();
    let io = HeadTimeout::new(io, settings.header_read_timeout, in_flight.clone());
    let idle = settings.body_idle_timeout;
    let client = ClientInfo {
        peer: peer.ip(),
        tls,
    };
    let spans = settings.spans.clone();
    let svc = service_fn(move |req: http::Request<Incoming>| {
        let gateway = gateway.clone();
        let guard = in_flight.start();
        let spans = spans.clone();
        async move {
            let started = std::time::Instant::now();
            let req = req.map(|b| from_incoming(b, Some(idle)));
            let mut resp = gateway.handle(req, client).await;
            if let Some(spans) = &spans {
                spans.offer(&mut resp);
            }
            crate::access_log::record(&mut resp, started);
            log_findings(&resp, client);
            drop(guard);
            Ok::<_, Infallible>(resp)
        }
    });
    let b = builder(&settings);
    let conn = b.serve_connection(TokioIo::new(io), svc).into_owned();
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection closed with error");
    }
}

/// Logs what policies found (WAF matches, upstream responses that broke
/// their contract) as structured events; see `gateway_core::report`.
fn log_findings<B>(resp: &http::Response<B>, client: ClientInfo) {
    let status = resp.status().as_u16();
    if let Some(w) = resp.extensions().get::<gateway_core::waf::WafReport>() {
        let rules = w.rule_ids();
        tracing::warn!(peer = %client.peer, status, rules, score = w.score, "waf rules matched");
    }
    if let Some(v) = resp
        .extensions()
        .get::<gateway_core::validate::ResponseValidationReport>()
    {
        let (pointers, enforced) = (v.pointers(), v.enforced);
        tracing::warn!(
            status,
            pointers,
            enforced,
            "upstream response failed validation"
        );
    }
}

/// The next connection on `listener`, or `None` once `shutdown` turns true.
/// A failed accept (such as too many open files) is logged under
/// `listener`'s name and retried after 50 ms.
pub(crate) async fn next_connection(
    listener: &TcpListener,
    shutdown: &mut watch::Receiver<bool>,
    name: &str,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        // The wait's `Ref` is not `Send`: it ends inside its own block.
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = async { let _ = shutdown.wait_for(|s| *s).await; } => return None,
        };
        match accepted {
            Ok(x) => return Some(x),
            Err(e) => {
                tracing::warn!(error = %e, listener = name, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Accepts connections until `shutdown` turns true, then drains.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    gateway: Gateway,
    settings: ListenerSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    let settings = Arc::new(settings);
    let graceful = GracefulShutdown::new();
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let Some((stream, peer)) = next_connection(&listener, &mut shutdown, "gateway").await
        else {
            break;
        };
        let _ = stream.set_nodelay(true);
        let (gateway, settings, watcher) = (gateway.clone(), settings.clone(), graceful.watcher());
        match &tls {
            None => {
                conns.spawn(serve_conn(stream, peer, false, gateway, settings, watcher));
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                conns.spawn(async move {
                    let timeout = settings.header_read_timeout;
                    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls_stream)) => {
                            serve_conn(tls_stream, peer, true, gateway, settings, watcher).await
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
            }
        }
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    if tokio::time::timeout(settings.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = conns.len(),
            "shutdown grace period over; closing remaining connections"
        );
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}
