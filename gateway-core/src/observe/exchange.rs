//! The per-request record.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, header};

use super::{AccessLogConfig, RequestId};
use crate::body::Body;
use crate::env::Env;

/// What a policy decided about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let through.
    Allow,
    /// Refused (auth, validation, deny lists).
    Deny,
    /// Refused by a rate limit (429).
    Limited,
    /// Blocked by the WAF.
    Blocked,
    /// WAF rules matched in detect mode; the request went on.
    Matched,
}

impl Decision {
    /// The label: `allow`, `deny`, `limited`, `blocked` or `matched`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Limited => "limited",
            Self::Blocked => "blocked",
            Self::Matched => "matched",
        }
    }
}

/// How the response cache answered (the `X-Cache` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheResult {
    /// From a fresh entry.
    Hit,
    /// From the upstream.
    Miss,
    /// From a stale entry.
    Stale,
    /// From an entry the upstream confirmed.
    Revalidated,
    /// Not cacheable (method, credentials).
    Bypass,
}

impl CacheResult {
    /// The label: `hit`, `miss`, `stale`, `revalidated` or `bypass`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Stale => "stale",
            Self::Revalidated => "revalidated",
            Self::Bypass => "bypass",
        }
    }

    fn from_header(v: &HeaderValue) -> Option<Self> {
        Some(match v.as_bytes() {
            b"HIT" => Self::Hit,
            b"MISS" => Self::Miss,
            b"STALE" => Self::Stale,
            b"REVALIDATED" => Self::Revalidated,
            b"BYPASS" => Self::Bypass,
            _ => return None,
        })
    }
}

/// What a call to an upstream took, put in the response extensions of
/// the upstream's answer by the forwarding code.
#[derive(Debug, Clone, Default)]
pub struct UpstreamCall {
    /// The endpoint of the last attempt (configured id), if any was made.
    pub endpoint: Option<Arc<str>>,
    /// Attempts made (0 when the breaker refused before any).
    pub attempts: u32,
    /// Milliseconds from the first attempt to the last response head.
    pub latency_ms: u64,
}

/// One request as the gateway handled it: filled along the request path
/// and put in the response extensions by
/// [`Gateway::handle`](crate::Gateway::handle). Cheap: names are shared
/// with the config; nothing is formatted until a line is written.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request id (also in the `X-Request-Id` headers).
    pub request_id: RequestId,
    /// When the gateway got the request (unix ms, the env clock).
    pub started_ms: u64,
    /// Time until the response head was ready (env clock). Adapters with a
    /// monotonic clock may overwrite it with their own measure.
    pub latency: Duration,
    /// The client address (after the trusted-proxies rule).
    pub client_ip: IpAddr,
    /// The method.
    pub method: Method,
    /// The request target, normalised (before any rewrite).
    pub uri: Uri,
    /// The matched route's name; `None` when no route matched.
    pub route: Option<Arc<str>>,
    /// The upstream's name, for routes that forward to one.
    pub upstream: Option<Arc<str>>,
    /// What the upstream call took, when one was made.
    pub upstream_call: Option<UpstreamCall>,
    /// The response status.
    pub status: StatusCode,
    /// Request body bytes, when known from `Content-Length` or a buffered body.
    pub bytes_in: Option<u64>,
    /// Response body bytes, when known without streaming the body.
    pub bytes_out: Option<u64>,
    /// The authenticated consumer's name (never a credential).
    pub consumer: Option<Arc<str>>,
    /// The `auth` policy's decision.
    pub auth: Option<Decision>,
    /// The `rate_limit` policy's decision.
    pub rate_limit: Option<Decision>,
    /// The `waf` policy's decision.
    pub waf: Option<Decision>,
    /// The `validate` policy's decision on the request.
    pub validate: Option<Decision>,
    /// The policy that answered instead of the upstream, if one did.
    pub answered_by: Option<&'static str>,
    /// The response cache's answer, on caching routes.
    pub cache: Option<CacheResult>,
    /// The client's `User-Agent`.
    pub user_agent: Option<HeaderValue>,
    /// The W3C trace this request belongs to and the gateway's span in it.
    pub trace: Option<(crate::trace::TraceId, crate::trace::SpanId)>,
    /// The request headers named in `access_log.headers` (raw; redacted
    /// when written).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    settings: Arc<AccessLogConfig>,
}

