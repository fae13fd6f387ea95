//! AWS Lambda adapter for the gateway.
//!
//! Serves API Gateway REST (v1) and HTTP API (v2), Application Load Balancer
//! and Function URL events through [`lambda_http`]. The adapter only
//! converts: a [`lambda_http::Request`] becomes an `http::Request` of core
//! [`Body`], the core's response becomes a [`lambda_http::Body`], and the
//! environment is the shared tokio one ([`gateway_tokio`]) with deferred work
//! collected and awaited before each invocation returns. It holds no gateway
//! logic.
//!
//! # Paths
//! REST (v1) events put the stage in the request URI (`/prod/hello`); the
//! gateway routes on the path the client asked the API for, without the
//! stage: the event's raw path ([`RequestExt::raw_http_path`]). HTTP API (v2)
//! events on a named stage carry the stage in `rawPath` itself; it is removed
//! the same way, so one config routes alike behind every front door.
//!
//! # Client address
//! API Gateway (v1 `identity.sourceIp`, v2 `http.sourceIp`) and Function
//! URLs (`http.sourceIp`) name the client in the request context, and that is
//! the peer address the gateway sees. ALB events carry no client address: the
//! peer is `0.0.0.0` and the client is in `X-Forwarded-For`, which the gateway
//! believes only when the config trusts that peer, e.g.
//! `server.trusted_proxies: ["0.0.0.0/32"]`. All these front doors terminate
//! TLS, so requests count as TLS.
//!
//! # Config
//! The config is embedded at build time ([`EMBEDDED`]), validated then
//! by `build.rs`; `GATEWAY_CONFIG_FILE` names a file that replaces it at
//! start. The environment (store connection, HTTP client pools) is built
//! once per cold start and shared by every invocation of the instance.

mod capabilities;

use std::borrow::Cow;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use anyhow::Context as _;
use bytes::Bytes;
use gateway_core::config::ConfigProblem;
use gateway_core::env::BoxFuture;
use gateway_core::{
    Body, BodyError, ClientInfo, ConfigError, Deferred, Gateway, GatewayConfig, KvStore,
};
use gateway_tokio::{HyperClient, SystemClock, tokio_env};
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue};
use lambda_http::request::RequestContext;
use lambda_http::{IntoResponse, RequestExt};
use percent_encoding::{AsciiSet, CONTROLS};
use tokio::task::JoinHandle;

pub use capabilities::capabilities;

/// The config embedded at build time (validated by `build.rs`).
pub const EMBEDDED: gateway_embed::Embedded = gateway_embed::embedded!();

/// Environment variable naming a config file that replaces the embedded one.
pub const CONFIG_FILE_ENV: &str = "GATEWAY_CONFIG_FILE";

/// Largest response body sent back: Lambda's limit for a buffered response
/// payload. A larger body fails the invocation (the front door answers 502).
pub const MAX_RESPONSE_BYTES: u64 = 6 * 1024 * 1024;

/// Entries the in-memory store keeps at most per instance.
const MEMORY_STORE_ENTRIES: usize = 100_000;

/// Validates config text, also against the Lambda target's capabilities;
/// settings that do not apply on Lambda are logged as warnings.
pub fn load_config_text(name: &str, text: &str) -> Result<GatewayConfig, ConfigError> {
    let var = |name: &str| std::env::var(name).ok();
    let (config, warnings) =
        gateway_embed::check_text(name, text, &var, |c| capabilities(&c.store))?;
    for w in warnings {
        tracing::warn!(file = %name, field = %w.path, "{}", w.message);
    }
    Ok(config)
}

/// The config to serve: the file named by `GATEWAY_CONFIG_FILE` if set,
/// else the embedded one.
pub fn load_config() -> Result<GatewayConfig, ConfigError> {
    match std::env::var_os(CONFIG_FILE_ENV) {
        Some(path) => {
            let name = std::path::Path::new(&path).display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
                file: name.clone(),
                problems: vec![ConfigProblem::new("", format!("cannot read the file: {e}"))],
            })?;
            load_config_text(&name, &text)
        }
        None => load_config_text(EMBEDDED.name, EMBEDDED.text),
    }
}

