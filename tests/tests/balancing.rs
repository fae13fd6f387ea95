//! Load balancing and endpoint health through the local server, with three
//! wiremock upstreams that answer with their own name: the share each gets
//! per algorithm, a header hash that sticks, zone preference, a failing
//! upstream ejected and back, active checks taking an endpoint out and
//! putting it back, and a 503 when nothing is healthy.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Result, ensure};
use common::{TestGateway, assert_problem, client, dead_port, eventually, fill};
use wiremock::matchers::{any, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// How long an ejection or a health change may take to show.
const DEADLINE: Duration = Duration::from_secs(10);

/// An upstream answering its `name` on every path.
async fn named(name: &str) -> MockServer {
    let server = MockServer::start().await;
    answer(&server, name, 200, 200).await;
    server
}

/// Replaces what `server` answers: `status` on `/x` (its name as body) and
/// `health` on `/healthz`.
async fn answer(server: &MockServer, name: &str, status: u16, health: u16) {
    server.reset().await;
    Mock::given(path("/healthz"))
        .respond_with(ResponseTemplate::new(health))
        .mount(server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).set_body_string(name))
        .mount(server)
        .await;
}

struct Upstreams {
    servers: Vec<MockServer>,
}

impl Upstreams {
    async fn start() -> Self {
        Self {
            servers: vec![named("a").await, named("b").await, named("c").await],
        }
    }

    /// The config with `A`, `B` and `C` replaced by the servers' URLs.
    fn config(&self, yaml: &str) -> String {
        fill(
            yaml,
            &[
                ("URL_A", &self.servers[0].uri()),
                ("URL_B", &self.servers[1].uri()),
                ("URL_C", &self.servers[2].uri()),
            ],
        )
    }

    /// Requests the `i`th server received on `path`.
    async fn hits(&self, i: usize, on: &str) -> usize {
        common::received(&self.servers[i])
            .await
            .iter()
            .filter(|r| r.url.path() == on)
            .count()
    }
}

