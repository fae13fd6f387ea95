//! Response caching through the local server against wiremock upstreams,
//! on the memory store and on a real Redis: hit, miss, stale and
//! revalidation, expiry, poisoning attempts, purges through the API (also
//! across two processes sharing Redis) and request coalescing.

mod common;

use std::time::Duration;

use anyhow::Result;
use common::local_bin::GatewayProcess;
use common::redis::Redis;
use common::{TempDir, TestGateway, client, eventually, fill, path_and_query, received};
use wiremock::matchers::{any, header, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// SHA-256 of `test`.
const TOKEN_SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

const CONFIG: &str = r#"version: 1
TOPSTORE
cache:
  CACHEKIND
  purge: { token_sha256: TOKEN }
upstreams:
  up: { url: "UP" }
routes:
  - path: /c/{*rest}
    upstream: up
    cache:
      key: { query: [id], headers: [x-tenant] }
"#;

/// Where the gateway keeps its cache.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Store {
    Memory,
    Redis,
}

fn config(store: Store, redis: Option<&Redis>, up: &str) -> String {
    let (store_line, cache_store) = match (store, redis) {
        (Store::Redis, Some(r)) => (format!("store: \"{}\"", r.url()), "store: shared"),
        _ => (String::new(), "store: memory"),
    };
    fill(
        CONFIG,
        &[
            ("TOPSTORE", &store_line),
            ("CACHEKIND", cache_store),
            ("TOKEN", TOKEN_SHA),
            ("UP", up),
        ],
    )
}

/// A path of its own per run, so runs on a shared Redis never meet.
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("/c/{}-{nanos}/{name}", std::process::id())
}

async fn start(store: Store, up: &MockServer) -> Result<(TestGateway, Option<Redis>)> {
    let redis = match store {
        Store::Redis => Some(Redis::start().await?),
        Store::Memory => None,
    };
    let gw = TestGateway::start(&config(store, redis.as_ref(), &up.uri())).await?;
    Ok((gw, redis))
}

struct Got {
    status: u16,
    x_cache: String,
    age: Option<u64>,
    body: String,
}

async fn get(url: &str) -> Result<Got> {
    send(client().get(url)).await
}

async fn send(req: reqwest::RequestBuilder) -> Result<Got> {
    let resp = req.send().await?;
    let h = resp.headers();
    let x_cache = h
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let age = h.get("age").and_then(|v| v.to_str().ok()?.parse().ok());
    let status = resp.status().as_u16();
    let body = resp.text().await?;
    Ok(Got {
        status,
        x_cache,
        age,
        body,
    })
}

async fn purge(base: &str, body: &str) -> Result<u16> {
    let resp = client()
        .post(format!("{base}/cache/purge"))
        .bearer_auth("test")
        .body(body.to_owned())
        .send()
        .await?;
    Ok(resp.status().as_u16())
}

