//! `GET /metrics` on the admin listener: Prometheus text with the
//! per-request series after traffic, the state series (breaker state,
//! endpoint health, config reloads, rate-limit store errors) and real
//! histograms for `*_seconds` metrics. In its own test
//! binary: the recorder and its counters are per process.

mod common;

use anyhow::Result;
use common::admin::{ADMIN_TOKEN, AdminGateway};
use common::{client, fill};
use reqwest::Method;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const CONFIG: &str = r#"version: 1
upstreams:
  metered:
    url: "UP"
    circuit_breaker: { consecutive_failures: 1, open_for: 60s }
routes:
  - { name: m, path: /m, upstream: metered }
"#;

/// The value of the sample line `series` (name and labels as rendered).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

async fn scrape(gw: &AdminGateway) -> Result<String> {
    let resp = client()
        .get(gw.admin_url("/metrics")?)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(ct.starts_with("text/plain"), "{ct}");
    Ok(resp.text().await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_state_series() -> Result<()> {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(503))
        .mount(&up)
        .await;
    let yaml = fill(CONFIG, &[("UP", &up.uri())]);
    let gw = AdminGateway::start(&yaml).await?;
    let unauthorized = client().get(gw.admin_url("/metrics")?).send().await?;
    assert_eq!(unauthorized.status(), 401);

    let text = scrape(&gw).await?;
    let endpoint = format!(
        "gateway_endpoint_healthy{{upstream=\"metered\",endpoint=\"{}\"}}",
        up.uri()
    );
    assert_eq!(
        sample(&text, "gateway_breaker_state{upstream=\"metered\"}"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(sample(&text, &endpoint), Some(1.0), "{text}");
    assert!(
        sample(&text, "gateway_rate_limit_store_errors_total").is_some(),
        "{text}"
    );

    // One failure opens the breaker.
    assert_eq!(client().get(gw.url("/m")).send().await?.status(), 503);
    let text = scrape(&gw).await?;
    assert_eq!(
        sample(&text, "gateway_breaker_state{upstream=\"metered\"}"),
        Some(2.0),
        "{text}"
    );
    // The open breaker answers the next two itself; a path with no route.
    for _ in 0..2 {
        assert_eq!(client().get(gw.url("/m")).send().await?.status(), 503);
    }
    assert_eq!(
        client().get(gw.url("/no/such/7431")).send().await?.status(),
        404
    );
    let text = scrape(&gw).await?;
    assert_eq!(
        sample(
            &text,
            "gateway_requests_total{route=\"m\",method=\"GET\",status_class=\"5xx\"}"
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "gateway_requests_total{route=\"unmatched\",method=\"GET\",status_class=\"4xx\"}"
        ),
        Some(1.0),
        "{text}"
    );
    // Bounded labels: the raw path never becomes a label value (sample
    // values, e.g. a duration sum, may contain the digits by chance).
    assert!(
        !text
            .lines()
            .filter_map(|l| l.split_once('{').and_then(|(_, r)| r.split_once('}')))
            .any(|(labels, _)| labels.contains("7431")),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "gateway_request_duration_seconds_count{route=\"m\",status_class=\"5xx\"}"
        ),
        Some(3.0),
        "{text}"
    );
    // Only the first request reached the upstream.
    assert_eq!(
        sample(
            &text,
            "gateway_upstream_duration_seconds_count{upstream=\"metered\",status_class=\"5xx\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains("# TYPE gateway_request_duration_seconds histogram"),
        "{text}"
    );

    // A good reload and a bad one.
    let (status, _) = gw.admin(Method::POST, "/reload", None).await?;
    assert_eq!(status, 200);
    gw.write_config("version: 1\nroutes: 7\n")?;
    let (status, _) = gw.admin(Method::POST, "/reload", None).await?;
    assert_eq!(status, 422);
    let text = scrape(&gw).await?;
    assert_eq!(
        sample(&text, "gateway_config_reloads_total{result=\"ok\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "gateway_config_reloads_total{result=\"error\"}"),
        Some(1.0),
        "{text}"
    );
    // A histogram, not a summary: bucket lines up to +Inf and a count of 2.
    assert!(
        text.contains("# TYPE gateway_config_reload_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "gateway_config_reload_duration_seconds_bucket{le=\"0.005\"}"
        )
        .is_some(),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "gateway_config_reload_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "gateway_config_reload_duration_seconds_count"),
        Some(2.0),
        "{text}"
    );
    Ok(())
}
