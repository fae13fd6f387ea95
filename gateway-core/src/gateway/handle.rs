//! The request path: limits → normalise → route → version → policies →
//! cache → upstream → policies in reverse.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use http::{Request, Response, Uri, header};

use super::forward_observed;
use super::limits::{check_head, content_length};
use super::origin::RouteOrigin;
use super::{ClientInfo, Inner};
use crate::auth::Identity;
use crate::body::Body;
use crate::cache::serve::{Incoming, Stage};
use crate::config::{GatewayConfig, RouteTarget};
use crate::discovery::api;
use crate::error::{GatewayError, RequestError, UpstreamError};
use crate::normalize::normalize_path;
use crate::observe::{Exchange, RequestIdHeader};
use crate::policy::{Cx, Flow};

/// Route labels of the endpoints the gateway serves itself, made once.
static ROUTE_REGISTRY: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("gateway:registry"));
static ROUTE_DOCS: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("gateway:docs"));
static ROUTE_PURGE: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("gateway:purge"));

/// Lower-case host without port or brackets, from the URI (HTTP/2) or `Host`.
fn request_host<B>(req: &Request<B>) -> Option<Cow<'_, str>> {
    let raw = match req.uri().authority() {
        Some(a) => a.host(),
        None => {
            let h = req.headers().get(header::HOST)?.to_str().ok()?;
            if h.starts_with('[') {
                h.split(']').next().unwrap_or(h)
            } else {
                h.rsplit_once(':').map_or(h, |(host, _)| host)
            }
        }
    };
    let host = raw.trim_start_matches('[').trim_end_matches([']', '.']);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Some(Cow::Owned(host.to_ascii_lowercase()))
    } else {
        Some(Cow::Borrowed(host))
    }
}

fn with_path(uri: &Uri, path: &str) -> Result<Uri, GatewayError> {
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(
        pq.parse()
            .map_err(|_| RequestError::BadPath("invalid path"))?,
    );
    Ok(Uri::from_parts(parts).map_err(|_| RequestError::BadPath("invalid path"))?)
}

