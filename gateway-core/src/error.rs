//! One error vocabulary for the gateway, and the single place where errors
//! become HTTP responses (RFC 9457 `application/problem+json`).
//!
//! Responses never carry upstream error text, internal addresses, OS error
//! messages or secrets: only a fixed title per kind and, for client errors,
//! a detail written by the gateway itself.

use http::{HeaderName, HeaderValue, Method, Response, StatusCode, header};
use serde::Serialize;

use crate::body::{Body, BodyError};
use crate::store::StorageError;

/// Who is to blame for an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request was wrong.
    Client,
    /// An upstream failed or could not be reached.
    Upstream,
    /// The gateway itself failed.
    Internal,
}

/// The request itself was unacceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The path could not be normalised safely.
    #[error("invalid request path: {0}")]
    BadPath(&'static str),
    /// The request target is longer than allowed.
    #[error("request target too long")]
    UriTooLong,
    /// Too many header fields or too many header bytes.
    #[error("request header fields too large")]
    HeadersTooLarge,
    /// The body is larger than the route allows.
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The client was too slow sending the request.
    #[error("request timed out")]
    Timeout,
    /// The request body could not be read.
    #[error("request body could not be read")]
    BodyRead,
    /// A malformed header or request line.
    #[error("malformed request: {0}")]
    Malformed(&'static str),
}

/// No route accepts the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// No route matches host and path.
    #[error("no route matches")]
    NotFound,
    /// A route matches the path but not the method.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// Methods the matching routes accept.
        allow: Vec<Method>,
    },
    /// The requested API version does not exist.
    #[error("unsupported API version")]
    UnknownVersion {
        /// 400, 404 or 406 depending on where the version was asked for.
        status: StatusCode,
        /// The versions the route serves.
        supported: Vec<String>,
    },
    /// The requested API version was retired.
    #[error("API version retired")]
    Retired {
        /// The retired version.
        version: String,
    },
}

/// An upstream could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    /// No connection could be made.
    #[error("upstream connection failed")]
    Connect(#[source] Option<Box<dyn std::error::Error + Send + Sync>>),
    /// Connecting or answering took too long.
    #[error("upstream timed out")]
    Timeout,
    /// The upstream answered with something that is not valid HTTP.
    #[error("upstream protocol error")]
    Protocol(#[source] Option<Box<dyn std::error::Error + Send + Sync>>),
    /// No instance is available to take the request.
    #[error("upstream unavailable")]
    Unavailable,
    /// Every endpoint of the upstream is ejected or failing its health
    /// checks (or there are none).
    #[error("no healthy upstream endpoint")]
    NoHealthyEndpoint,
    /// The upstream's circuit breaker is open: it was not contacted.
    #[error("upstream circuit open")]
    CircuitOpen {
        /// Seconds until the breaker lets requests through again (`Retry-After`).
        retry_after_secs: u64,
    },
    /// A discovered upstream has no live instance: the registry service
    /// named (if any) has none, or the DNS name resolved to nothing.
    #[error("no instance of the upstream service")]
    NoInstance(Option<String>),
    /// Reading the request body failed while sending it.
    #[error("request body failed while sending upstream")]
    RequestBody(#[source] BodyError),
}

/// A policy refused the request with a chosen status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The HTTP status.
    pub status: StatusCode,
    /// A short kebab-case problem kind, e.g. `access-denied`.
    pub kind: &'static str,
    /// Human-readable title.
    pub title: &'static str,
    /// Optional detail written by the gateway (never echoes secrets).
    pub detail: Option<String>,
    /// Extra response headers (e.g. `WWW-Authenticate`, `Retry-After`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Rejection {
    /// A rejection with no detail and no extra headers.
    pub fn new(status: StatusCode, kind: &'static str, title: &'static str) -> Self {
        Self {
            status,
            kind,
            title,
            detail: None,
            headers: Vec::new(),
        }
    }

    /// Adds a detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds a response header (`WWW-Authenticate`, `Retry-After`, ...).
    /// Callers never put a token, key or secret in it.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.title, self.status.as_u16())
    }
}

impl std::error::Error for Rejection {}

/// Every error the request path can produce.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The request was unacceptable.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// No route accepted the request.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The upstream failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The state store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A policy refused the request.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// A request or response failed validation (problem with an `errors` list).
    #[error(transparent)]
    Invalid(#[from] crate::validate::ValidationFailure),
    /// An invariant broke inside the gateway.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl From<BodyError> for GatewayError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge { limit } => RequestError::BodyTooLarge { limit }.into(),
            BodyError::Idle => RequestError::Timeout.into(),
            BodyError::Transport => RequestError::BodyRead.into(),
        }
    }
}

