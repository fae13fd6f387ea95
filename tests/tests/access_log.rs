//! The access log of the `local` binary (its stdout, one JSON line per
//! request) checked field by field, with redaction, and request ids end to
//! end: kept, replaced or generated, sent upstream, returned, and in the
//! gateway's problem documents.

mod common;

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use common::local_bin::{GatewayProcess, Lines};
use common::{TempDir, client, dead_port, eventually, fill};
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// sha256("foo"), the API key of consumer `ada`.
const FOO_DIGEST: &str = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

const CONFIG: &str = r#"
version: 1
access_log:
  query: redact
  headers: [accept, authorization, x-api-key]
consumers:
  ada: { api_keys: ["DIGEST"] }
upstreams:
  users: { url: "UP" }
  slow: { url: "UP", timeouts: { per_try: 150ms, deadline: 2s } }
  dead: { url: "http://127.0.0.1:DEAD" }
routes:
  - { name: users, path: "/users/{id}", upstream: users }
  - { name: slow, path: /slow, upstream: slow }
  - { name: dead, path: /dead, upstream: dead }
  - name: private
    path: /private
    upstream: users
    policies: [ { auth: { api_key: {} } } ]
  - name: limited
    path: /limited
    upstream: users
    policies: [ { rate_limit: { limits: [{ name: one, rate: 1/m }] } } ]
"#;

struct Setup {
    gateway: GatewayProcess,
    lines: Lines,
    upstream: MockServer,
    _dir: TempDir,
}

