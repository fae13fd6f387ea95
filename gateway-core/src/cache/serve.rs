//! The cache stage: look the request up, answer fresh entries, serve stale
//! ones while refreshing them (`stale-while-revalidate`) or when the
//! upstream fails (`stale-if-error`), revalidate with the stored validators
//! and store what the upstream sends when RFC 9111 and the route allow.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::future::select;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, header, request};

use super::bans::Ban;
use super::coalesce::Turn;
use super::config::{CacheSettings, RouteCache};
use super::entry::{Entry, Record, build};
use super::key::{CacheKey, admit, prepare};
use super::store::Store;
use super::{CacheRuntime, Origin};
use crate::auth::Identity;
use crate::body::Body;
use crate::env::Env;
use crate::error::GatewayError;
use crate::policy::Cx;

/// The `X-Cache` response header.
pub(crate) static X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// Longest a request waits for another one fetching the same key.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// How a response was answered, for `X-Cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// From a fresh entry.
    Hit,
    /// From the upstream.
    Miss,
    /// From a stale entry (refreshing in the background, or the upstream failed).
    Stale,
    /// From an entry the upstream confirmed with `304`.
    Revalidated,
    /// Not cacheable for this route (method, credentials).
    Bypass,
}

impl Outcome {
    fn value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Outcome::Hit => "HIT",
            Outcome::Miss => "MISS",
            Outcome::Stale => "STALE",
            Outcome::Revalidated => "REVALIDATED",
            Outcome::Bypass => "BYPASS",
        })
    }
}

fn tagged(mut resp: Response<Body>, outcome: Outcome) -> Response<Body> {
    resp.headers_mut().insert(&X_CACHE, outcome.value());
    resp
}

/// What the stage works with.
pub(crate) struct Stage<'a> {
    pub(crate) env: &'a Env,
    pub(crate) settings: &'a CacheSettings,
    pub(crate) route: &'a RouteCache,
    pub(crate) runtime: &'a Arc<CacheRuntime>,
}

impl Stage<'_> {
    fn store(&self) -> Store<'_> {
        Store {
            memory: &self.runtime.memory,
            env: self.env,
            settings: self.settings,
        }
    }
}

/// The request, as a cacheable route gets it after its request policies.
pub(crate) struct Incoming<'a> {
    /// The request.
    pub(crate) req: Request<Body>,
    /// Its headers as the client sent them (before the policies).
    pub(crate) original: &'a HeaderMap,
    /// Lower-case host the client addressed.
    pub(crate) host: &'a str,
}

/// Answers a request on a cacheable route.
pub(crate) async fn serve(
    stage: &Stage<'_>,
    origin: Arc<dyn Origin>,
    incoming: Incoming<'_>,
    cx: &Cx<'_>,
) -> Response<Body> {
    let Incoming {
        mut req,
        original,
        host,
    } = incoming;
    let identity = cx.extensions.get::<Identity>();
    let consumer = match admit(stage.route, req.method(), req.headers(), identity) {
        Ok(c) => c,
        Err(_) => {
            let resp = origin
                .fetch(req)
                .await
                .unwrap_or_else(GatewayError::into_response);
            return tagged(resp, Outcome::Bypass);
        }
    };
    let key = prepare(
        &mut req,
        original,
        &cx.uri,
        stage.route,
        host,
        consumer,
        cx.version,
    );
    let (parts, _) = req.into_parts();
    let bans = stage.runtime.bans.current(stage.env).await;
    let found = lookup(stage, &key, &parts.headers, &bans).await;
    let now = stage.env.clock.now_ms();
    if let Some((entry, _)) = &found {
        if now < entry.fresh_until_ms {
            return hit(entry, now, Outcome::Hit, parts.method == http::Method::HEAD);
        }
        if now < entry.swr_until_ms {
            refresh_later(stage, origin, parts.clone(), key, entry.clone());
            return hit(
                entry,
                now,
                Outcome::Stale,
                parts.method == http::Method::HEAD,
            );
        }
    }
    let stale = found.map(|(e, _)| e);
    match stage.runtime.locks.acquire(&key.primary) {
        Turn::Leader(guard) => {
            let resp = fetch_and_store(stage, origin, &parts, &key, stale).await;
            drop(guard);
            resp
        }
        Turn::Follower(signal) => {
            let _ = select(signal, stage.env.sleep.sleep(LOCK_WAIT)).await;
            let bans = stage.runtime.bans.current(stage.env).await;
            let now = stage.env.clock.now_ms();
            if let Some((entry, _)) = lookup(stage, &key, &parts.headers, &bans).await
                && now < entry.fresh_until_ms
            {
                return hit(
                    &entry,
                    now,
                    Outcome::Hit,
                    parts.method == http::Method::HEAD,
                );
            }
            fetch_and_store(stage, origin, &parts, &key, stale).await
        }
    }
}

