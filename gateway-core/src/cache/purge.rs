//! The purge API, answered by the gateway before routing (off unless
//! `cache.purge` is given):
//!
//! | request | answer |
//! | --- | --- |
//! | `POST {prefix}/purge` body `{"url": "/items/1?a=b"}` | 200 the ban: that URL (every method, variant and consumer) |
//! | `POST {prefix}/purge` body `{"prefix": "/items/"}` | 200 the ban: every path starting so |
//! | `POST {prefix}/purge` body `{"tag": "product-1"}` | 200 the ban: every entry tagged so |
//!
//! `host` in the body narrows a purge to one host (an absolute `url` names
//! it too). Every request needs `Authorization: Bearer <token>` (401
//! otherwise, before anything else is looked at). Errors are problem+json.
//! The handler takes what it needs as arguments, so another listener (an
//! admin port) can serve it too.

use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use serde::Deserialize;

use super::CacheRuntime;
use super::bans::Rule;
use super::key::normalize_query;
use crate::body::Body;
use crate::config::GatewayConfig;
use crate::discovery::config::ApiAccess;
use crate::env::Env;
use crate::error::{GatewayError, Rejection, RouteError};
use crate::normalize::normalize_path;

/// Largest request body the API reads.
const MAX_BODY: u64 = 16 * 1024;

/// A purge request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PurgeRequest {
    url: Option<String>,
    prefix: Option<String>,
    tag: Option<String>,
    host: Option<String>,
}

fn invalid(detail: impl Into<String>) -> GatewayError {
    Rejection::new(
        StatusCode::BAD_REQUEST,
        "invalid-purge",
        "Invalid purge request",
    )
    .with_detail(detail)
    .into()
}

/// The rule for a `url` purge: its path and query as the route that serves
/// it keys them.
fn url_rule(
    cfg: &GatewayConfig,
    url: &str,
    host: Option<&str>,
) -> Result<(Option<String>, Rule), GatewayError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| invalid("`url`: a path like `/items/1?a=b` or an absolute URL"))?;
    let host = host
        .map(str::to_owned)
        .or_else(|| uri.host().map(str::to_ascii_lowercase));
    let path = normalize_path(uri.path(), &cfg.server.path)?;
    let matched = cfg
        .router
        .find(host.as_deref(), &Method::GET, &path, &HeaderMap::new())
        .map_err(|_| invalid("`url`: no route serves it"))?;
    let cache = cfg
        .routes
        .get(matched.route)
        .and_then(|r| r.cache.as_ref())
        .ok_or_else(|| invalid("`url`: the route that serves it does not cache"))?;
    let query = normalize_query(uri.query(), cache.key_query.as_deref());
    Ok((
        host,
        Rule::Url {
            path: path.into_owned(),
            query,
        },
    ))
}

/// Answers a request under the purge prefix: checks the token and the
/// path, then [`purge`]s.
pub(crate) async fn serve(
    env: &Env,
    cfg: &GatewayConfig,
    runtime: &CacheRuntime,
    access: &ApiAccess,
    req: Request<Body>,
) -> Result<Response<Body>, GatewayError> {
    access.admit(req.headers(), "cache")?;
    let rest = req.uri().path()[access.prefix.len()..].trim_matches('/');
    if rest != "purge" {
        return Err(RouteError::NotFound.into());
    }
    if req.method() != Method::POST {
        return Err(RouteError::MethodNotAllowed {
            allow: vec![Method::POST],
        }
        .into());
    }
    let bytes = req.into_body().collect(MAX_BODY).await?;
    purge(env, cfg, runtime, &bytes).await
}

/// Bans what a purge request body (`{"url"|"prefix"|"tag": ..., "host"?}`)
/// names and answers the ban as JSON. The caller has checked who asks: the
/// purge API its token, the self-hosted admin listener its own.
pub(crate) async fn purge(
    env: &Env,
    cfg: &GatewayConfig,
    runtime: &CacheRuntime,
    body: &[u8],
) -> Result<Response<Body>, GatewayError> {
    if body.len() as u64 > MAX_BODY {
        return Err(invalid("body: too large"));
    }
    let body: PurgeRequest =
        serde_json::from_slice(body).map_err(|e| invalid(format!("body: {e}")))?;
    let host = body.host.as_deref().map(str::to_ascii_lowercase);
    let (host, rule) = match (&body.url, &body.prefix, &body.tag) {
        (Some(url), None, None) => url_rule(cfg, url, host.as_deref())?,
        (None, Some(p), None) if p.starts_with('/') => (host, Rule::Prefix(p.clone())),
        (None, None, Some(t)) if !t.is_empty() && !t.contains([',', ' ']) => {
            (host, Rule::Tag(t.clone()))
        }
        (None, Some(_), None) => return Err(invalid("`prefix`: a path prefix starting with `/`")),
        (None, None, Some(_)) => return Err(invalid("`tag`: one tag, without commas or spaces")),
        _ => return Err(invalid("give exactly one of `url`, `prefix`, `tag`")),
    };
    let ban = runtime.bans.add(env, &cfg.cache, host, rule).await?;
    Ok(crate::answer::json(StatusCode::OK, &ban))
}
