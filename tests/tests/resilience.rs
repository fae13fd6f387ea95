//! Timeouts, retries, the retry budget and the circuit breaker against
//! wiremock upstreams, counting what reached the upstream; and two gateway
//! processes sharing one breaker through Redis.

mod common;

use std::time::Duration;

use anyhow::Result;
use common::local_bin::GatewayProcess;
use common::redis::Redis;
use common::{TempDir, TestGateway, assert_problem, client, eventually, fill, received};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// An upstream that answers `status` to everything.
async fn upstream(status: u16) -> MockServer {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).set_body_string(format!("upstream {status}")))
        .mount(&up)
        .await;
    up
}

/// An upstream that answers `first` `n` times, then `then`.
async fn upstream_then(first: ResponseTemplate, n: u64, then: ResponseTemplate) -> MockServer {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(first)
        .up_to_n_times(n)
        .with_priority(1)
        .mount(&up)
        .await;
    Mock::given(any()).respond_with(then).mount(&up).await;
    up
}

async fn hits(up: &MockServer) -> usize {
    received(up).await.len()
}

async fn gateway(up: &MockServer, settings: &str) -> Result<TestGateway> {
    let yaml = format!(
        "version: 1\nupstreams:\n  backend:\n    url: {}\n{settings}\nroutes:\n  - path: /api/{{*rest}}\n    upstream: backend\n",
        up.uri()
    );
    TestGateway::start(&yaml).await
}