/// The entry for `key` and the request's `Vary` values, with the store key
/// it was under. Unreadable or banned entries count as absent.
async fn lookup(
    stage: &Stage<'_>,
    key: &CacheKey,
    headers: &HeaderMap,
    bans: &[Ban],
) -> Option<(Arc<Entry>, String)> {
    let store = stage.store();
    let (entry, at) = match store.get(&key.primary).await.ok()?? {
        Record::Entry(e) => (e, key.primary.clone()),
        Record::Variants(names) => {
            let at = key.variant(&names, headers);
            match store.get(&at).await.ok()?? {
                Record::Entry(e) => (e, at),
                Record::Variants(_) => return None,
            }
        }
    };
    if bans.iter().any(|b| b.matches(&entry)) {
        let _ = store.delete(&at).await;
        return None;
    }
    Some((entry, at))
}

/// A response from a stored entry.
fn hit(entry: &Entry, now_ms: u64, outcome: Outcome, head: bool) -> Response<Body> {
    let mut resp = Response::new(if head {
        Body::empty()
    } else {
        Body::full(entry.body.clone())
    });
    *resp.status_mut() = entry.status;
    *resp.headers_mut() = entry.headers.clone();
    resp.headers_mut()
        .insert(header::AGE, HeaderValue::from(entry.age_secs(now_ms)));
    tagged(resp, outcome)
}

/// Refreshes a stale entry in the background, once per key in this
/// instance at a time.
fn refresh_later(
    stage: &Stage<'_>,
    origin: Arc<dyn Origin>,
    parts: request::Parts,
    key: CacheKey,
    entry: Arc<Entry>,
) {
    let Turn::Leader(guard) = stage.runtime.locks.acquire(&key.primary) else {
        return;
    };
    let env = stage.env.clone();
    let settings = stage.settings.clone();
    let route = stage.route.clone();
    let runtime = stage.runtime.clone();
    stage.env.deferred.defer(Box::pin(async move {
        let stage = Stage {
            env: &env,
            settings: &settings,
            route: &route,
            runtime: &runtime,
        };
        drop(fetch_and_store(&stage, origin, &parts, &key, Some(entry)).await);
        drop(guard);
    }));
}

/// Stores `entry` under `key` (and its variant key when it varies).
async fn put(
    stage: &Stage<'_>,
    key: &CacheKey,
    headers: &HeaderMap,
    entry: Entry,
    vary: Vec<HeaderName>,
) -> Arc<Entry> {
    let store = stage.store();
    let now = stage.env.clock.now_ms();
    let keep = entry.keep_for(now, stage.settings.max_lifetime);
    let entry = Arc::new(entry);
    if vary.is_empty() {
        let _ = store
            .put(&key.primary, Record::Entry(entry.clone()), keep)
            .await;
    } else {
        let at = key.variant(&vary, headers);
        let _ = store.put(&at, Record::Entry(entry.clone()), keep).await;
        let _ = store
            .put(
                &key.primary,
                Record::Variants(vary),
                stage
                    .settings
                    .max_lifetime
                    .min(keep.max(Duration::from_secs(60))),
            )
            .await;
    }
    entry
}