async fn setup() -> Result<Setup> {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/users/1"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&upstream)
        .await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&upstream)
        .await;
    Mock::given(path("/private"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&upstream)
        .await;
    Mock::given(path("/limited"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&upstream)
        .await;
    let dir = TempDir::new()?;
    let config = dir.path().join("gateway.yaml");
    let dead = dead_port()?.to_string();
    let yaml = fill(
        CONFIG,
        &[
            ("UP", &upstream.uri()),
            ("DEAD", &dead),
            ("DIGEST", FOO_DIGEST),
        ],
    );
    std::fs::write(&config, yaml)?;
    let (gateway, lines) = GatewayProcess::start_capturing(&config).await?;
    Ok(Setup {
        gateway,
        lines,
        upstream,
        _dir: dir,
    })
}

/// The access log line of the request with id `id`, waiting for it.
async fn line_for(lines: &Lines, id: &str) -> Result<(Value, String)> {
    let find = || {
        lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|l| l.contains(&format!(r#""request_id":"{id}""#)))
            .cloned()
    };
    let found = eventually(Duration::from_secs(10), || async { find().is_some() }).await;
    ensure!(
        found,
        "no access log line for {id}; stdout: {:?}",
        lines.lock().map(|l| l.clone())
    );
    let raw = find().context("line")?;
    let v: Value = serde_json::from_str(&raw).with_context(|| format!("not JSON: {raw}"))?;
    Ok((v, raw))
}

fn request_id(resp: &reqwest::Response) -> Result<String> {
    Ok(resp
        .headers()
        .get("x-request-id")
        .context("x-request-id in the answer")?
        .to_str()?
        .to_owned())
}

fn is_generated(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxied_request_is_logged_field_by_field_and_its_id_goes_upstream() -> Result<()> {
    let s = setup().await?;
    let resp = client()
        .get(s.gateway.url("/users/1?page=2&api_key=querykey456"))
        .header("x-request-id", "client-abc.1")
        .header("user-agent", "access-test/1")
        .header("accept", "text/plain")
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        request_id(&resp)?,
        "client-abc.1",
        "a well-formed id is kept"
    );
    assert_eq!(resp.text().await?, "ok");

    let (line, raw) = line_for(&s.lines, "client-abc.1").await?;
    assert_eq!(line["log"], "access");
    let ts = line["timestamp"].as_str().context("timestamp")?;
    ensure!(
        ts.len() >= 20 && ts.as_bytes()[10] == b'T' && ts.ends_with('Z'),
        "{ts}"
    );
    assert_eq!(line["client_ip"], "127.0.0.1");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/users/1?page=2&api_key=[redacted]");
    assert_eq!(line["route"], "users");
    assert_eq!(line["upstream"], "users");
    assert_eq!(line["attempts"], 1);
    assert!(line["endpoint"].is_string(), "{raw}");
    assert_eq!(line["status"], 200);
    assert!(
        line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{raw}"
    );
    assert!(line["upstream_latency_ms"].is_u64(), "{raw}");
    assert_eq!(line["bytes_in"], 0);
    assert_eq!(line["bytes_out"], 2);
    assert!(line["consumer"].is_null());
    assert!(line["auth"].is_null());
    assert_eq!(line["user_agent"], "access-test/1");
    assert_eq!(line["headers"]["accept"], "text/plain");
    assert!(!raw.contains("querykey456"), "{raw}");

    let seen = s.upstream.received_requests().await.unwrap_or_default();
    let sent = seen
        .iter()
        .find(|r| r.url.path() == "/users/1")
        .context("the upstream got the request")?;
    assert_eq!(
        sent.headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("client-abc.1")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_is_logged_without_credentials_and_its_problem_names_the_id() -> Result<()> {
    let s = setup().await?;
    let resp = client()
        .get(s.gateway.url("/private?api_key=querykey456"))
        .header("authorization", "Bearer tok.en.secret789")
        .header("x-api-key", "wrong-key-123")
        .send()
        .await?;
    assert_eq!(resp.status(), 401);
    let id = request_id(&resp)?;
    assert!(is_generated(&id), "generated when absent: {id}");
    let problem: Value = serde_json::from_str(&resp.text().await?)?;
    assert_eq!(problem["request_id"], id.as_str());

    let (line, raw) = line_for(&s.lines, &id).await?;
    assert_eq!(line["status"], 401);
    assert_eq!(line["route"], "private");
    assert_eq!(line["auth"], "deny");
    assert_eq!(line["answered_by"], "auth");
    assert!(line["consumer"].is_null(), "{raw}");
    assert!(
        line["attempts"].is_null(),
        "the upstream was not called: {raw}"
    );
    assert_eq!(line["headers"]["authorization"], "[redacted]");
    assert_eq!(line["headers"]["x-api-key"], "[redacted]");
    for secret in ["tok.en.secret789", "wrong-key-123", "querykey456"] {
        assert!(!raw.contains(secret), "{secret} in {raw}");
    }

    let ok = client()
        .get(s.gateway.url("/private"))
        .header("x-api-key", "foo")
        .header("x-request-id", "with-key")
        .send()
        .await?;
    assert_eq!(ok.status(), 200);
    let (line, raw) = line_for(&s.lines, "with-key").await?;
    assert_eq!(line["auth"], "allow");
    assert_eq!(line["consumer"], "ada");
    assert_eq!(line["headers"]["x-api-key"], "[redacted]");
    assert!(!raw.contains("\"foo\""), "{raw}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_logged_as_limited() -> Result<()> {
    let s = setup().await?;
    let first = client()
        .get(s.gateway.url("/limited"))
        .header("x-request-id", "first")
        .send()
        .await?;
    assert_eq!(first.status(), 200);
    let second = client()
        .get(s.gateway.url("/limited"))
        .header("x-request-id", "second")
        .send()
        .await?;
    assert_eq!(second.status(), 429);
    let problem: Value = serde_json::from_str(&second.text().await?)?;
    assert_eq!(problem["request_id"], "second");
    let (line, _) = line_for(&s.lines, "first").await?;
    assert_eq!(line["rate_limit"], "allow");
    let (line, _) = line_for(&s.lines, "second").await?;
    assert_eq!(line["status"], 429);
    assert_eq!(line["route"], "limited");
    assert_eq!(line["rate_limit"], "limited");
    assert_eq!(line["answered_by"], "rate_limit");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_failures_are_logged_with_the_upstream_and_attempts() -> Result<()> {
    let s = setup().await?;
    let resp = client()
        .get(s.gateway.url("/dead"))
        .header("x-request-id", "bad id")
        .send()
        .await?;
    assert_eq!(resp.status(), 502);
    let id = request_id(&resp)?;
    assert!(is_generated(&id), "a malformed id is replaced: {id}");
    let problem: Value = serde_json::from_str(&resp.text().await?)?;
    assert_eq!(problem["type"], "urn:gateway:problem:bad-gateway");
    assert_eq!(problem["request_id"], id.as_str());
    let (line, raw) = line_for(&s.lines, &id).await?;
    assert_eq!(line["status"], 502);
    assert_eq!(line["route"], "dead");
    assert_eq!(line["upstream"], "dead");
    assert!(line["attempts"].as_u64().is_some_and(|n| n >= 1), "{raw}");
    assert!(line["endpoint"].is_string(), "{raw}");
    assert!(!raw.contains("bad id"), "{raw}");

    let resp = client()
        .get(s.gateway.url("/slow"))
        .header("x-request-id", "slow-1")
        .send()
        .await?;
    assert_eq!(resp.status(), 504);
    let problem: Value = serde_json::from_str(&resp.text().await?)?;
    assert_eq!(problem["request_id"], "slow-1");
    let (line, _) = line_for(&s.lines, "slow-1").await?;
    assert_eq!(line["status"], 504);
    assert_eq!(line["upstream"], "slow");
    let seen = s.upstream.received_requests().await.unwrap_or_default();
    ensure!(
        seen.iter().any(|r| r.url.path() == "/slow"
            && r.headers.get("x-request-id").and_then(|v| v.to_str().ok()) == Some("slow-1")),
        "the upstream got the id of the timed-out request"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmatched_path_is_logged_as_unmatched() -> Result<()> {
    let s = setup().await?;
    let resp = client()
        .get(s.gateway.url("/nowhere/42"))
        .header("x-request-id", "lost-1")
        .send()
        .await?;
    assert_eq!(resp.status(), 404);
    assert_eq!(request_id(&resp)?, "lost-1");
    let problem: Value = serde_json::from_str(&resp.text().await?)?;
    assert_eq!(problem["request_id"], "lost-1");
    let (line, _) = line_for(&s.lines, "lost-1").await?;
    assert_eq!(line["route"], "unmatched");
    assert!(line["upstream"].is_null());
    assert_eq!(line["path"], "/nowhere/42");
    Ok(())
}