/// Connects the configured state store: in memory (per instance) by
/// default, Redis when the config names a `redis://` URL.
pub async fn build_store(config: &GatewayConfig) -> anyhow::Result<Arc<dyn KvStore>> {
    gateway_store_redis::open_store(&config.store, Arc::new(SystemClock), MEMORY_STORE_ENTRIES)
        .await
        .context("connecting the state store")
}

/// Deferred work that must finish before the invocation returns: Lambda
/// freezes the instance once the response is handed back, so work left
/// running would stall until the next invocation, or never run.
///
/// Each piece of work is spawned at once (it overlaps with the rest of the
/// request) and its handle kept; [`drain`](Self::drain) awaits them all. The
/// collector is shared by the instance: invocations run one at a time
/// (`lambda_http::run`), so what it holds belongs to the current one.
#[derive(Debug, Default)]
pub struct InvocationDeferred {
    pending: Mutex<Vec<JoinHandle<()>>>,
}

impl InvocationDeferred {
    /// Awaits all deferred work, including work deferred meanwhile.
    pub async fn drain(&self) {
        loop {
            let batch =
                std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
            if batch.is_empty() {
                return;
            }
            for handle in batch {
                if let Err(e) = handle.await {
                    tracing::error!(error = %e, "deferred work failed");
                }
            }
        }
    }

    /// How many pieces of work have not been awaited yet.
    pub fn pending(&self) -> usize {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Deferred for InvocationDeferred {
    fn defer(&self, work: BoxFuture<'static, ()>) {
        let handle = tokio::spawn(work);
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(handle);
    }
}

/// The gateway as a Lambda handler: a [`lambda_http::Service`] for
/// `lambda_http::run`. Cheap to clone; clones share the gateway.
#[derive(Debug, Clone)]
pub struct LambdaGateway {
    gateway: Gateway,
    deferred: Arc<InvocationDeferred>,
}

impl LambdaGateway {
    /// Builds the environment for `config` (store, HTTP client, deferred
    /// work collector) once, for every invocation of this instance.
    pub async fn from_config(config: GatewayConfig) -> anyhow::Result<Self> {
        let store = build_store(&config).await?;
        let deferred = Arc::new(InvocationDeferred::default());
        let mut env = tokio_env(store, Arc::new(HyperClient::default()));
        env.deferred = deferred.clone();
        let registry = Arc::new(gateway_registry::Registry::new(&env));
        Ok(Self {
            gateway: Gateway::new(config, env).with_directory(registry),
            deferred,
        })
    }

    /// The gateway being served.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The deferred work collector of this instance.
    pub fn deferred(&self) -> &InvocationDeferred {
        &self.deferred
    }

    /// Handles one invocation: converts the event's request, lets the
    /// gateway answer, buffers the response body and awaits deferred work.
    ///
    /// Fails only when the response body cannot be read to its end (the
    /// upstream broke off, or it exceeds [`MAX_RESPONSE_BYTES`]); Lambda then
    /// reports an invocation error and the front door answers 502, as a
    /// server would drop the connection.
    pub async fn handle(
        &self,
        request: lambda_http::Request,
    ) -> Result<LambdaReply, lambda_http::Error> {
        let started = std::time::Instant::now();
        let (request, client) = to_core_request(request);
        let mut response = self.gateway.handle(request, client).await;
        for line in gateway_core::report::log_lines(&response) {
            tracing::warn!("{line}");
        }
        // The access log line and the metrics event, as JSON lines on
        // stdout (CloudWatch Logs), apart from the tracing output.
        for line in gateway_core::observe::edge_lines_timed(&mut response, started.elapsed()) {
            println!("{line}");
        }
        let response = to_lambda_response(response).await.inspect_err(|e| {
            tracing::warn!(error = %e, "response body unreadable: failing the invocation");
        });
        self.deferred.drain().await;
        Ok(LambdaReply(response?))
    }
}

impl lambda_http::Service<lambda_http::Request> for LambdaGateway {
    type Response = LambdaReply;
    type Error = lambda_http::Error;
    type Future = Pin<Box<dyn Future<Output = Result<LambdaReply, lambda_http::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: lambda_http::Request) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.handle(request).await })
    }
}