/// Sends `n` requests to `/x` (with `headers`) and counts the answers by body.
async fn spread(
    gw: &TestGateway,
    n: usize,
    headers: &[(&str, &str)],
) -> Result<HashMap<String, usize>> {
    let mut out = HashMap::new();
    for _ in 0..n {
        let mut req = client().get(gw.url("/x"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await?;
        let key = if resp.status().is_success() {
            resp.text().await?
        } else {
            format!("status {}", resp.status().as_u16())
        };
        *out.entry(key).or_default() += 1;
    }
    Ok(out)
}

fn share(counts: &HashMap<String, usize>, name: &str) -> usize {
    counts.get(name).copied().unwrap_or(0)
}

const BALANCED: &str = r#"
version: 1
upstreams:
  u:
    targets:
      - { url: URL_A, weight: 3 }
      - { url: URL_B, weight: 2 }
      - { url: URL_C, weight: 1 }
    balance: ALGORITHM
routes:
  - { path: /x, upstream: u }
"#;

async fn gateway_with(ups: &Upstreams, algorithm: &str) -> Result<TestGateway> {
    TestGateway::start(&ups.config(&BALANCED.replace("ALGORITHM", algorithm))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_takes_turns_and_weighted_round_robin_follows_weights() -> Result<()> {
    let ups = Upstreams::start().await;
    let gw = gateway_with(&ups, "round_robin").await?;
    let c = spread(&gw, 30, &[]).await?;
    ensure!(
        ["a", "b", "c"].iter().all(|n| share(&c, n) == 10),
        "round robin: {c:?}"
    );
    gw.shutdown().await;

    let gw = gateway_with(&ups, "weighted_round_robin").await?;
    let c = spread(&gw, 60, &[]).await?;
    ensure!(
        (share(&c, "a"), share(&c, "b"), share(&c, "c")) == (30, 20, 10),
        "weights 3:2:1: {c:?}"
    );
    gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_follows_the_weights_within_tolerance() -> Result<()> {
    let ups = Upstreams::start().await;
    let gw = gateway_with(&ups, "random").await?;
    let c = spread(&gw, 600, &[]).await?;
    // Expected 300, 200, 100; the bounds are over five standard deviations.
    ensure!(
        (240..=360).contains(&share(&c, "a"))
            && (140..=260).contains(&share(&c, "b"))
            && (55..=145).contains(&share(&c, "c")),
        "{c:?}"
    );
    gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_request_steers_away_from_a_slow_upstream() -> Result<()> {
    let ups = Upstreams::start().await;
    ups.servers[1].reset().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("b")
                .set_delay(Duration::from_millis(150)),
        )
        .mount(&ups.servers[1])
        .await;
    let gw = TestGateway::start(&ups.config(
        "version: 1\nupstreams:\n  u: { targets: [URL_A, URL_B, URL_C], balance: least_request }\nroutes:\n  - { path: /x, upstream: u }\n",
    ))
    .await?;
    let c = spread(&gw, 60, &[]).await?;
    // Once b has answered slowly, it loses every comparison with a or c.
    ensure!(share(&c, "b") <= 6, "{c:?}");
    ensure!(share(&c, "a") >= 15 && share(&c, "c") >= 15, "{c:?}");
    gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hash_on_a_header_sticks_to_one_upstream() -> Result<()> {
    let ups = Upstreams::start().await;
    let gw = TestGateway::start(&ups.config(
        "version: 1\nupstreams:\n  u: { targets: [URL_A, URL_B, URL_C], balance: consistent_hash, hash_on: { header: x-user } }\nroutes:\n  - { path: /x, upstream: u }\n",
    ))
    .await?;
    let mut used = HashMap::new();
    for user in 0..24 {
        let id = format!("user-{user}");
        let c = spread(&gw, 4, &[("x-user", &id)]).await?;
        ensure!(c.len() == 1, "{id} went to {c:?}");
        for name in c.keys() {
            *used.entry(name.clone()).or_insert(0) += 1;
        }
    }
    ensure!(
        used.len() == 3,
        "users spread over every upstream: {used:?}"
    );
    // Without the header: round robin.
    let c = spread(&gw, 3, &[]).await?;
    ensure!(c.len() == 3, "{c:?}");
    gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zone_preference_keeps_requests_in_the_gateways_zone() -> Result<()> {
    let ups = Upstreams::start().await;
    let gw = TestGateway::start(&ups.config(
        "version: 1\nupstreams:\n  u:\n    zone: eu-1a\n    targets: [{ url: URL_A, zone: eu-1a }, { url: URL_B, zone: eu-1b }, { url: URL_C, zone: eu-1a }]\nroutes:\n  - { path: /x, upstream: u }\n",
    ))
    .await?;
    let c = spread(&gw, 20, &[]).await?;
    ensure!(share(&c, "a") == 10 && share(&c, "c") == 10, "{c:?}");
    gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_upstream_is_ejected_and_later_returns() -> Result<()> {
    let ups = Upstreams::start().await;
    answer(&ups.servers[1], "b", 500, 200).await;
    let gw = TestGateway::start(&ups.config(
        "version: 1\nupstreams:\n  u:\n    targets: [URL_A, URL_B, URL_C]\n    health: { passive: { consecutive_failures: 2, base_ejection: 2s } }\nroutes:\n  - { path: /x, upstream: u }\n",
    ))
    .await?;
    // Round robin: b fails on requests 2 and 5, and is ejected.
    let c = spread(&gw, 6, &[]).await?;
    ensure!(share(&c, "status 500") == 2, "{c:?}");
    let before = ups.hits(1, "/x").await;
    let c = spread(&gw, 20, &[]).await?;
    ensure!(
        share(&c, "a") + share(&c, "c") == 20,
        "b is out of rotation: {c:?}"
    );
    ensure!(ups.hits(1, "/x").await == before, "b got no request");

    // b recovers; once its ejection time is over it takes requests again.
    answer(&ups.servers[1], "b", 200, 200).await;
    let back = eventually(DEADLINE, || async {
        spread(&gw, 3, &[]).await.is_ok_and(|c| share(&c, "b") > 0)
    })
    .await;
    ensure!(back, "b never came back");
    gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_ejected_is_a_503_problem() -> Result<()> {
    let yaml = format!(
        "version: 1\nupstreams:\n  u:\n    targets: ['http://127.0.0.1:{}', 'http://127.0.0.1:{}']\n    health: {{ passive: {{ consecutive_failures: 1, max_ejected_percent: 100 }} }}\nroutes:\n  - {{ path: /x, upstream: u }}\n",
        dead_port()?,
        dead_port()?
    );
    let gw = TestGateway::start(&yaml).await?;
    for _ in 0..2 {
        assert_problem(client().get(gw.url("/x")).send().await?, 502, "bad-gateway").await?;
    }
    let doc = assert_problem(
        client().get(gw.url("/x")).send().await?,
        503,
        "no-healthy-upstream",
    )
    .await?;
    ensure!(!doc.to_string().contains("127.0.0.1"), "{doc}");
    gw.shutdown().await;
    Ok(())
}

const ACTIVE: &str = r#"
version: 1
upstreams:
  u:
    targets: [URL_A, URL_B, URL_C]
    health:
      passive: { enabled: false }
      active: { path: /healthz, interval: 100ms, timeout: 100ms, healthy_threshold: 2, unhealthy_threshold: 2 }
routes:
  - { path: /x, upstream: u }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_checks_take_a_down_endpoint_out_and_put_it_back() -> Result<()> {
    let ups = Upstreams::start().await;
    let gw = TestGateway::start_watching(&ups.config(ACTIVE)).await?;
    let probed = eventually(DEADLINE, || async { ups.hits(1, "/healthz").await >= 2 }).await;
    ensure!(probed, "b is probed");

    // b still serves /x, but fails its health checks: out of rotation.
    answer(&ups.servers[1], "b", 200, 503).await;
    let out = eventually(DEADLINE, || async {
        spread(&gw, 6, &[])
            .await
            .is_ok_and(|c| share(&c, "a") + share(&c, "c") == 6)
    })
    .await;
    ensure!(out, "b stayed in rotation");
    let c = spread(&gw, 12, &[]).await?;
    ensure!(share(&c, "b") == 0, "{c:?}");

    answer(&ups.servers[1], "b", 200, 200).await;
    let back = eventually(DEADLINE, || async {
        spread(&gw, 3, &[]).await.is_ok_and(|c| share(&c, "b") > 0)
    })
    .await;
    ensure!(back, "b never came back");

    // A reload to a config without active checks stops the probes.
    common::write_atomically(
        gw.config_path(),
        &ups.config("version: 1\nupstreams:\n  u: { targets: [URL_A, URL_B, URL_C] }\nroutes:\n  - { path: /x, upstream: u }\n"),
    )?;
    let stopped = eventually(DEADLINE, || async {
        let before = ups.hits(0, "/healthz").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        ups.hits(0, "/healthz").await == before
    })
    .await;
    ensure!(stopped, "probes went on after the reload");
    gw.shutdown().await;
    Ok(())
}
