//! Outbound HTTP for the self-hosted target: HTTP/1.1 keep-alive connection
//! pools per upstream, `https` through rustls (public roots, or a CA file).
//!
//! A lean pool over `hyper::client::conn::http1`: a connection goes back to
//! its pool when its response body has been read to the end, and a request
//! that could not be written on a pooled connection (closed meanwhile) is
//! retried on another one.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use gateway_core::error::UpstreamError;
use gateway_core::{Body, BodyError, HttpClient, SendOptions};
use http::uri::{Authority, Scheme};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use crate::body::from_incoming_then;

/// Idle connections kept per upstream.
const MAX_IDLE_PER_KEY: usize = 256;
/// Idle connections older than this are closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a pooled connection may take to become ready.
const READY_WAIT: Duration = Duration::from_millis(100);

/// What a pooled connection is specific to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    https: bool,
    authority: Authority,
    ca_file: Option<Arc<str>>,
}

struct Idle {
    sender: SendRequest<Body>,
    since: Instant,
}

#[derive(Default)]
struct Pools {
    /// Idle connections per key. A gateway has a handful of upstreams, so a
    /// scan beats hashing the authority on every request.
    idle: Mutex<Vec<(PoolKey, Vec<Idle>)>>,
    tls: RwLock<HashMap<Option<Arc<str>>, Arc<rustls::ClientConfig>>>,
}

/// The self-hosted target's [`HttpClient`].
#[derive(Default, Clone)]
pub struct HyperClient {
    pools: Arc<Pools>,
}

impl std::fmt::Debug for HyperClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperClient").finish_non_exhaustive()
    }
}

fn tls_config(ca_file: Option<&str>) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(file) => {
            for cert in CertificateDer::pem_file_iter(file)? {
                roots.add(cert?)?;
            }
            anyhow::ensure!(!roots.is_empty(), "no certificate in {file}");
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Finds our own body error or a timeout in an error's source chain.
fn classify(err: hyper::Error) -> UpstreamError {
    let mut source: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<BodyError>() {
            return UpstreamError::RequestBody(b.clone());
        }
        source = s.source();
    }
    UpstreamError::Protocol(Some(Box::new(err)))
}

fn connect_error(e: impl StdError + Send + Sync + 'static) -> UpstreamError {
    UpstreamError::Connect(Some(Box::new(e)))
}

impl Pools {
    fn tls(&self, ca_file: Option<&Arc<str>>) -> Result<Arc<rustls::ClientConfig>, UpstreamError> {
        let key = ca_file.cloned();
        if let Some(c) = self.tls.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(c.clone());
        }
        let config = tls_config(ca_file.map(|c| &**c)).map_err(|e| {
            tracing::error!(ca_file = ca_file.map(|c| &**c), error = %e, "cannot load upstream TLS roots");
            UpstreamError::Connect(None)
        })?;
        let config = Arc::new(config);
        self.tls
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, config.clone());
        Ok(config)
    }

    /// The most recently used idle connection that is still open.
    async fn checkout(&self, key: &PoolKey) -> Option<SendRequest<Body>> {
        loop {
            let idle = {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                idle.iter_mut().find(|(k, _)| k == key)?.1.pop()?
            };
            let mut sender = idle.sender;
            if sender.is_closed() || idle.since.elapsed() > IDLE_TIMEOUT {
                continue;
            }
            if sender.is_ready() {
                return Some(sender);
            }
            if let Ok(Ok(())) = tokio::time::timeout(READY_WAIT, sender.ready()).await {
                return Some(sender);
            }
        }
    }

    fn checkin(&self, key: PoolKey, sender: SendRequest<Body>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let at = match idle.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                idle.push((key, Vec::new()));
                idle.len() - 1
            }
        };
        let list = &mut idle[at].1;
        if list.len() < MAX_IDLE_PER_KEY {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    async fn connect(
        &self,
        key: &PoolKey,
        options: &SendOptions,
    ) -> Result<SendRequest<Body>, UpstreamError> {
        let host = key
            .authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = key
            .authority
            .port_u16()
            .unwrap_or(if key.https { 443 } else { 80 });
        let dial = async {
            let mut last = None;
            for addr in tokio::net::lookup_host((host, port))
                .await
                .map_err(connect_error)?
            {
                match TcpStream::connect(addr).await {
                    Ok(s) => return Ok(s),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.map_or(UpstreamError::Connect(None), connect_error))
        };
        let stream = tokio::time::timeout(options.connect_timeout, dial)
            .await
            .map_err(|_| UpstreamError::Timeout)??;
        let _ = stream.set_nodelay(true);
        let mut builder = http1::Builder::new();
        builder.max_buf_size(1 << 20);
        if key.https {
            let config = self.tls(key.ca_file.as_ref())?;
            let name = ServerName::try_from(host.to_owned()).map_err(connect_error)?;
            let handshake = TlsConnector::from(config).connect(name, stream);
            let tls = tokio::time::timeout(options.connect_timeout, handshake)
                .await
                .map_err(|_| UpstreamError::Timeout)?
                .map_err(connect_error)?;
            let (sender, conn) = builder
                .handshake(TokioIo::new(tls))
                .await
                .map_err(connect_error)?;
            tokio::spawn(conn);
            Ok(sender)
        } else {
            let (sender, conn) = builder
                .handshake(TokioIo::new(stream))
                .await
                .map_err(connect_error)?;
            tokio::spawn(conn);
            Ok(sender)
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for HyperClient {
    async fn send(
        &self,
        mut request: http::Request<Body>,
        options: SendOptions,
    ) -> Result<http::Response<Body>, UpstreamError> {
        let uri = request.uri();
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        let authority = uri
            .authority()
            .cloned()
            .ok_or(UpstreamError::Connect(None))?;
        let key = PoolKey {
            https,
            authority,
            ca_file: options.ca_file.clone(),
        };
        // Upstreams get origin-form request targets.
        let origin = uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
        *request.uri_mut() = http::Uri::from(origin);

        let mut pooled = true;
        loop {
            let mut sender = match self.pools.checkout(&key).await {
                Some(s) => s,
                None => {
                    pooled = false;
                    self.pools.connect(&key, &options).await?
                }
            };
            match sender.try_send_request(request).await {
                Ok(resp) => {
                    let pools = self.pools.clone();
                    let back = move || pools.checkin(key, sender);
                    return Ok(resp.map(|b| from_incoming_then(b, None, Box::new(back))));
                }
                Err(mut e) => match e.take_message() {
                    // Never written: the pooled connection had closed. Try another.
                    Some(r) if pooled => request = r,
                    _ => return Err(classify(e.into_error())),
                },
            }
        }
    }
}