/// A response whose body is already [`Text`](lambda_http::Body::Text) or
/// [`Binary`](lambda_http::Body::Binary) as [`to_lambda_response`] decided.
/// `lambda_http` passes it on as is (its own conversion for `Response<B>`
/// would read the body again and decode bodies without a `Content-Type` as
/// text, mangling binary ones).
#[derive(Debug)]
pub struct LambdaReply(pub http::Response<lambda_http::Body>);

impl IntoResponse for LambdaReply {
    fn into_response(
        self,
    ) -> Pin<Box<dyn Future<Output = http::Response<lambda_http::Body>> + Send>> {
        Box::pin(std::future::ready(self.0))
    }
}

/// Characters that cannot stand in a request target; event paths that are
/// not URI-safe (REST events carry decoded paths) get them percent-encoded.
const PATH_UNSAFE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The path the client asked the API for, without any stage prefix.
fn routed_path(request: &lambda_http::Request) -> Cow<'_, str> {
    let raw = request.raw_http_path();
    let raw = if raw.is_empty() {
        request.uri().path()
    } else {
        raw
    };
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(cx)) => cx.stage.as_deref(),
        _ => None,
    };
    let path = match stage {
        Some(stage) if stage != "$default" => {
            let rest = raw
                .strip_prefix('/')
                .and_then(|r| r.strip_prefix(stage))
                .filter(|r| r.is_empty() || r.starts_with('/'));
            match rest {
                Some("") => "/",
                Some(rest) => rest,
                None => raw,
            }
        }
        _ => raw,
    };
    if path.starts_with('/') {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(format!("/{path}"))
    }
}

/// The client address the event names (none for ALB).
fn client_ip(request: &lambda_http::Request) -> IpAddr {
    let ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(cx)) => cx.identity.source_ip.as_deref(),
        Some(RequestContext::ApiGatewayV2(cx)) => cx.http.source_ip.as_deref(),
        _ => None,
    };
    ip.and_then(|ip| ip.parse().ok())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// The origin-form request target: the routed path and the query.
fn request_target(request: &lambda_http::Request) -> http::Uri {
    let path = routed_path(request);
    // The query comes from an `http::Uri` already, so it is valid.
    let query = request.uri().query().filter(|q| !q.is_empty());
    let join = |p: &str| match query {
        Some(q) => format!("{p}?{q}"),
        None => p.to_owned(),
    };
    http::Uri::try_from(join(&path)).unwrap_or_else(|_| {
        let path = percent_encoding::utf8_percent_encode(&path, PATH_UNSAFE).to_string();
        http::Uri::try_from(join(&path))
            .expect("a percent-encoded path and a valid query form a valid request target")
    })
}

/// Converts an event's request into the core's request and client info.
///
/// The request target is origin-form (`/path?query`) on the raw path without
/// the stage; a missing `Host` is taken from the event's domain name, and
/// `Content-Length` is the length of the event's body.
pub fn to_core_request(request: lambda_http::Request) -> (http::Request<Body>, ClientInfo) {
    let client = ClientInfo {
        peer: client_ip(&request),
        tls: true,
    };
    let target = request_target(&request);
    let host = request
        .uri()
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok());
    let (parts, body) = request.into_parts();
    let body = match body {
        lambda_http::Body::Text(s) => Bytes::from(s),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    let mut headers = parts.headers;
    if let Some(host) = host
        && !headers.contains_key(HOST)
    {
        headers.insert(HOST, host);
    }
    // The event holds the whole (decoded) body: its length is the framing,
    // whatever the client's `Content-Length` or `Transfer-Encoding` said.
    headers.remove(TRANSFER_ENCODING);
    if !body.is_empty() || headers.contains_key(CONTENT_LENGTH) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let mut out = http::Request::new(Body::full(body));
    *out.method_mut() = parts.method;
    *out.uri_mut() = target;
    *out.headers_mut() = headers;
    (out, client)
}