/// Reads up to `limit` bytes of `body`: `Err` gives back a body that still
/// streams everything when it is larger (or fails).
async fn buffer(body: Body, limit: u64) -> Result<Bytes, Body> {
    if body.known_len().is_some_and(|n| n > limit) {
        return Err(body);
    }
    if body.is_buffered() {
        return body.collect(limit).await.map_err(|_| Body::empty());
    }
    let mut body = body;
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) if (buf.len() + c.len()) as u64 <= limit => buf.extend_from_slice(&c),
            Ok(c) => {
                let head = futures_util::stream::iter([Ok(buf.freeze()), Ok(c)]);
                return Err(Body::from_stream(head.chain(body)));
            }
            Err(e) => {
                let head = futures_util::stream::iter([Ok(buf.freeze()), Err(e)]);
                return Err(Body::from_stream(head));
            }
        }
    }
    Ok(buf.freeze())
}

/// Goes upstream (conditionally when a stale entry has validators), stores
/// what may be stored and answers; a stale entry answers instead when the
/// upstream fails within its `stale-if-error` window.
async fn fetch_and_store(
    stage: &Stage<'_>,
    origin: Arc<dyn Origin>,
    parts: &request::Parts,
    key: &CacheKey,
    stale: Option<Arc<Entry>>,
) -> Response<Body> {
    let mut send = parts.clone();
    if let Some(e) = &stale {
        for (name, value) in e.validators() {
            send.headers.insert(name, value);
        }
    }
    let head = parts.method == http::Method::HEAD;
    let result = origin.fetch(Request::from_parts(send, Body::empty())).await;
    let now = stage.env.clock.now_ms();
    let failed = match &result {
        Err(_) => true,
        Ok(r) => r.status().is_server_error(),
    };
    if failed
        && let Some(e) = &stale
        && now < e.sie_until_ms
    {
        return hit(e, now, Outcome::Stale, head);
    }
    let resp = match result {
        Ok(r) => r,
        Err(e) => return tagged(e.into_response(), Outcome::Miss),
    };
    if resp.status() == StatusCode::NOT_MODIFIED
        && let Some(old) = &stale
    {
        let merged = old.merged_headers(resp.headers());
        return match build(
            parts,
            old.status,
            &merged,
            key,
            stage.route,
            stage.settings,
            now,
        ) {
            Ok((mut entry, vary)) => {
                entry.body = old.body.clone();
                let entry = put(stage, key, &parts.headers, entry, vary).await;
                hit(&entry, now, Outcome::Revalidated, head)
            }
            Err(_) => {
                let mut resp = Response::new(if head {
                    Body::empty()
                } else {
                    Body::full(old.body.clone())
                });
                *resp.status_mut() = old.status;
                *resp.headers_mut() = merged;
                tagged(resp, Outcome::Revalidated)
            }
        };
    }
    match build(
        parts,
        resp.status(),
        resp.headers(),
        key,
        stage.route,
        stage.settings,
        now,
    ) {
        Err(_) => {
            // The upstream no longer lets it be stored: the old entry goes.
            if stale.is_some() {
                let _ = stage.store().delete(&key.primary).await;
            }
            tagged(resp, Outcome::Miss)
        }
        Ok((mut entry, vary)) => {
            let (head_parts, body) = resp.into_parts();
            match buffer(body, stage.route.max_object_bytes).await {
                Ok(bytes) => {
                    entry.body = bytes.clone();
                    put(stage, key, &parts.headers, entry, vary).await;
                    tagged(
                        Response::from_parts(head_parts, Body::full(bytes)),
                        Outcome::Miss,
                    )
                }
                Err(body) => tagged(Response::from_parts(head_parts, body), Outcome::Miss),
            }
        }
    }
}
