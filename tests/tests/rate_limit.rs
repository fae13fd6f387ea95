//! The `rate_limit` policy through the local server: headers, 429 with
//! `Retry-After`, quotas, consumer groups, limits shared across routes,
//! store outages (fail open and closed), and the accuracy of the limits
//! when two gateway processes share one Redis.

mod common;

use anyhow::Result;
use common::local_bin::GatewayProcess;
use common::redis::Redis;
use common::{TempDir, TestGateway, assert_problem, client, fill};
use futures_util::stream::{self, StreamExt};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn upstream() -> MockServer {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&up)
        .await;
    up
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A unique suffix, so runs on a shared Redis never share counters.
fn unique() -> Result<String> {
    Ok(format!(
        "{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    ))
}

const ROUTES: &str = r#"
version: 1
upstreams:
  backend: { url: UP }
rate_limits:
  global: { rate: 2/m }
routes:
  - path: /ietf
    upstream: backend
    policies:
      - rate_limit: { limits: [{ name: per_ip, rate: 3/m }] }
  - path: /legacy
    upstream: backend
    policies:
      - rate_limit: { headers: legacy, limits: [{ name: legacy, rate: 3/m }] }
  - path: /quota
    upstream: backend
    policies:
      - rate_limit:
          limits: [{ name: daily, algorithm: quota, rate: 2/day, time_zone: Europe/Paris }]
  - path: /a
    upstream: backend
    policies:
      - rate_limit: { use: [global] }
  - path: /b
    upstream: backend
    policies:
      - rate_limit: { use: [global] }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_on_every_answer_then_429_with_retry_after() -> Result<()> {
    let up = upstream().await;
    let gw = TestGateway::start(&fill(ROUTES, &[("UP", &up.uri())])).await?;
    // 3/m: a burst of 3, then one every 20 s.
    let first = client().get(gw.url("/ietf")).send().await?;
    assert_eq!(first.status(), 200);
    assert_eq!(
        header(&first, "ratelimit-policy").as_deref(),
        Some("\"per_ip\";q=3;w=60")
    );
    assert_eq!(
        header(&first, "ratelimit").as_deref(),
        Some("\"per_ip\";r=2;t=20")
    );
    for remaining in [1, 0] {
        let resp = client().get(gw.url("/ietf")).send().await?;
        assert_eq!(resp.status(), 200);
        let rl = header(&resp, "ratelimit").unwrap_or_default();
        assert!(
            rl.starts_with(&format!("\"per_ip\";r={remaining};t=")),
            "{rl}"
        );
    }
    let denied = client().get(gw.url("/ietf")).send().await?;
    let retry: u64 = header(&denied, "retry-after").unwrap_or_default().parse()?;
    assert!((1..=20).contains(&retry), "retry after {retry}");
    let rl = header(&denied, "ratelimit").unwrap_or_default();
    assert!(rl.starts_with("\"per_ip\";r=0;t="), "{rl}");
    let doc = assert_problem(denied, 429, "rate-limited").await?;
    assert_eq!(doc["status"], 429);

    let legacy = client().get(gw.url("/legacy")).send().await?;
    assert_eq!(header(&legacy, "x-ratelimit-limit").as_deref(), Some("3"));
    assert_eq!(
        header(&legacy, "x-ratelimit-remaining").as_deref(),
        Some("2")
    );
    assert_eq!(header(&legacy, "x-ratelimit-reset").as_deref(), Some("20"));
    assert!(header(&legacy, "ratelimit").is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_reset_at_the_local_calendar_boundary() -> Result<()> {
    let up = upstream().await;
    let gw = TestGateway::start(&fill(ROUTES, &[("UP", &up.uri())])).await?;
    for _ in 0..2 {
        assert_eq!(client().get(gw.url("/quota")).send().await?.status(), 200);
    }
    let denied = client().get(gw.url("/quota")).send().await?;
    assert_eq!(denied.status(), 429);
    let retry: u64 = header(&denied, "retry-after").unwrap_or_default().parse()?;
    let rl = header(&denied, "ratelimit").unwrap_or_default();
    // Until local midnight in Paris: the reset and the retry agree, within a day.
    assert_eq!(rl, format!("\"daily\";r=0;t={retry}"));
    assert!((1..=25 * 3600).contains(&retry), "{retry}");
    let policy = header(&denied, "ratelimit-policy").unwrap_or_default();
    assert!(
        [
            "\"daily\";q=2;w=86400",
            "\"daily\";q=2;w=82800",
            "\"daily\";q=2;w=90000"
        ]
        .contains(&policy.as_str()),
        "{policy}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_without_route_in_its_key_is_shared_by_the_routes_using_it() -> Result<()> {
    let up = upstream().await;
    let gw = TestGateway::start(&fill(ROUTES, &[("UP", &up.uri())])).await?;
    assert_eq!(client().get(gw.url("/a")).send().await?.status(), 200);
    assert_eq!(client().get(gw.url("/b")).send().await?.status(), 200);
    assert_problem(
        client().get(gw.url("/a")).send().await?,
        429,
        "rate-limited",
    )
    .await?;
    assert_problem(
        client().get(gw.url("/b")).send().await?,
        429,
        "rate-limited",
    )
    .await?;
    Ok(())
}

const GROUPS: &str = r#"
version: 1
upstreams:
  backend: { url: UP }
consumers:
  ada: { groups: [gold], api_keys: [ADA] }
  bob: { api_keys: [BOB] }
routes:
  - path: /api
    upstream: backend
    policies:
      - auth: { api_key: {} }
      - rate_limit:
          limits:
            - name: per_consumer
              rate: 1/m
              key: [consumer]
              groups: { gold: { rate: 4/m } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_groups_get_their_own_rates() -> Result<()> {
    let up = upstream().await;
    let yaml = fill(
        GROUPS,
        &[
            ("UP", &up.uri()),
            ("ADA", &gateway_core::auth::hash_api_key("ada-key")),
            ("BOB", &gateway_core::auth::hash_api_key("bob-key")),
        ],
    );
    let gw = TestGateway::start(&yaml).await?;
    let call = |key: &'static str| {
        let url = gw.url("/api");
        async move {
            client()
                .get(url)
                .header("x-api-key", key)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    };
    let mut ada = Vec::new();
    for _ in 0..5 {
        ada.push(call("ada-key").await?);
    }
    assert_eq!(ada, [200, 200, 200, 200, 429], "gold: 4 per minute");
    assert_eq!(call("bob-key").await?, 200);
    assert_eq!(call("bob-key").await?, 429, "default: 1 per minute");
    Ok(())
}

const OUTAGE: &str = r#"
version: 1
store: REDIS
upstreams:
  backend: { url: UP }
routes:
  - path: /open
    upstream: backend
    policies:
      - rate_limit: { limits: [{ name: open_NAME, rate: 1/m }] }
  - path: /closed
    upstream: backend
    policies:
      - rate_limit: { limits: [{ name: closed_NAME, rate: 1/m, on_store_error: deny }] }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_fails_open_or_closed_as_configured() -> Result<()> {
    let mut redis = Redis::start_own().await?;
    let up = upstream().await;
    let name = unique()?;
    let yaml = fill(
        OUTAGE,
        &[("REDIS", redis.url()), ("UP", &up.uri()), ("NAME", &name)],
    );
    let gw = TestGateway::start(&yaml).await?;
    assert_eq!(client().get(gw.url("/open")).send().await?.status(), 200);
    assert_eq!(client().get(gw.url("/open")).send().await?.status(), 429);
    redis.stop();
    // Fail open: the request passes, with no rate-limit headers.
    let open = client().get(gw.url("/open")).send().await?;
    assert_eq!(open.status(), 200);
    assert!(header(&open, "ratelimit").is_none());
    // Fail closed: 503 problem.
    assert_problem(
        client().get(gw.url("/closed")).send().await?,
        503,
        "rate-limit-unavailable",
    )
    .await?;
    Ok(())
}

const ACCURACY: &str = r#"
version: 1
store: STORE
upstreams:
  backend: { url: UP }
routes:
  - path: /gcra
    upstream: backend
    policies:
      - rate_limit: { limits: [{ name: gcra_NAME, rate: 50/d }] }
  - path: /quota
    upstream: backend
    policies:
      - rate_limit: { limits: [{ name: quota_NAME, algorithm: quota, rate: 50/month }] }
  - path: /sliding
    upstream: backend
    policies:
      - rate_limit: { limits: [{ name: sliding_NAME, algorithm: sliding_window, rate: 50/h }] }
"#;

/// Limit of each route in [`ACCURACY`].
const N: usize = 50;

/// Sends `4 * N` requests to `path`, alternating between the gateways, 64
/// at a time; counts the 200s, checking everything else is a 429.
async fn allowed(gateways: &[&GatewayProcess], path: &str) -> Result<usize> {
    let urls: Vec<String> = (0..4 * N)
        .map(|i| gateways[i % gateways.len()].url(path))
        .collect();
    let statuses: Vec<u16> = stream::iter(urls)
        .map(|url| async move {
            client()
                .get(url)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    anyhow::ensure!(ok + limited == 4 * N, "unexpected answers: {statuses:?}");
    Ok(ok)
}

async fn two_processes(
    store: &str,
    up: &MockServer,
) -> Result<(TempDir, GatewayProcess, GatewayProcess)> {
    let dir = TempDir::new()?;
    let config = dir.path().join("gateway.yaml");
    let name = unique()?;
    std::fs::write(
        &config,
        fill(
            ACCURACY,
            &[("STORE", store), ("UP", &up.uri()), ("NAME", &name)],
        ),
    )?;
    let a = GatewayProcess::start(&config).await?;
    let b = GatewayProcess::start(&config).await?;
    Ok((dir, a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_redis_allow_exactly_the_limit() -> Result<()> {
    let redis = Redis::start().await?;
    let up = upstream().await;
    let (_dir, a, b) = two_processes(redis.url(), &up).await?;
    for path in ["/gcra", "/quota", "/sliding"] {
        assert_eq!(
            allowed(&[&a, &b], path).await?,
            N,
            "{path}: N of 4N over Redis"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_store_is_exact_per_instance() -> Result<()> {
    let up = upstream().await;
    let (_dir, a, b) = two_processes("memory", &up).await?;
    assert_eq!(allowed(&[&a], "/gcra").await?, N, "one instance: exact");
    // Two instances count separately: each allows N.
    assert_eq!(allowed(&[&a, &b], "/quota").await?, 2 * N);
    Ok(())
}