/// Whether a body with these headers travels as text: textual media types
/// (`text/*`, JSON, XML, YAML, JavaScript and `+json`/`+xml`/`+yaml`, so
/// problem+json too) or no `Content-Type`, and no `Content-Encoding`.
fn is_textual(headers: &HeaderMap) -> bool {
    if headers.contains_key(CONTENT_ENCODING) {
        return false;
    }
    let Some(ct) = headers.get(CONTENT_TYPE) else {
        return true;
    };
    let Ok(ct) = ct.to_str() else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime.starts_with("text/")
        || matches!(
            mime.as_str(),
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "application/yaml"
                | "application/x-www-form-urlencoded"
        )
        || ["+json", "+xml", "+yaml"]
            .iter()
            .any(|suffix| mime.ends_with(suffix))
}

/// Converts the core's response into a Lambda response: the body (which may
/// stream) is read to its end, and sent as text when it is textual and valid
/// UTF-8, else as binary (base64 on the wire).
pub async fn to_lambda_response(
    response: http::Response<Body>,
) -> Result<http::Response<lambda_http::Body>, BodyError> {
    let (parts, body) = response.into_parts();
    let bytes = body.collect(MAX_RESPONSE_BYTES).await?;
    let body = if bytes.is_empty() {
        lambda_http::Body::Empty
    } else if is_textual(&parts.headers) {
        match String::from_utf8(Vec::from(bytes)) {
            Ok(text) => lambda_http::Body::Text(text),
            Err(e) => lambda_http::Body::Binary(e.into_bytes()),
        }
    } else {
        lambda_http::Body::Binary(Vec::from(bytes))
    };
    Ok(http::Response::from_parts(parts, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn textual_media_types() {
        let table: &[(&[(&str, &str)], bool)] = &[
            (&[], true),
            (&[("content-type", "text/plain; charset=utf-8")], true),
            (&[("content-type", "application/json")], true),
            (&[("content-type", "application/problem+json")], true),
            (&[("content-type", "Application/Vnd.Acme.V2+JSON")], true),
            (&[("content-type", "image/svg+xml")], true),
            (&[("content-type", "application/octet-stream")], false),
            (&[("content-type", "image/png")], false),
            (
                &[
                    ("content-type", "application/json"),
                    ("content-encoding", "gzip"),
                ],
                false,
            ),
        ];
        for (h, want) in table {
            assert_eq!(is_textual(&headers(h)), *want, "{h:?}");
        }
    }

    fn v1_event(path: &str) -> lambda_http::Request {
        let mut ev: serde_json::Value =
            serde_json::from_str(include_str!("../tests/data/apigw_v1.json")).expect("JSON");
        ev["path"] = serde_json::json!(path);
        lambda_http::request::from_str(&ev.to_string()).expect("event")
    }

    #[test]
    fn unsafe_characters_in_a_decoded_path_are_encoded() {
        let (req, client) = to_core_request(v1_event("/hello world/ü"));
        assert_eq!(req.uri().path(), "/hello%20world/%C3%BC");
        assert_eq!(req.uri().query(), Some("name=me"));
        assert_eq!(client.peer.to_string(), "192.168.196.186");
        assert!(client.tls);
    }

    #[test]
    fn the_event_body_sets_the_length() {
        let (req, _) = to_core_request(v1_event("/x"));
        assert_eq!(req.headers()[CONTENT_LENGTH], "13");
        assert_eq!(req.body().known_len(), Some(13));
    }

    #[tokio::test]
    async fn invalid_utf8_in_a_textual_type_goes_binary() {
        let resp = http::Response::builder()
            .header(CONTENT_TYPE, "text/plain")
            .body(Body::full(vec![0xff, 0xfe]))
            .expect("response");
        let out = to_lambda_response(resp).await.expect("converted");
        assert_eq!(out.body(), &lambda_http::Body::Binary(vec![0xff, 0xfe]));
    }
}