/// The RFC 9457 document.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [crate::validate::FieldError],
}

impl GatewayError {
    /// Who is to blame.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Request(_) | Self::Route(_) | Self::Rejected(_) => ErrorClass::Client,
            Self::Upstream(UpstreamError::RequestBody(_)) => ErrorClass::Client,
            Self::Upstream(_) => ErrorClass::Upstream,
            Self::Invalid(v) if v.status.is_server_error() => ErrorClass::Upstream,
            Self::Invalid(_) => ErrorClass::Client,
            Self::Storage(_) | Self::Internal(_) => ErrorClass::Internal,
        }
    }

    /// Whether trying again (elsewhere) could succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Self::Upstream(UpstreamError::Connect(_) | UpstreamError::Unavailable)
        )
    }

    /// Normalises errors that are really about the request.
    fn normalised(self) -> Self {
        match self {
            Self::Upstream(UpstreamError::RequestBody(e)) => e.into(),
            other => other,
        }
    }

    /// Status, problem kind, title and detail.
    fn parts(&self) -> (StatusCode, &'static str, &'static str, Option<String>) {
        use StatusCode as S;
        match self {
            Self::Request(e) => match e {
                RequestError::BadPath(why) => (
                    S::BAD_REQUEST,
                    "invalid-path",
                    "Invalid request path",
                    Some((*why).to_owned()),
                ),
                RequestError::UriTooLong => (
                    S::URI_TOO_LONG,
                    "uri-too-long",
                    "Request target too long",
                    None,
                ),
                RequestError::HeadersTooLarge => (
                    S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "headers-too-large",
                    "Request header fields too large",
                    None,
                ),
                RequestError::BodyTooLarge { limit } => (
                    S::PAYLOAD_TOO_LARGE,
                    "body-too-large",
                    "Request body too large",
                    Some(format!("The request body must not exceed {limit} bytes.")),
                ),
                RequestError::Timeout => (
                    S::REQUEST_TIMEOUT,
                    "request-timeout",
                    "Request timeout",
                    None,
                ),
                RequestError::BodyRead => (
                    S::BAD_REQUEST,
                    "body-unreadable",
                    "Request body could not be read",
                    None,
                ),
                RequestError::Malformed(why) => (
                    S::BAD_REQUEST,
                    "malformed-request",
                    "Malformed request",
                    Some((*why).to_owned()),
                ),
            },
            Self::Route(e) => match e {
                RouteError::NotFound => (
                    S::NOT_FOUND,
                    "route-not-found",
                    "No route matches the request",
                    None,
                ),
                RouteError::MethodNotAllowed { .. } => (
                    S::METHOD_NOT_ALLOWED,
                    "method-not-allowed",
                    "Method not allowed",
                    None,
                ),
                RouteError::UnknownVersion { status, supported } => (
                    *status,
                    "unsupported-version",
                    "Unsupported API version",
                    Some(format!("Supported versions: {}.", supported.join(", "))),
                ),
                RouteError::Retired { version } => (
                    S::GONE,
                    "version-retired",
                    "API version retired",
                    Some(format!("Version {version} has been retired.")),
                ),
            },
            Self::Upstream(e) => match e {
                UpstreamError::Timeout => (
                    S::GATEWAY_TIMEOUT,
                    "upstream-timeout",
                    "Upstream timed out",
                    None,
                ),
                UpstreamError::Unavailable => (
                    S::SERVICE_UNAVAILABLE,
                    "upstream-unavailable",
                    "Upstream unavailable",
                    None,
                ),
                UpstreamError::NoHealthyEndpoint => (
                    S::SERVICE_UNAVAILABLE,
                    "no-healthy-upstream",
                    "No healthy upstream",
                    None,
                ),
                UpstreamError::CircuitOpen { .. } => (
                    S::SERVICE_UNAVAILABLE,
                    "circuit-open",
                    "Upstream temporarily unavailable",
                    None,
                ),
                UpstreamError::NoInstance(service) => (
                    S::SERVICE_UNAVAILABLE,
                    "no-instance",
                    "No instance available",
                    service
                        .as_ref()
                        .map(|s| format!("No instance of service `{s}` is available.")),
                ),
                _ => (S::BAD_GATEWAY, "bad-gateway", "Upstream failed", None),
            },
            Self::Rejected(r) => (r.status, r.kind, r.title, r.detail.clone()),
            Self::Invalid(v) => (v.status, v.kind, v.title, None),
            Self::Storage(_) => (
                S::SERVICE_UNAVAILABLE,
                "state-unavailable",
                "Gateway state unavailable",
                None,
            ),
            Self::Internal(_) => (
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal gateway error",
                None,
            ),
        }
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    /// Status, problem kind (without the `urn:gateway:problem:` prefix) and
    /// title, without the detail: for problems listed inside another
    /// document (an aggregate's `_errors`).
    pub(crate) fn problem_head(&self) -> (StatusCode, &'static str, &'static str) {
        let (status, kind, title, _) = self.parts();
        (status, kind, title)
    }

    /// Turns the error into an `application/problem+json` response.
    ///
    /// This is the only place an error becomes HTTP.
    pub fn into_response(self) -> Response<Body> {
        let err = self.normalised();
        let (status, kind, title, detail) = err.parts();
        let problem = Problem {
            kind: format!("urn:gateway:problem:{kind}"),
            title,
            status: status.as_u16(),
            detail,
            errors: match &err {
                Self::Invalid(v) => &v.errors,
                _ => &[],
            },
        };
        let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
        let mut resp = Response::new(Body::full(body));
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // `Gateway::handle` adds the request id to documents marked so.
        resp.extensions_mut().insert(crate::observe::GatewayProblem);
        let h = resp.headers_mut();
        match err {
            Self::Route(RouteError::MethodNotAllowed { allow }) => {
                let list: Vec<&str> = allow.iter().map(Method::as_str).collect();
                if let Ok(v) = HeaderValue::from_str(&list.join(", ")) {
                    h.insert(header::ALLOW, v);
                }
            }
            Self::Rejected(r) => {
                for (name, value) in r.headers {
                    h.append(name, value);
                }
            }
            Self::Request(RequestError::Timeout) => {
                h.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Self::Upstream(UpstreamError::CircuitOpen { retry_after_secs }) => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            _ => {}
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::block_on;

    fn body_json(resp: Response<Body>) -> serde_json::Value {
        let bytes = block_on(resp.into_body().collect(1 << 20)).expect("body");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[test]
    fn method_not_allowed_lists_allow() {
        let resp = GatewayError::from(RouteError::MethodNotAllowed {
            allow: vec![Method::GET, Method::HEAD],
        })
        .into_response();
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()[header::ALLOW], "GET, HEAD");
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let v = body_json(resp);
        assert_eq!(v["status"], 405);
        assert_eq!(v["type"], "urn:gateway:problem:method-not-allowed");
    }

    #[test]
    fn upstream_errors_do_not_leak_source_text() {
        let src: Box<dyn std::error::Error + Send + Sync> =
            "connect to 10.1.2.3:8080: Connection refused (os error 111)".into();
        let resp = GatewayError::from(UpstreamError::Connect(Some(src))).into_response();
        assert_eq!(resp.status(), 502);
        let text = serde_json::to_string(&body_json(resp)).expect("json");
        assert!(!text.contains("10.1.2.3"));
        assert!(!text.contains("os error"));
    }

    #[test]
    fn circuit_open_is_503_with_retry_after() {
        let resp = GatewayError::from(UpstreamError::CircuitOpen {
            retry_after_secs: 7,
        })
        .into_response();
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "7");
        let v = body_json(resp);
        assert_eq!(v["type"], "urn:gateway:problem:circuit-open");
        assert_eq!(v["status"], 503);
        assert!(v.get("detail").is_none());
    }

    #[test]
    fn request_body_failure_upstream_is_client_error() {
        let e = GatewayError::from(UpstreamError::RequestBody(BodyError::TooLarge { limit: 5 }));
        assert_eq!(e.class(), ErrorClass::Client);
        assert_eq!(e.into_response().status(), 413);
    }

    #[test]
    fn statuses_by_kind() {
        assert_eq!(GatewayError::from(UpstreamError::Timeout).status(), 504);
        assert_eq!(GatewayError::from(UpstreamError::Unavailable).status(), 503);
        assert_eq!(
            GatewayError::from(UpstreamError::NoHealthyEndpoint).status(),
            503
        );
        assert_eq!(
            GatewayError::from(RequestError::HeadersTooLarge).status(),
            431
        );
        assert_eq!(GatewayError::from(RequestError::UriTooLong).status(), 414);
        assert_eq!(
            GatewayError::from(RouteError::Retired {
                version: "v1".into()
            })
            .status(),
            410
        );
    }
}
