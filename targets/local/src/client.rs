//! Outbound HTTP for the self-hosted target: pooled keep-alive connections,
//! HTTP/1.1 and HTTP/2, `https` through rustls with the webpki roots.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Mutex;
use std::time::Duration;

use gateway_core::error::UpstreamError;
use gateway_core::{Body, BodyError, HttpClient, SendOptions};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::body::from_incoming;

type Pool = Client<HttpsConnector<HttpConnector>, Body>;

/// A pooled client per connect timeout (timeouts are a connector setting).
#[derive(Default)]
pub struct HyperClient {
    pools: Mutex<HashMap<Duration, Pool>>,
}

impl std::fmt::Debug for HyperClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperClient").finish_non_exhaustive()
    }
}

fn build_pool(connect_timeout: Duration) -> Pool {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_keepalive(Some(Duration::from_secs(60)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .build(https)
}

impl HyperClient {
    fn pool(&self, connect_timeout: Duration) -> Pool {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        pools
            .entry(connect_timeout)
            .or_insert_with(|| build_pool(connect_timeout))
            .clone()
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
            .pool(options.connect_timeout)
            .request(request)
            .await
            .map_err(classify)?;
        Ok(resp.map(|b| from_incoming(b, None)))
    }
}