async fn hits(up: &MockServer, p: &str) -> usize {
    received(up)
        .await
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

/// Waits until entries stored with `max-age=1` before the call are stale.
async fn until_stale() {
    tokio::time::sleep(Duration::from_millis(1300)).await;
}

async fn hit_miss_revalidate(store: Store) -> Result<()> {
    let up = MockServer::start().await;
    Mock::given(header("if-none-match", "\"v1\""))
        .respond_with(ResponseTemplate::new(304).insert_header("cache-control", "max-age=60"))
        .with_priority(1)
        .mount(&up)
        .await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("cache-control", "max-age=1")
                .insert_header("etag", "\"v1\"")
                .set_body_string("v1"),
        )
        .mount(&up)
        .await;
    let (gw, _redis) = start(store, &up).await?;
    let p = unique("item");
    let url = gw.url(&p);

    let miss = get(&url).await?;
    assert_eq!(
        (miss.status, miss.x_cache.as_str(), miss.body.as_str()),
        (200, "MISS", "v1")
    );
    let hit = get(&url).await?;
    assert_eq!((hit.x_cache.as_str(), hit.body.as_str()), ("HIT", "v1"));
    assert!(hit.age.is_some(), "a hit carries Age");
    assert_eq!(hits(&up, &p).await, 1);

    until_stale().await;
    let reval = get(&url).await?;
    assert_eq!(
        (reval.status, reval.x_cache.as_str(), reval.body.as_str()),
        (200, "REVALIDATED", "v1")
    );
    let conditional = received(&up)
        .await
        .iter()
        .filter(|r| {
            r.url.path() == p
                && r.headers
                    .get("if-none-match")
                    .is_some_and(|v| v == "\"v1\"")
        })
        .count();
    assert_eq!(
        conditional, 1,
        "the upstream saw If-None-Match and answered 304"
    );
    // The 304 renewed the entry for a minute.
    assert_eq!(get(&url).await?.x_cache, "HIT");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hit_miss_and_revalidation_on_memory() -> Result<()> {
    hit_miss_revalidate(Store::Memory).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hit_miss_and_revalidation_on_redis() -> Result<()> {
    hit_miss_revalidate(Store::Redis).await
}

async fn expiry_and_stale(store: Store) -> Result<()> {
    let up = MockServer::start().await;
    // /swr: fresh 1 s, then served stale for 30 s while refreshed.
    Mock::given(path_regex("/swr$"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("cache-control", "max-age=1, stale-while-revalidate=30")
                .set_body_string("swr"),
        )
        .mount(&up)
        .await;
    // /sie: stored once, then the upstream fails.
    Mock::given(path_regex("/sie$"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("cache-control", "max-age=1, stale-if-error=60")
                .set_body_string("kept"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&up)
        .await;
    Mock::given(path_regex("/sie$"))
        .respond_with(ResponseTemplate::new(500).set_body_string("down"))
        .mount(&up)
        .await;
    // /plain: fresh 1 s, no validators: fetched again after.
    Mock::given(path_regex("/plain$"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("cache-control", "max-age=1")
                .set_body_string("plain"),
        )
        .mount(&up)
        .await;
    let (gw, _redis) = start(store, &up).await?;
    let base = unique("x");
    let (swr, sie, plain) = (
        format!("{base}/swr"),
        format!("{base}/sie"),
        format!("{base}/plain"),
    );
    for p in [&swr, &sie, &plain] {
        assert_eq!(get(&gw.url(p)).await?.x_cache, "MISS");
    }
    until_stale().await;
    assert_eq!(get(&gw.url(&plain)).await?.x_cache, "MISS");
    assert_eq!(hits(&up, &plain).await, 2);

    let stale = get(&gw.url(&swr)).await?;
    assert_eq!(
        (stale.x_cache.as_str(), stale.body.as_str()),
        ("STALE", "swr")
    );
    let refreshed = eventually(Duration::from_secs(5), || async {
        get(&gw.url(&swr)).await.is_ok_and(|g| g.x_cache == "HIT")
    })
    .await;
    assert!(refreshed, "the background refresh stored a fresh entry");
    assert_eq!(hits(&up, &swr).await, 2);

    let failed = get(&gw.url(&sie)).await?;
    assert_eq!(
        (failed.status, failed.x_cache.as_str(), failed.body.as_str()),
        (200, "STALE", "kept")
    );
    assert_eq!(hits(&up, &sie).await, 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_stale_windows_on_memory() -> Result<()> {
    expiry_and_stale(Store::Memory).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_stale_windows_on_redis() -> Result<()> {
    expiry_and_stale(Store::Redis).await
}

/// Answers with what it was sent, as a careless upstream reflecting its
/// input would.
struct Reflect;

impl Respond for Reflect {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let h = |n: &str| {
            req.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned()
        };
        let body = format!(
            "url={} xfh={} xou={} evil={} tenant={} body={}",
            path_and_query(req),
            h("x-forwarded-host"),
            h("x-original-url"),
            h("x-evil"),
            h("x-tenant"),
            req.body.len()
        );
        ResponseTemplate::new(200)
            .insert_header("cache-control", "max-age=60")
            .set_body_string(body)
    }
}

async fn poisoning(store: Store) -> Result<()> {
    let up = MockServer::start().await;
    Mock::given(any()).respond_with(Reflect).mount(&up).await;
    let (gw, _redis) = start(store, &up).await?;
    let p = unique("page");
    let url = gw.url(&format!("{p}?id=1"));
    let host = gw.addr().to_string();
    let clean = format!("url={p}?id=1 xfh={host} xou=- evil=- tenant=- body=0");

    // Each attack is the first request for its key, so it fills the cache.
    let attack = send(
        client()
            .get(gw.url(&format!("{p}?id=1&cb=%3Cscript%3E")))
            .header("x-forwarded-host", "evil.example")
            .header("x-original-url", "/admin")
            .header("x-evil", "<script>alert(1)</script>")
            .body("fat GET body"),
    )
    .await?;
    assert_eq!(attack.x_cache, "MISS");
    assert_eq!(attack.body, clean, "the upstream saw only keyed inputs");
    let normal = get(&url).await?;
    assert_eq!(
        (normal.x_cache.as_str(), normal.body.as_str()),
        ("HIT", clean.as_str())
    );

    // A keyed header makes its own entry; it never leaks into the others.
    let tenant = send(client().get(&url).header("x-tenant", "t2")).await?;
    assert_eq!(tenant.x_cache, "MISS");
    assert!(tenant.body.contains("tenant=t2"));
    assert_eq!(get(&url).await?.body, clean);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisoning_attempts_fail_on_memory() -> Result<()> {
    poisoning(Store::Memory).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisoning_attempts_fail_on_redis() -> Result<()> {
    poisoning(Store::Redis).await
}

async fn purges(store: Store) -> Result<()> {
    let up = MockServer::start().await;
    let tag = format!("tag-{}", unique("t").replace('/', "-"));
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("cache-control", "max-age=600")
                .insert_header("cache-tag", tag.as_str())
                .set_body_string("x"),
        )
        .mount(&up)
        .await;
    let (gw, _redis) = start(store, &up).await?;
    let base = unique("p");
    let (a, b, c) = (
        format!("{base}/a"),
        format!("{base}/b"),
        format!("{base}/sub/c"),
    );
    let all = [a.clone(), b.clone(), c.clone()];
    let states = |paths: [String; 3]| {
        let gw = &gw;
        async move {
            let mut out = Vec::new();
            for p in paths {
                out.push(get(&gw.url(&p)).await?.x_cache);
            }
            anyhow::Ok(out)
        }
    };
    assert_eq!(states(all.clone()).await?, ["MISS", "MISS", "MISS"]);
    assert_eq!(states(all.clone()).await?, ["HIT", "HIT", "HIT"]);
    let unauthorized = client()
        .post(gw.url("/cache/purge"))
        .body(format!(r#"{{"tag": "{tag}"}}"#))
        .send()
        .await?;
    assert_eq!(unauthorized.status(), 401);

    let base_url = gw.url("");
    assert_eq!(
        purge(&base_url, &format!(r#"{{"url": "{a}"}}"#)).await?,
        200
    );
    assert_eq!(states(all.clone()).await?, ["MISS", "HIT", "HIT"]);
    assert_eq!(
        purge(&base_url, &format!(r#"{{"prefix": "{base}/sub/"}}"#)).await?,
        200
    );
    assert_eq!(states(all.clone()).await?, ["HIT", "HIT", "MISS"]);
    assert_eq!(
        purge(&base_url, &format!(r#"{{"tag": "{tag}"}}"#)).await?,
        200
    );
    assert_eq!(states(all.clone()).await?, ["MISS", "MISS", "MISS"]);
    assert_eq!(states(all).await?, ["HIT", "HIT", "HIT"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_by_url_prefix_and_tag_on_memory() -> Result<()> {
    purges(Store::Memory).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_by_url_prefix_and_tag_on_redis() -> Result<()> {
    purges(Store::Redis).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_on_one_process_reaches_the_other_through_redis() -> Result<()> {
    let redis = Redis::start().await?;
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("cache-control", "max-age=600")
                .set_body_string("x"),
        )
        .mount(&up)
        .await;
    let dir = TempDir::new()?;
    let file = dir.path().join("gateway.yaml");
    std::fs::write(&file, config(Store::Redis, Some(&redis), &up.uri()))?;
    let a = GatewayProcess::start(&file).await?;
    let b = GatewayProcess::start(&file).await?;
    let p = unique("shared");

    assert_eq!(get(&a.url(&p)).await?.x_cache, "MISS");
    // B finds what A stored.
    assert_eq!(get(&b.url(&p)).await?.x_cache, "HIT");
    assert_eq!(hits(&up, &p).await, 1);

    assert_eq!(
        purge(&a.url(""), &format!(r#"{{"prefix": "{p}"}}"#)).await?,
        200
    );
    // B reads the ban list again within about a second: then the entry A
    // stored before the purge is gone for B too.
    let purged_on_b = eventually(Duration::from_secs(5), || async {
        get(&b.url(&p)).await.is_ok_and(|g| g.x_cache == "MISS")
    })
    .await;
    assert!(purged_on_b, "B never dropped the purged entry");
    assert_eq!(hits(&up, &p).await, 2);
    // What B stored after the purge serves A.
    assert_eq!(get(&a.url(&p)).await?.x_cache, "HIT");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_for_a_cold_key_make_one_upstream_request() -> Result<()> {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("cache-control", "max-age=600")
                .set_body_string("once")
                .set_delay(Duration::from_millis(500)),
        )
        .mount(&up)
        .await;
    let (gw, _redis) = start(Store::Memory, &up).await?;
    let p = unique("cold");
    let url = gw.url(&p);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move { get(&url).await }));
    }
    let mut misses = 0;
    for t in tasks {
        let got = t.await??;
        assert_eq!((got.status, got.body.as_str()), (200, "once"));
        misses += usize::from(got.x_cache == "MISS");
    }
    assert_eq!(
        hits(&up, &p).await,
        1,
        "one upstream request for 20 clients"
    );
    assert_eq!(misses, 1);
    Ok(())
}

#[test]
fn the_docs_example_is_a_valid_config() {
    let doc = include_str!("../../docs/caching.md");
    let start = doc.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let len = doc[start..].find("```").expect("closed yaml block");
    let cfg = gateway_core::config::load_file_text(
        "docs/caching.md",
        &doc[start..start + len],
        &gateway_core::PolicyRegistry::builtin(),
    );
    if let Err(e) = cfg {
        panic!("docs/caching.md example is invalid:\n{e}");
    }
}
