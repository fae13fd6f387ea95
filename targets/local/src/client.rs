//! Outbound HTTP for the self-hosted target: pooled keep-alive connections,
//! HTTP/1.1 and HTTP/2, `https` through rustls with the webpki roots.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use gateway_core::error::UpstreamError;
use gateway_core::{Body, BodyError, HttpClient, SendOptions};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::body::from_incoming;

type Pool = Client<HttpsConnector<HttpConnector>, Body>;

/// What a connection pool is specific to (both are connector settings).
type PoolKey = (Duration, Option<Arc<str>>);

/// A pooled client per connect timeout and trusted-CA file.
#[derive(Default)]
pub struct HyperClient {
    pools: RwLock<HashMap<PoolKey, Arc<Pool>>>,
}

impl std::fmt::Debug for HyperClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperClient").finish_non_exhaustive()
    }
}

/// A TLS client config trusting only the CAs in `ca_file`.
fn custom_roots(ca_file: &str) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file)? {
        roots.add(cert?)?;
    }
    anyhow::ensure!(!roots.is_empty(), "no certificate in {ca_file}");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn build_pool(connect_timeout: Duration, ca_file: Option<&str>) -> Result<Pool, UpstreamError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_keepalive(Some(Duration::from_secs(60)));
    let builder = match ca_file {
        None => hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots(),
        Some(file) => {
            let config = custom_roots(file).map_err(|e| {
                tracing::error!(ca_file = file, error = %e, "cannot load the upstream CA file");
                UpstreamError::Connect(None)
            })?;
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    let https = builder
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .build(https))
}

impl HyperClient {
    fn pool(&self, options: &SendOptions) -> Result<Arc<Pool>, UpstreamError> {
        let key = (options.connect_timeout, options.ca_file.clone());
        if let Some(pool) = self
            .pools
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(pool.clone());
        }
        let mut pools = self.pools.write().unwrap_or_else(|p| p.into_inner());
        if let Some(pool) = pools.get(&key) {
            return Ok(pool.clone());
        }
        let pool = Arc::new(build_pool(
            options.connect_timeout,
            options.ca_file.as_deref(),
        )?);
        pools.insert(key, pool.clone());
        Ok(pool)
    }
}

/// Finds our own body error or a timeout in an error's source chain.
fn classify(err: hyper_util::client::legacy::Error) -> UpstreamError {
    let mut source: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<BodyError>() {
            return UpstreamError::RequestBody(b.clone());
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return UpstreamError::Timeout;
        }
        source = s.source();
    }
    if err.is_connect() {
        UpstreamError::Connect(Some(Box::new(err)))
    } else {
        UpstreamError::Protocol(Some(Box::new(err)))
    }
}

#[async_trait::async_trait]
impl HttpClient for HyperClient {
    async fn send(
        &self,
        request: http::Request<Body>,
        options: SendOptions,
    ) -> Result<http::Response<Body>, UpstreamError> {
        let resp = self
            .pool(&options)?
            .request(request)
            .await
            .map_err(classify)?;
        Ok(resp.map(|b| from_incoming(b, None)))
    }
}