impl Exchange {
    /// Starts the record for `req`: takes or makes its request id and sets
    /// it on the request (so it goes upstream).
    pub(crate) fn begin(
        env: &Env,
        settings: &Arc<AccessLogConfig>,
        req: &mut Request<Body>,
        client_ip: IpAddr,
    ) -> Self {
        let name = &settings.request_id_header;
        let request_id = RequestId::take_or_generate(req.headers(), name, &*env.rng);
        req.headers_mut()
            .insert(name.clone(), request_id.header_value().clone());
        let bytes_in = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .or_else(|| req.body().known_len());
        let headers = if settings.enabled && !settings.headers.is_empty() {
            settings
                .headers
                .iter()
                .filter_map(|h| Some((h.clone(), req.headers().get(h)?.clone())))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            request_id,
            started_ms: env.clock.now_ms(),
            latency: Duration::ZERO,
            client_ip,
            method: req.method().clone(),
            uri: req.uri().clone(),
            route: None,
            upstream: None,
            upstream_call: None,
            status: StatusCode::OK,
            bytes_in,
            bytes_out: None,
            consumer: None,
            auth: None,
            rate_limit: None,
            waf: None,
            validate: None,
            answered_by: None,
            cache: None,
            user_agent: req.headers().get(header::USER_AGENT).cloned(),
            trace: None,
            headers,
            settings: settings.clone(),
        }
    }

    /// The access log settings this record was made under.
    pub fn settings(&self) -> &AccessLogConfig {
        &self.settings
    }

    /// The route label: the route's name, or `unmatched`.
    pub fn route_label(&self) -> &str {
        self.route.as_deref().unwrap_or(super::UNMATCHED)
    }

    /// Records a request policy's outcome: `answered` when it answered
    /// instead of letting the request go on, with that answer's status.
    pub(crate) fn record_policy(&mut self, name: &'static str, answered: Option<StatusCode>) {
        let refused = answered.map(|status| match name {
            "rate_limit" if status == StatusCode::TOO_MANY_REQUESTS => Decision::Limited,
            "waf" => Decision::Blocked,
            _ => Decision::Deny,
        });
        if refused.is_some() {
            self.answered_by = Some(name);
        }
        let decision = refused.unwrap_or(Decision::Allow);
        match name {
            "auth" => self.auth = Some(decision),
            "rate_limit" => self.rate_limit = Some(decision),
            "waf" => self.waf = Some(decision),
            "validate" => self.validate = Some(decision),
            _ => {}
        }
    }

    /// Completes the record from the final response and marks the response:
    /// the request id header, and `request_id` in the gateway's own problem
    /// documents.
    pub(crate) fn finish(&mut self, env: &Env, resp: &mut Response<Body>) {
        self.latency = Duration::from_millis(env.clock.now_ms().saturating_sub(self.started_ms));
        self.status = resp.status();
        self.trace = resp
            .extensions()
            .get::<crate::trace::TraceContext>()
            .map(|t| (t.trace_id, t.span_id));
        super::add_request_id(resp, &self.request_id);
        resp.headers_mut().insert(
            self.settings.request_id_header.clone(),
            self.request_id.header_value().clone(),
        );
        self.bytes_out = resp.body().known_len().or_else(|| {
            resp.headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse().ok())
        });
        if self.route.is_some() {
            self.cache = resp
                .headers()
                .get(&crate::cache::serve::X_CACHE)
                .and_then(CacheResult::from_header);
        }
        if self.waf == Some(Decision::Allow)
            && resp.extensions().get::<crate::waf::WafReport>().is_some()
        {
            self.waf = Some(Decision::Matched);
        }
        if let Some(call) = resp.extensions_mut().remove::<UpstreamCall>() {
            self.upstream_call = Some(call);
        }
    }
}