const RETRY: &str = "    retry: { attempts: 3, backoff: { base: 1ms, max: 5ms } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_retried_and_the_success_answered() -> Result<()> {
    let up = upstream_then(
        ResponseTemplate::new(503),
        1,
        ResponseTemplate::new(200).set_body_string("fine"),
    )
    .await;
    let gw = gateway(&up, RETRY).await?;
    let resp = client().get(gw.url("/api/x")).send().await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await?, "fine");
    assert_eq!(hits(&up).await, 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_is_not_retried() -> Result<()> {
    let up = upstream_then(ResponseTemplate::new(503), 1, ResponseTemplate::new(200)).await;
    let gw = gateway(&up, RETRY).await?;
    let resp = client().post(gw.url("/api/x")).body("order").send().await?;
    assert_eq!(resp.status(), 503, "the upstream's own answer");
    assert_eq!(resp.text().await?, "");
    assert_eq!(hits(&up).await, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_body_is_sent_again_on_retry() -> Result<()> {
    let up = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&up)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&up)
        .await;
    let gw = gateway(&up, RETRY).await?;
    let resp = client()
        .put(gw.url("/api/doc"))
        .body("{\"v\":1}")
        .send()
        .await?;
    assert_eq!(resp.status(), 204);
    let got = received(&up).await;
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|r| r.body == b"{\"v\":1}"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_caps_retries_during_an_outage() -> Result<()> {
    let up = upstream(503).await;
    let gw = gateway(
        &up,
        "    retry:\n      attempts: 3\n      backoff: { base: 1ms, max: 2ms }\n      budget: { ratio: 0.2, min_per_second: 0, window: 1m }",
    )
    .await?;
    for _ in 0..50 {
        let resp = client().get(gw.url("/api/x")).send().await?;
        assert_eq!(resp.status(), 503);
    }
    // Unbudgeted, 50 requests of 3 attempts would be 150 calls; the budget
    // allows retries up to 20% of the requests.
    assert_eq!(hits(&up).await, 60);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_breaker_answers_503_without_the_upstream_then_probes_and_closes() -> Result<()> {
    let up = upstream_then(
        ResponseTemplate::new(502).set_body_string("upstream trouble at 10.0.0.7"),
        3,
        ResponseTemplate::new(200).set_body_string("back"),
    )
    .await;
    let gw = gateway(
        &up,
        "    circuit_breaker: { consecutive_failures: 3, open_for: 1s }",
    )
    .await?;
    for _ in 0..3 {
        assert_eq!(client().get(gw.url("/api/x")).send().await?.status(), 502);
    }
    let resp = client().get(gw.url("/api/x")).send().await?;
    assert_eq!(
        resp.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    let doc = assert_problem(resp, 503, "circuit-open").await?;
    let text = doc.to_string();
    assert!(
        !text.contains("10.0.0.7") && !text.contains("127.0.0.1"),
        "{text}"
    );
    assert_eq!(
        hits(&up).await,
        3,
        "the open breaker did not call the upstream"
    );

    // Once the open interval has passed, a probe goes through and closes it.
    let closed = eventually(Duration::from_secs(10), || async {
        match client().get(gw.url("/api/x")).send().await {
            Ok(r) => r.status() == 200,
            Err(_) => false,
        }
    })
    .await;
    assert!(closed, "the breaker never let a probe through");
    assert_eq!(hits(&up).await, 4, "one probe");
    for _ in 0..3 {
        assert_eq!(client().get(gw.url("/api/x")).send().await?.status(), 200);
    }
    assert_eq!(hits(&up).await, 7);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_probe_opens_the_breaker_again() -> Result<()> {
    let up = upstream(503).await;
    let gw = gateway(
        &up,
        "    circuit_breaker: { consecutive_failures: 1, open_for: 1s }",
    )
    .await?;
    assert_eq!(client().get(gw.url("/api/x")).send().await?.status(), 503);
    assert_eq!(hits(&up).await, 1);
    // Probes after each interval fail and reopen it; in between, nothing
    // reaches the upstream.
    let probed_twice = eventually(Duration::from_secs(10), || async {
        let _ = client().get(gw.url("/api/x")).send().await;
        hits(&up).await >= 3
    })
    .await;
    assert!(probed_twice);
    let resp = client().get(gw.url("/api/x")).send().await?;
    assert_problem(resp, 503, "circuit-open").await?;
    assert_eq!(hits(&up).await, 3);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_attempt_is_cut_at_per_try_and_retried() -> Result<()> {
    let up = upstream_then(
        ResponseTemplate::new(200).set_delay(Duration::from_secs(5)),
        1,
        ResponseTemplate::new(200).set_body_string("quick"),
    )
    .await;
    let gw = gateway(
        &up,
        "    timeouts: { per_try: 200ms, deadline: 4s }\n    retry: { attempts: 2, backoff: { base: 1ms, max: 1ms } }",
    )
    .await?;
    let resp = client().get(gw.url("/api/x")).send().await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await?, "quick");
    assert_eq!(hits(&up).await, 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_end_in_504_after_the_attempts_or_at_the_deadline() -> Result<()> {
    let cases = [
        // Every attempt times out: all three are made.
        (
            "    timeouts: { per_try: 150ms, deadline: 4s }\n    retry: { attempts: 3, backoff: { base: 1ms, max: 1ms } }",
            3,
        ),
        // Each attempt may take 400ms, but all of them only 600ms: the
        // second attempt is cut short by the deadline and no third one starts.
        (
            "    timeouts: { per_try: 400ms, deadline: 600ms }\n    retry: { attempts: 5, backoff: { base: 1ms, max: 1ms } }",
            2,
        ),
    ];
    for (settings, attempts) in cases {
        let up = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
            .mount(&up)
            .await;
        let gw = gateway(&up, settings).await?;
        let resp = client().get(gw.url("/api/x")).send().await?;
        assert_problem(resp, 504, "upstream-timeout").await?;
        assert_eq!(hits(&up).await, attempts, "{settings}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_overrides_timeouts_and_retries() -> Result<()> {
    let up = upstream_then(
        ResponseTemplate::new(200).set_delay(Duration::from_secs(5)),
        1,
        ResponseTemplate::new(200).set_body_string("quick"),
    )
    .await;
    let yaml = fill(
        r#"
version: 1
upstreams:
  backend:
    url: UP
    timeout: 10s
routes:
  - path: /api/{*rest}
    upstream: backend
    timeout: 150ms
    timeouts: { deadline: 3s }
    retry: { attempts: 2, backoff: { base: 1ms, max: 1ms } }
"#,
        &[("UP", &up.uri())],
    );
    let gw = TestGateway::start(&yaml).await?;
    let resp = client().get(gw.url("/api/x")).send().await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(hits(&up).await, 2);
    Ok(())
}

const SHARED: &str = r#"
version: 1
store: REDIS
upstreams:
  NAME:
    url: UP
    circuit_breaker:
      consecutive_failures: 3
      open_for: 3s
      refresh: 100ms
routes:
  - path: /api/{*rest}
    upstream: NAME
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateway_processes_share_the_breaker_through_redis() -> Result<()> {
    let redis = Redis::start().await?;
    let up = MockServer::start().await;
    Mock::given(path("/api/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&up)
        .await;
    Mock::given(path("/api/fail"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&up)
        .await;
    // A name of its own, so runs on a shared Redis never meet.
    let name = format!(
        "shared-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    );
    let dir = TempDir::new()?;
    let config = dir.path().join("gateway.yaml");
    std::fs::write(
        &config,
        fill(
            SHARED,
            &[("REDIS", redis.url()), ("UP", &up.uri()), ("NAME", &name)],
        ),
    )?;
    let a = GatewayProcess::start(&config).await?;
    let b = GatewayProcess::start(&config).await?;

    // B has seen the breaker closed.
    assert_eq!(client().get(b.url("/api/ok")).send().await?.status(), 200);
    // A trips it.
    for _ in 0..3 {
        assert_eq!(client().get(a.url("/api/fail")).send().await?.status(), 503);
    }
    assert_problem(
        client().get(a.url("/api/ok")).send().await?,
        503,
        "circuit-open",
    )
    .await?;
    // Once B's cached copy is older than `refresh`, B answers 503 too,
    // without contacting the upstream.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = hits(&up).await;
    assert_eq!(before, 4);
    let resp = client().get(b.url("/api/ok")).send().await?;
    assert!(resp.headers().contains_key("retry-after"));
    assert_problem(resp, 503, "circuit-open").await?;
    assert_eq!(hits(&up).await, before, "B did not call the upstream");

    // After the open interval, B's probe succeeds and closes the breaker
    // for A as well.
    let closed_by_b = eventually(Duration::from_secs(10), || async {
        match client().get(b.url("/api/ok")).send().await {
            Ok(r) => r.status() == 200,
            Err(_) => false,
        }
    })
    .await;
    assert!(closed_by_b, "B never probed");
    assert_eq!(client().get(a.url("/api/ok")).send().await?.status(), 200);
    Ok(())
}

/// The YAML block of `file` (relative to the workspace) after `after`.
fn yaml_block(file: &str, after: &str) -> Result<String> {
    let text = std::fs::read_to_string(common::local_bin::workspace_root().join(file))?;
    let from = text.find(after).unwrap_or(0);
    let start = text[from..]
        .find("```yaml\n")
        .map(|i| from + i + "```yaml\n".len())
        .ok_or_else(|| anyhow::anyhow!("no yaml block in {file}"))?;
    let len = text[start..].find("```").unwrap_or(0);
    Ok(text[start..start + len].to_owned())
}

#[test]
fn the_documented_configs_load() -> Result<()> {
    for (file, after) in [
        ("docs/resilience.md", "# Timeouts"),
        ("README.md", "## Timeouts, retries and circuit breaking"),
    ] {
        let yaml = format!("version: 1\n{}", yaml_block(file, after)?);
        assert!(yaml.contains("circuit_breaker"), "{file}: {yaml}");
        if let Err(e) = gateway_core::config::load_file_text(
            file,
            &yaml,
            &gateway_core::PolicyRegistry::builtin(),
        ) {
            panic!("{file}: the example is invalid:\n{e}");
        }
    }
    Ok(())
}