pub(super) async fn process(
    inner: &Arc<Inner>,
    config: &Arc<GatewayConfig>,
    mut req: Request<Body>,
    client: ClientInfo,
    x: &mut Exchange,
) -> Result<Response<Body>, GatewayError> {
    let (env, discovery, cfg) = (&inner.env, &inner.discovery, &**config);
    check_head(&req, &cfg.server.limits)?;
    if let Cow::Owned(path) = normalize_path(req.uri().path(), &cfg.server.path)? {
        *req.uri_mut() = with_path(req.uri(), &path)?;
        x.uri = req.uri().clone();
    }
    if let Some(registry) = &cfg.registry
        && registry.owns(req.uri().path())
    {
        x.route = Some(ROUTE_REGISTRY.clone());
        // Branches off the plain proxy path are boxed: inline, their state
        // would make every request's future larger (it is moved by value).
        return Box::pin(api::serve(discovery.registry.as_deref(), registry, req)).await;
    }
    if let Some(resp) = cfg.api.site().and_then(|site| site.serve(&req)) {
        x.route = Some(ROUTE_DOCS.clone());
        return Ok(resp);
    }
    if let Some(purge) = &cfg.cache.purge
        && purge.owns(req.uri().path())
    {
        x.route = Some(ROUTE_PURGE.clone());
        return Box::pin(crate::cache::purge::serve(
            env,
            cfg,
            &inner.cache,
            purge,
            req,
        ))
        .await;
    }
    let host = request_host(&req);
    let matched = cfg.router.find(
        host.as_deref(),
        req.method(),
        req.uri().path(),
        req.headers(),
    )?;
    let route = cfg
        .routes
        .get(matched.route)
        .ok_or(GatewayError::Internal("route index out of range"))?;
    crate::trace::note_route(req.extensions(), &route.name);
    x.route = Some(route.name.clone());
    // What the cache stage needs from the request as the client sent it.
    let cached = route
        .cache
        .as_ref()
        .filter(|c| c.methods.contains(req.method()))
        .map(|c| {
            (
                c,
                req.headers().clone(),
                host.as_deref().unwrap_or("").to_owned(),
            )
        });
    if content_length(&req)?.is_some_and(|n| n > route.max_body) {
        return Err(RequestError::BodyTooLarge {
            limit: route.max_body,
        }
        .into());
    }
    let body = std::mem::take(req.body_mut());
    *req.body_mut() = body.limited(route.max_body)?;

    let client_ip = x.client_ip;
    let version = match &route.versioning {
        Some(v) => Some(v.select(&req, &matched.params)?),
        None => None,
    };
    let mut cx = Cx {
        env,
        route: &route.name,
        params: &matched.params,
        client_ip,
        version: version.map(|v| v.name.as_str()),
        method: req.method().clone(),
        uri: req.uri().clone(),
        extensions: http::Extensions::new(),
    };
    if let RouteTarget::Aggregate(_) = &route.target {
        // Backend requests carry the request id too.
        cx.extensions
            .insert(RequestIdHeader(x.settings().request_id_header.clone()));
    }
    if let Some(t) = version.and_then(|v| v.path.as_ref()) {
        let p = t.render(&cx, req.headers());
        *req.uri_mut() = with_path(req.uri(), &p)?;
    }
    let upstream_index = match &route.target {
        RouteTarget::Upstream(u) => Some(version.and_then(|v| v.upstream).unwrap_or(*u)),
        RouteTarget::Aggregate(_) => None,
    };
    let upstream = match upstream_index {
        Some(i) => Some(
            cfg.upstreams
                .get(i)
                .ok_or(GatewayError::Internal("upstream index out of range"))?,
        ),
        None => None,
    };
    x.upstream = upstream.map(|u| u.name.clone());

    if route.buffer_request {
        let body = std::mem::take(req.body_mut());
        *req.body_mut() = Body::full(body.collect(route.max_body).await?);
    }

    let mut ran = 0;
    let mut early = None;
    for policy in &route.policies {
        match policy.on_request(&mut req, &mut cx).await {
            Ok(Flow::Continue) => {
                x.record_policy(policy.name(), None);
                ran += 1;
            }
            Ok(Flow::Respond(resp)) => {
                x.record_policy(policy.name(), Some(resp.status()));
                early = Some(resp);
                break;
            }
            Err(e) => {
                let resp = e.into_response();
                x.record_policy(policy.name(), Some(resp.status()));
                early = Some(resp);
                break;
            }
        }
    }
    x.consumer = cx
        .extensions
        .get::<Identity>()
        .and_then(|id| id.consumer.as_deref())
        .map(Arc::from);
    if early.is_none()
        && let Some(key) = upstream.and_then(|u| u.balancer.affinity(req.headers(), &cx))
    {
        // The balancer reads it in `forward`, which removes it.
        req.extensions_mut().insert(key);
    }
    let answered_early = early.is_some();
    let mut resp = match early {
        Some(r) => r,
        None => match (&route.target, upstream) {
            (RouteTarget::Aggregate(agg), _) => {
                let ctx = crate::aggregate::Ctx {
                    env,
                    cfg,
                    discovery,
                    route: &route.resilience,
                    client,
                };
                Box::pin(agg.respond(&ctx, req, &cx)).await
            }
            (_, Some(upstream)) => match (&cached, upstream_index) {
                (Some((cache, original, host)), Some(upstream)) => {
                    let stage = Stage {
                        env,
                        settings: &cfg.cache,
                        route: cache,
                        runtime: &inner.cache,
                    };
                    let origin = Arc::new(RouteOrigin {
                        inner: inner.clone(),
                        config: config.clone(),
                        route: matched.route,
                        upstream,
                        client,
                    });
                    let incoming = Incoming {
                        req,
                        original,
                        host,
                    };
                    Box::pin(crate::cache::serve::serve(&stage, origin, incoming, &cx)).await
                }
                _ => {
                    let (result, call) = forward_observed(
                        env,
                        cfg,
                        discovery,
                        upstream,
                        &route.resilience,
                        req,
                        client,
                    )
                    .await;
                    x.upstream_call = Some(call);
                    result.unwrap_or_else(GatewayError::into_response)
                }
            },
            (_, None) => GatewayError::Internal("route without upstream").into_response(),
        },
    };
    if route.cache.is_some() && cached.is_none() && !answered_early {
        // A method the route does not cache.
        resp.headers_mut().insert(
            &crate::cache::serve::X_CACHE,
            http::HeaderValue::from_static("BYPASS"),
        );
    }
    if route.buffer_response && !resp.body().is_buffered() {
        let body = std::mem::take(resp.body_mut());
        match body.collect(cfg.server.limits.max_body_bytes).await {
            Ok(b) => *resp.body_mut() = Body::full(b),
            Err(_) => resp = GatewayError::from(UpstreamError::Protocol(None)).into_response(),
        }
    }
    for policy in route.policies[..ran].iter().rev() {
        if let Err(e) = policy.on_response(&mut resp, &mut cx).await {
            resp = e.into_response();
        }
    }
    if let Some(v) = version {
        for (k, val) in &v.headers {
            resp.headers_mut().insert(k, val.clone());
        }
    }
    if let Some((_, original, _)) = &cached {
        resp = crate::cache::conditional::answer(original, resp);
    }
    Ok(resp)
}
