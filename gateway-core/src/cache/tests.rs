//! The cache stage through a gateway with a scripted upstream and a manual
//! clock: freshness, `Age`, `Vary`, validators, stale windows, what is never
//! stored, key normalisation, poisoning attempts, purges, the memory bound
//! and coalescing.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_channel::oneshot;
use futures_executor::block_on;
use futures_util::FutureExt;
use futures_util::future::Shared;
use http::{HeaderMap, Request, Response, StatusCode};

use super::config::{CacheSettings, RouteCacheSpec, build_route_cache};
use super::entry::{Record, build};
use super::key::CacheKey;
use super::store::MemoryCache;
use crate::body::Body;
use crate::config::Problems;
use crate::config::load_file_text;
use crate::env::{BoxFuture, Deferred, Env, HttpClient, SendOptions};
use crate::error::UpstreamError;
use crate::gateway::{ClientInfo, Gateway};
use crate::policy::PolicyRegistry;
use crate::test_env::{self, ManualClock};

type Answer = Result<(u16, Vec<(&'static str, String)>, String), UpstreamError>;

/// An upstream that answers from a script (the last answer given repeats) and
/// records request heads.
#[derive(Default)]
struct Upstream {
    script: Mutex<VecDeque<Answer>>,
    last: Mutex<Option<Answer>>,
    seen: Mutex<Vec<(String, HeaderMap)>>,
    gate: Mutex<Option<Shared<oneshot::Receiver<()>>>>,
}

impl Upstream {
    fn answer(&self, status: u16, headers: &[(&'static str, &str)], body: &str) {
        let headers = headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        self.push(Ok((status, headers, body.to_owned())));
    }
    fn push(&self, a: Answer) {
        self.script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(a);
    }
    fn calls(&self) -> usize {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
    fn last(&self) -> (String, HeaderMap) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last()
            .cloned()
            .expect("a request reached the upstream")
    }
}

#[async_trait::async_trait]
impl HttpClient for Upstream {
    async fn send(
        &self,
        req: Request<Body>,
        _o: SendOptions,
    ) -> Result<Response<Body>, UpstreamError> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((req.uri().to_string(), req.headers().clone()));
        let gate = self.gate.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(gate) = gate {
            let _ = gate.await;
        }
        let answer = {
            let mut script = self.script.lock().unwrap_or_else(|p| p.into_inner());
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(next) = script.pop_front() {
                *last = Some(next);
            }
            last.as_ref().map(|a| match a {
                Ok(x) => Ok(x.clone()),
                Err(_) => Err(UpstreamError::Connect(None)),
            })
        };
        let (status, headers, body) = answer.unwrap_or(Err(UpstreamError::Connect(None)))?;
        let mut resp = Response::new(Body::full(body));
        *resp.status_mut() = StatusCode::from_u16(status).expect("status");
        for (k, v) in headers {
            resp.headers_mut()
                .append(k, v.parse().expect("header value"));
        }
        Ok(resp)
    }
}

/// Keeps deferred work for the test to run.
#[derive(Default)]
struct Later(Mutex<Vec<BoxFuture<'static, ()>>>);

impl Deferred for Later {
    fn defer(&self, work: BoxFuture<'static, ()>) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(work);
    }
}

impl Later {
    fn run(&self) -> usize {
        let work: Vec<_> = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        let n = work.len();
        for w in work {
            block_on(w);
        }
        n
    }
}

struct Fixture {
    gw: Gateway,
    up: Arc<Upstream>,
    clock: Arc<ManualClock>,
    later: Arc<Later>,
}

const TOKEN_SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"; // "test"

fn fixture(route_cache: &str, extra: &str) -> Fixture {
    fixture_with(route_cache, extra, false)
}

fn fixture_with(route_cache: &str, extra: &str, waiting_sleep: bool) -> Fixture {
    let yaml = format!(
        "version: 1\nupstreams: {{ up: {{ url: 'http://up.test' }} }}\n{extra}\nroutes:\n  - path: /items/{{*rest}}\n    upstream: up\n    cache: {route_cache}\n"
    );
    let cfg = load_file_text("t.yaml", &yaml, &PolicyRegistry::builtin()).expect("valid config");
    let (base, clock) = test_env::timed();
    let up = Arc::new(Upstream::default());
    let later = Arc::new(Later::default());
    let env = Env {
        http: up.clone(),
        deferred: later.clone(),
        sleep: if waiting_sleep {
            test_env::env().sleep
        } else {
            base.sleep.clone()
        },
        ..base
    };
    Fixture {
        gw: Gateway::new(cfg, env),
        up,
        clock,
        later,
    }
}

struct Got {
    status: u16,
    x_cache: String,
    age: Option<u64>,
    body: String,
}

impl Fixture {
    fn get(&self, uri: &str) -> Got {
        self.send(
            Request::get(uri)
                .header("host", "api.test")
                .body(Body::empty())
                .expect("req"),
        )
    }
    fn send(&self, req: Request<Body>) -> Got {
        let resp = block_on(self.gw.handle(req, ClientInfo::default()));
        let h = resp.headers();
        let x_cache = h
            .get("x-cache")
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .unwrap_or_default();
        let age = h.get("age").and_then(|v| v.to_str().ok()?.parse().ok());
        let status = resp.status().as_u16();
        let body = block_on(resp.into_body().collect(1 << 20)).expect("body");
        Got {
            status,
            x_cache,
            age,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }
    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
    fn purge(&self, body: &str) -> u16 {
        let req = Request::post("/cache/purge")
            .header("authorization", "Bearer test")
            .body(Body::full(body.to_owned()))
            .expect("req");
        block_on(self.gw.handle(req, ClientInfo::default()))
            .status()
            .as_u16()
    }
}

#[test]
fn fresh_responses_are_served_from_the_cache_with_a_growing_age() {
    let f = fixture("{}", "");
    f.up.answer(200, &[("cache-control", "max-age=60")], "one");
    let first = f.get("/items/1");
    assert_eq!(
        (first.status, first.x_cache.as_str(), first.body.as_str()),
        (200, "MISS", "one")
    );
    f.advance(10);
    let second = f.get("/items/1");
    assert_eq!(
        (second.x_cache.as_str(), second.body.as_str()),
        ("HIT", "one")
    );
    assert_eq!(second.age, Some(10));
    assert_eq!(f.up.calls(), 1);
    // Past max-age without validators: fetched again.
    f.advance(51);
    assert_eq!(f.get("/items/1").x_cache, "MISS");
    assert_eq!(f.up.calls(), 2);
}

#[test]
fn upstream_age_counts_toward_freshness() {
    let f = fixture("{}", "");
    f.up.answer(200, &[("cache-control", "max-age=60"), ("age", "50")], "x");
    f.get("/items/1");
    f.advance(5);
    let hit = f.get("/items/1");
    assert_eq!((hit.x_cache.as_str(), hit.age), ("HIT", Some(55)));
    f.advance(6);
    assert_eq!(f.get("/items/1").x_cache, "MISS");
}

#[test]
fn expired_entries_are_revalidated_with_their_validators() {
    let f = fixture("{}", "");
    f.up.answer(
        200,
        &[
            ("cache-control", "max-age=1"),
            ("etag", "\"v1\""),
            ("x-a", "old"),
        ],
        "body",
    );
    f.get("/items/1");
    f.up.push(Ok((
        304,
        vec![
            ("cache-control", "max-age=60".into()),
            ("x-a", "new".into()),
        ],
        String::new(),
    )));
    f.advance(2);
    let r = f.send(
        Request::get("/items/1")
            .header("host", "api.test")
            .body(Body::empty())
            .expect("req"),
    );
    assert_eq!(
        (r.status, r.x_cache.as_str(), r.body.as_str()),
        (200, "REVALIDATED", "body")
    );
    let (_, headers) = f.up.last();
    assert_eq!(
        headers.get("if-none-match").map(|v| v.as_bytes()),
        Some(&b"\"v1\""[..])
    );
    // The 304's headers were merged: now fresh for a minute.
    f.advance(30);
    let hit = f.get("/items/1");
    assert_eq!((hit.x_cache.as_str(), hit.body.as_str()), ("HIT", "body"));
    assert_eq!(f.up.calls(), 2);
}

#[test]
fn last_modified_revalidates_with_if_modified_since() {
    let f = fixture("{}", "");
    let lm = "Tue, 01 Jan 2030 00:00:00 GMT";
    f.up.answer(
        200,
        &[("cache-control", "no-cache"), ("last-modified", lm)],
        "b",
    );
    f.get("/items/1");
    f.up.push(Ok((304, vec![], String::new())));
    let r = f.get("/items/1");
    assert_eq!((r.x_cache.as_str(), r.body.as_str()), ("REVALIDATED", "b"));
    let (_, headers) = f.up.last();
    assert_eq!(
        headers.get("if-modified-since").map(|v| v.as_bytes()),
        Some(lm.as_bytes())
    );
}

#[test]
fn stale_while_revalidate_serves_stale_and_refreshes_in_the_background() {
    let f = fixture("{}", "");
    f.up.answer(
        200,
        &[("cache-control", "max-age=1, stale-while-revalidate=30")],
        "old",
    );
    f.get("/items/1");
    f.up.answer(200, &[("cache-control", "max-age=60")], "new");
    f.advance(5);
    let stale = f.get("/items/1");
    assert_eq!(
        (stale.x_cache.as_str(), stale.body.as_str()),
        ("STALE", "old")
    );
    assert_eq!(f.up.calls(), 1, "the refresh waits for the background");
    assert_eq!(f.later.run(), 1);
    assert_eq!(f.up.calls(), 2);
    let fresh = f.get("/items/1");
    assert_eq!(
        (fresh.x_cache.as_str(), fresh.body.as_str()),
        ("HIT", "new")
    );
    // Past the window a stale entry is not served.
    f.advance(100);
    assert_eq!(f.get("/items/1").x_cache, "MISS");
}

#[test]
fn stale_if_error_serves_stale_when_the_upstream_fails_within_the_window() {
    let f = fixture("{}", "");
    f.up.answer(
        200,
        &[("cache-control", "max-age=1, stale-if-error=60")],
        "kept",
    );
    f.get("/items/1");
    f.up.push(Err(UpstreamError::Connect(None)));
    f.advance(10);
    let r = f.get("/items/1");
    assert_eq!(
        (r.status, r.x_cache.as_str(), r.body.as_str()),
        (200, "STALE", "kept")
    );
    f.up.answer(503, &[], "down");
    let r = f.get("/items/1");
    assert_eq!((r.status, r.x_cache.as_str()), (200, "STALE"));
    f.advance(100);
    let r = f.get("/items/1");
    assert_eq!((r.status, r.x_cache.as_str()), (503, "MISS"));
}

#[test]
fn must_revalidate_turns_off_stale_windows() {
    let f = fixture("{}", "");
    f.up.answer(
        200,
        &[(
            "cache-control",
            "max-age=1, must-revalidate, stale-if-error=60",
        )],
        "x",
    );
    f.get("/items/1");
    f.up.push(Err(UpstreamError::Connect(None)));
    f.advance(10);
    assert_eq!(f.get("/items/1").status, 502);
}

#[test]
fn responses_that_must_not_be_stored_are_not() {
    for headers in [
        vec![("cache-control", "no-store")],
        vec![("cache-control", "private, max-age=60")],
        vec![("cache-control", "max-age=60"), ("set-cookie", "s=1")],
        vec![
            ("cache-control", "public, max-age=60"),
            ("set-cookie", "s=1"),
        ],
        vec![("cache-control", "max-age=60"), ("vary", "*")],
        vec![],
    ] {
        let f = fixture("{}", "");
        f.up.answer(200, &headers, "x");
        f.get("/items/1");
        let second = f.get("/items/1");
        assert_eq!(second.x_cache, "MISS", "{headers:?}");
        assert_eq!(f.up.calls(), 2, "{headers:?}");
    }
}

#[test]
fn requests_with_authorization_bypass_the_cache() {
    let f = fixture("{}", "");
    f.up.answer(200, &[("cache-control", "public, max-age=60")], "secret");
    let auth = || {
        Request::get("/items/1")
            .header("host", "api.test")
            .header("authorization", "Bearer abc")
            .body(Body::empty())
            .expect("req")
    };
    assert_eq!(f.send(auth()).x_cache, "BYPASS");
    // Not stored for anyone, and the credential went upstream untouched.
    assert_eq!(f.get("/items/1").x_cache, "MISS");
    assert_eq!(f.send(auth()).x_cache, "BYPASS");
    assert_eq!(f.up.calls(), 3);
}

#[test]
fn other_methods_pass_through_marked_bypass() {
    let f = fixture("{}", "");
    f.up.answer(200, &[("cache-control", "max-age=60")], "x");
    let post = || {
        Request::post("/items/1")
            .body(Body::full("b"))
            .expect("req")
    };
    assert_eq!(f.send(post()).x_cache, "BYPASS");
    assert_eq!(f.send(post()).x_cache, "BYPASS");
    assert_eq!(f.up.calls(), 2);
}

#[test]
fn route_ttl_applies_without_freshness_and_max_ttl_caps() {
    let f = fixture("{ ttl: 30s, max_ttl: 60s }", "");
    f.up.answer(200, &[], "no headers");
    f.get("/items/a");
    f.advance(29);
    assert_eq!(f.get("/items/a").x_cache, "HIT");
    f.advance(2);
    assert_eq!(f.get("/items/a").x_cache, "MISS");
    // max-age=3600 is capped at 60s.
    f.up.answer(200, &[("cache-control", "max-age=3600")], "long");
    f.get("/items/b");
    f.advance(59);
    assert_eq!(f.get("/items/b").x_cache, "HIT");
    f.advance(2);
    assert_eq!(f.get("/items/b").x_cache, "MISS");
}

#[test]
fn override_replaces_the_response_lifetime() {
    let f = fixture("{ ttl: 100s, override: true }", "");
    f.up.answer(200, &[("cache-control", "max-age=1")], "x");
    f.get("/items/a");
    f.advance(50);
    assert_eq!(f.get("/items/a").x_cache, "HIT");
}

#[test]
fn query_order_and_encoding_do_not_split_the_cache() {
    let f = fixture("{}", "");
    f.up.answer(200, &[("cache-control", "max-age=60")], "x");
    f.get("/items/1?b=2&a=1");
    assert_eq!(f.up.last().0, "http://up.test/items/1?a=1&b=2");
    assert_eq!(f.get("/items/1?a=1&b=2").x_cache, "HIT");
    assert_eq!(f.get("/items/1?a=%31&b=2&").x_cache, "HIT");
    assert_eq!(f.get("/items/1?a=1&b=3").x_cache, "MISS");
    assert_eq!(f.get("/items/1?a=1+2").x_cache, "MISS");
}

#[test]
fn unkeyed_inputs_never_reach_the_upstream() {
    let f = fixture("{ key: { query: [id], headers: [x-tenant] } }", "");
    f.up.answer(200, &[("cache-control", "max-age=60")], "clean");
    let attack = Request::get("/items/1?id=7&utm=%3Cscript%3E")
        .header("host", "api.test")
        .header("x-forwarded-host", "evil.test")
        .header("x-original-url", "/admin")
        .header("x-evil", "reflected")
        .header("x-tenant", "t1")
        .header("accept-language", "fr")
        .header("content-length", "4")
        .body(Body::full("fat!"))
        .expect("req");
    assert_eq!(f.send(attack).x_cache, "MISS");
    let (uri, headers) = f.up.last();
    assert_eq!(uri, "http://up.test/items/1?id=7");
    assert_eq!(
        headers.get("x-forwarded-host").map(|v| v.as_bytes()),
        Some(&b"api.test"[..])
    );
    for h in ["x-original-url", "x-evil", "content-length"] {
        assert!(!headers.contains_key(h), "{h} was forwarded");
    }
    assert_eq!(
        headers.get("x-tenant").map(|v| v.as_bytes()),
        Some(&b"t1"[..])
    );
    assert_eq!(
        headers.get("accept-language").map(|v| v.as_bytes()),
        Some(&b"fr"[..])
    );
    // The keyed header splits the cache; the unkeyed parameter does not.
    assert_eq!(f.get("/items/1?id=7").x_cache, "MISS");
    let same = Request::get("/items/1?id=7&other=1")
        .header("host", "api.test")
        .header("x-tenant", "t1")
        .body(Body::empty())
        .expect("req");
    assert_eq!(f.send(same).x_cache, "HIT");
}

#[test]
fn headers_set_by_policies_are_kept() {
    let f = fixture(
        "{}\n    policies:\n      - headers: { request: { set: { x-gateway: 'on' } } }",
        "",
    );
    f.up.answer(200, &[("cache-control", "max-age=60")], "x");
    let req = Request::get("/items/1")
        .header("host", "api.test")
        .header("x-client", "c")
        .body(Body::empty())
        .expect("req");
    f.send(req);
    let (_, headers) = f.up.last();
    assert_eq!(
        headers.get("x-gateway").map(|v| v.as_bytes()),
        Some(&b"on"[..])
    );
    assert!(!headers.contains_key("x-client"));
}

#[test]
fn vary_stores_one_variant_per_header_value() {
    let f = fixture("{}", "");
    f.up.answer(
        200,
        &[("cache-control", "max-age=60"), ("vary", "Accept-Language")],
        "x",
    );
    let lang = |l: &str| {
        Request::get("/items/1")
            .header("host", "api.test")
            .header("accept-language", l)
            .body(Body::empty())
            .expect("req")
    };
    assert_eq!(f.send(lang("en")).x_cache, "MISS");
    assert_eq!(f.send(lang("fr")).x_cache, "MISS");
    assert_eq!(f.send(lang("en")).x_cache, "HIT");
    assert_eq!(f.send(lang("fr")).x_cache, "HIT");
    assert_eq!(f.get("/items/1").x_cache, "MISS");
    assert_eq!(f.up.calls(), 3);
}

#[test]
fn head_and_get_are_cached_apart() {
    let f = fixture("{}", "");
    f.up.answer(200, &[("cache-control", "max-age=60")], "body");
    let head = || {
        Request::head("/items/1")
            .header("host", "api.test")
            .body(Body::empty())
            .expect("req")
    };
    assert_eq!(f.send(head()).x_cache, "MISS");
    let hit = f.send(head());
    assert_eq!((hit.x_cache.as_str(), hit.body.as_str()), ("HIT", ""));
    assert_eq!(f.get("/items/1").x_cache, "MISS");
}

const PURGE: &str = "cache: { purge: { token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 } }";

#[test]
fn purge_by_url_prefix_and_tag() {
    assert_eq!(TOKEN_SHA.len(), 64);
    let f = fixture("{}", PURGE);
    f.up.answer(
        200,
        &[("cache-control", "max-age=600"), ("cache-tag", "red, blue")],
        "x",
    );
    for p in ["/items/a?q=1", "/items/b", "/items/c/d"] {
        f.get(p);
    }
    let hits = |f: &Fixture| -> Vec<String> {
        ["/items/a?q=1", "/items/b", "/items/c/d"]
            .iter()
            .map(|p| f.get(p).x_cache)
            .collect()
    };
    assert_eq!(hits(&f), ["HIT", "HIT", "HIT"]);
    f.advance(1);
    assert_eq!(f.purge(r#"{"url": "/items/a?q=1"}"#), 200);
    assert_eq!(f.get("/items/a?q=1").x_cache, "MISS");
    assert_eq!(f.get("/items/b").x_cache, "HIT");
    f.advance(1);
    assert_eq!(f.purge(r#"{"prefix": "/items/c/"}"#), 200);
    assert_eq!(f.get("/items/c/d").x_cache, "MISS");
    assert_eq!(f.get("/items/b").x_cache, "HIT");
    f.advance(1);
    assert_eq!(f.purge(r#"{"tag": "blue"}"#), 200);
    assert_eq!(hits(&f), ["MISS", "MISS", "MISS"]);
    // Entries stored after a purge are not affected by it.
    f.advance(1);
    assert_eq!(hits(&f), ["HIT", "HIT", "HIT"]);
}

#[test]
fn purge_api_needs_the_token_and_a_valid_body() {
    let f = fixture("{}", PURGE);
    let req = Request::post("/cache/purge")
        .header("authorization", "Bearer wrong")
        .body(Body::full(r#"{"tag": "a"}"#))
        .expect("req");
    assert_eq!(
        block_on(f.gw.handle(req, ClientInfo::default())).status(),
        401
    );
    assert_eq!(f.purge(r#"{"tag": "a", "prefix": "/x"}"#), 400);
    assert_eq!(f.purge(r#"{"url": "/nowhere"}"#), 400);
    assert_eq!(f.purge(r#"{"prefix": "relative"}"#), 400);
    assert_eq!(f.purge("not json"), 400);
}

fn record(body: usize) -> Record {
    let req = Request::get("/x")
        .header("host", "h")
        .body(())
        .expect("req")
        .into_parts()
        .0;
    let mut headers = HeaderMap::new();
    headers.insert("cache-control", "max-age=60".parse().expect("value"));
    let settings = CacheSettings::default();
    let mut p = Problems::default();
    let route = build_route_cache(&RouteCacheSpec::default(), &settings, "cache", &mut p)
        .expect("default route settings");
    let key = CacheKey {
        primary: "k".into(),
        host: "h".into(),
        path: "/x".into(),
        query: String::new(),
    };
    let (mut entry, _) =
        build(&req, StatusCode::OK, &headers, &key, &route, &settings, 0).expect("storable");
    entry.body = bytes::Bytes::from(vec![b'x'; body]);
    Record::Entry(Arc::new(entry))
}

#[test]
fn the_memory_store_stays_within_its_byte_bound() {
    let cache = MemoryCache::default();
    let entry = record(1000);
    let max = entry.size() * 3 + 100;
    for i in 0..10 {
        cache.put(
            &format!("k{i}"),
            entry.clone(),
            Duration::from_secs(60),
            0,
            max,
        );
        assert!(cache.bytes() <= max);
    }
    // The least recently used went first; the newest three stay.
    assert!(cache.get("k0", 1).is_none());
    assert!(cache.get("k6", 1).is_none());
    assert!(cache.get("k9", 1).is_some());
    assert!(cache.get("k7", 1).is_some());
    // Reading k7 made k8 the least recently used.
    cache.put("k10", entry.clone(), Duration::from_secs(60), 0, max);
    assert!(cache.get("k8", 1).is_none());
    assert!(cache.get("k7", 1).is_some());
    // Expired entries are not served.
    assert!(cache.get("k9", 61_000).is_none());
    // Larger than the whole bound: not kept.
    cache.put("big", record(10_000), Duration::from_secs(60), 0, max);
    assert!(cache.get("big", 1).is_none());
}

#[test]
fn entries_survive_their_stored_form() {
    let Record::Entry(e) = record(10) else {
        panic!("an entry")
    };
    let bytes = Record::Entry(e.clone()).encode().expect("encodes");
    let Some(Record::Entry(back)) = Record::decode(&bytes) else {
        panic!("decodes")
    };
    assert_eq!(back.body, e.body);
    assert_eq!(back.headers, e.headers);
    assert_eq!(back.fresh_until_ms, 60_000);
    assert_eq!(back.age_secs(30_000), 30);
    let v = Record::Variants(vec![http::header::ACCEPT_LANGUAGE])
        .encode()
        .expect("encodes");
    assert!(
        matches!(Record::decode(&v), Some(Record::Variants(n)) if n == [http::header::ACCEPT_LANGUAGE])
    );
    assert!(Record::decode(&bytes::Bytes::from_static(b"garbage")).is_none());
}

#[test]
fn concurrent_misses_make_one_upstream_request() {
    let f = fixture_with("{}", "", true);
    f.up.answer(200, &[("cache-control", "max-age=60")], "shared");
    let (tx, rx) = oneshot::channel::<()>();
    *f.up.gate.lock().unwrap_or_else(|p| p.into_inner()) = Some(rx.shared());
    let requests = (0..20).map(|_| {
        let gw = f.gw.clone();
        async move {
            let req = Request::get("/items/1")
                .header("host", "api.test")
                .body(Body::empty())
                .expect("req");
            let resp = gw.handle(req, ClientInfo::default()).await;
            let x = resp.headers().get("x-cache").cloned();
            let body = resp.into_body().collect(1024).await.expect("body");
            (x, body)
        }
    });
    let all = futures_util::future::join_all(requests);
    let release = async move {
        let _ = tx.send(());
    };
    let (results, ()) = block_on(futures_util::future::join(all, release));
    assert_eq!(f.up.calls(), 1);
    let misses = results
        .iter()
        .filter(|(x, _)| x.as_ref().is_some_and(|v| v == "MISS"))
        .count();
    assert_eq!(misses, 1);
    assert!(results.iter().all(|(_, b)| &b[..] == b"shared"));
}

#[test]
fn an_entry_the_upstream_stops_allowing_is_dropped() {
    let f = fixture("{}", "");
    f.up.answer(
        200,
        &[("cache-control", "max-age=1"), ("etag", "\"a\"")],
        "old",
    );
    f.get("/items/1");
    f.up.answer(200, &[("cache-control", "no-store")], "new");
    f.advance(2);
    let r = f.get("/items/1");
    assert_eq!((r.x_cache.as_str(), r.body.as_str()), ("MISS", "new"));
    // Not revalidated against the dropped entry next time.
    f.get("/items/1");
    let (_, headers) = f.up.last();
    assert!(!headers.contains_key("if-none-match"));
}

#[test]
fn purges_match_the_path_the_client_used_even_when_a_policy_rewrites_it() {
    let f = fixture(
        "{ ttl: 60s }\n    policies:\n      - rewrite: { path: '/v2/{rest}' }",
        PURGE,
    );
    f.up.answer(200, &[], "x");
    f.get("/items/a?z=1");
    assert_eq!(f.up.last().0, "http://up.test/v2/a?z=1");
    assert_eq!(f.get("/items/a?z=1").x_cache, "HIT");
    f.advance(1);
    assert_eq!(f.purge(r#"{"prefix": "/items/"}"#), 200);
    assert_eq!(f.get("/items/a?z=1").x_cache, "MISS");
    f.advance(1);
    assert_eq!(f.purge(r#"{"url": "/items/a?z=1"}"#), 200);
    assert_eq!(f.get("/items/a?z=1").x_cache, "MISS");
}

#[test]
fn the_clients_validators_get_304_from_the_cache_and_never_reach_the_upstream() {
    let f = fixture("{}", "");
    f.up.answer(
        200,
        &[("cache-control", "max-age=60"), ("etag", "\"v1\"")],
        "body",
    );
    let conditional = |tag: &str| {
        Request::get("/items/1")
            .header("host", "api.test")
            .header("if-none-match", tag)
            .body(Body::empty())
            .expect("req")
    };
    // A miss: the upstream is asked without the client's validator, and
    // the stored answer matches it.
    let miss = f.send(conditional("\"v1\""));
    assert_eq!((miss.status, miss.x_cache.as_str()), (304, "MISS"));
    assert!(f.up.last().1.get("if-none-match").is_none());
    let hit = f.send(conditional("W/\"v1\""));
    assert_eq!(
        (hit.status, hit.x_cache.as_str(), hit.body.as_str()),
        (304, "HIT", "")
    );
    let other = f.send(conditional("\"v0\""));
    assert_eq!((other.status, other.body.as_str()), (200, "body"));
    assert_eq!(f.up.calls(), 1);
}
