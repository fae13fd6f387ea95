//! The admin API of the local server: its token, its own listener, and
//! each endpoint (config with secrets redacted, reload, routes, upstream
//! health and breakers, cache purge, registry). Metrics are in
//! `admin_metrics.rs` (their counters are per process).

mod common;

use std::time::Duration;

use anyhow::Result;
use common::admin::{ADMIN_TOKEN, AdminGateway};
use common::{assert_problem, client, eventually, fill};
use reqwest::Method;
use serde_json::{Value, json};
use wiremock::matchers::{any, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DEADLINE: Duration = Duration::from_secs(10);

async fn upstream(status: u16, body: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(status)
                .insert_header("cache-control", "max-age=600")
                .set_body_string(body),
        )
        .mount(&server)
        .await;
    server
}

fn simple(up: &MockServer) -> String {
    fill(
        "version: 1\nupstreams:\n  up: { url: \"UP\" }\nroutes:\n  - { name: one, path: /one, upstream: up }\n",
        &[("UP", &up.uri())],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_needs_the_token() -> Result<()> {
    let up = upstream(200, "x").await;
    let gw = AdminGateway::start(&simple(&up)).await?;
    for path in ["/config", "/routes", "/metrics", "/nowhere"] {
        let resp = client().get(gw.admin_url(path)?).send().await?;
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        assert_problem(resp, 401, "unauthorized").await?;
        assert_eq!(challenge.as_deref(), Some("Bearer realm=\"admin\""));
        let wrong = client()
            .get(gw.admin_url(path)?)
            .bearer_auth("admin-test-token-7c1g")
            .send()
            .await?;
        assert_problem(wrong, 401, "unauthorized").await?;
    }
    let (status, body) = gw.admin_get("/nowhere").await?;
    assert_eq!(status, 404, "{body}");
    let (status, body) = gw.admin(Method::POST, "/config", None).await?;
    assert_eq!(
        (status, body["status"].as_u64()),
        (405, Some(405)),
        "{body}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_no_admin_listener_and_none_on_the_public_one() -> Result<()> {
    let up = upstream(200, "x").await;
    let off = AdminGateway::start_with_token(&simple(&up), None).await?;
    assert_eq!(off.server().admin_addr(), None);
    let blank = AdminGateway::start_with_token(&simple(&up), Some("  ")).await?;
    assert_eq!(blank.server().admin_addr(), None);

    let gw = AdminGateway::start(&simple(&up)).await?;
    assert_ne!(gw.server().admin_addr(), Some(gw.server().addr()));
    for path in ["/config", "/routes", "/upstreams", "/metrics"] {
        let resp = client()
            .get(gw.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await?;
        assert_problem(resp, 404, "route-not-found").await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_address_needs_an_explicit_yes() -> Result<()> {
    let opts = gateway_local::admin::AdminOptions {
        listen: "0.0.0.0:0".parse()?,
        token: Some(ADMIN_TOKEN.to_owned()),
        allow_remote: false,
    };
    let err = gateway_local::admin::bind(&opts)
        .await
        .expect_err("refused without allow_remote");
    assert!(err.to_string().contains("--admin-allow-remote"), "{err}");
    let allowed = gateway_local::admin::AdminOptions {
        allow_remote: true,
        ..opts
    };
    assert!(gateway_local::admin::bind(&allowed).await?.is_some());
    Ok(())
}

const SECRETS: &str = r#"version: 1
store: memory
consumers:
  alice:
    api_keys: ["APIKEYHASH"]
    basic: { username: alice, password_hash: "PWHASH" }
jwt_issuers:
  main:
    algorithms: [HS256]
    keys: [{ kid: k1, secret: "jwt-hmac-secret-value-0123456789abcdef" }]
registry: { token_sha256: "REGHASH" }
cache:
  purge: { token_sha256: "PURGEHASH" }
upstreams:
  up: { url: "UP" }
routes:
  - name: secret-route
    path: /a
    upstream: up
    headers: { x-internal-key: "route-match-secret" }
    policies:
      - headers:
          request:
            set:
              Authorization: "Bearer upstream-credential-xyz"
              X-Api-Key: "upstream-api-key-abc"
              X-Env: "from-env-${PATH}"
              X-Tenant: acme
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_and_routes_show_no_secret() -> Result<()> {
    let up = upstream(200, "x").await;
    let api_hash = gateway_core::auth::hash_api_key("consumer-api-key");
    let reg_hash = gateway_core::auth::hash_api_key("registry-token");
    let purge_hash = gateway_core::auth::hash_api_key("purge-token");
    let pw_hash =
        gateway_core::auth::hash_password("pw", b"0123456789abcdef").map_err(anyhow::Error::msg)?;
    let yaml = fill(
        SECRETS,
        &[
            ("APIKEYHASH", &api_hash),
            ("PWHASH", &pw_hash),
            ("REGHASH", &reg_hash),
            ("PURGEHASH", &purge_hash),
            ("UP", &up.uri()),
        ],
    );
    let gw = AdminGateway::start(&yaml).await?;
    let (status, body) = gw.admin_get("/config").await?;
    assert_eq!(status, 200, "{body}");
    let text = body.to_string();
    let path_var = std::env::var("PATH")?;
    for secret in [
        api_hash.as_str(),
        &pw_hash,
        &reg_hash,
        &purge_hash,
        "jwt-hmac-secret-value",
        "upstream-credential-xyz",
        "upstream-api-key-abc",
        &path_var,
        "route-match-secret",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let cfg = &body["config"];
    assert_eq!(body["source"], gw.config_path().display().to_string());
    assert_eq!(cfg["consumers"]["alice"]["basic"]["username"], "alice");
    assert_eq!(cfg["jwt_issuers"]["main"]["keys"][0]["kid"], "k1");
    assert_eq!(
        cfg["jwt_issuers"]["main"]["keys"][0]["secret"],
        "[redacted]"
    );
    let set = &cfg["routes"][0]["policies"][0]["headers"]["request"]["set"];
    assert_eq!(set["X-Tenant"], "acme");
    assert_eq!(set["X-Env"], "[redacted]");
    assert_eq!(cfg["upstreams"]["up"]["url"], up.uri());

    let (status, routes) = gw.admin_get("/routes").await?;
    assert_eq!(status, 200, "{routes}");
    assert!(
        !routes.to_string().contains("route-match-secret"),
        "{routes}"
    );
    assert_eq!(routes["routes"][0]["name"], "secret-route");
    assert_eq!(
        routes["routes"][0]["headers"][0],
        "x-internal-key=[redacted]"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_match_the_cli_listing() -> Result<()> {
    let up = upstream(200, "x").await;
    let yaml = fill(
        "version: 1\nupstreams:\n  up: { url: \"UP\" }\nroutes:\n  - { name: items, path: '/items/{id}', methods: [GET, PUT], upstream: up, policies: [{ headers: { request: { set: { x-a: '1' } } } }] }\n  - { name: any, path: /any, upstream: up }\n",
        &[("UP", &up.uri())],
    );
    let gw = AdminGateway::start(&yaml).await?;
    let (status, body) = gw.admin_get("/routes").await?;
    assert_eq!(status, 200, "{body}");
    let routes = body["routes"].as_array().cloned().unwrap_or_default();
    assert_eq!(routes.len(), 2, "{body}");
    assert_eq!(routes[0]["name"], "items");
    assert_eq!(routes[0]["path"], "/items/{id}");
    assert_eq!(routes[0]["methods"], serde_json::json!(["GET", "PUT"]));
    assert_eq!(routes[0]["upstream"], "up");
    assert_eq!(routes[0]["policies"], serde_json::json!(["headers"]));
    assert_eq!(routes[1]["methods"], serde_json::json!([]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_a_good_file_and_refuses_a_bad_one() -> Result<()> {
    let up = upstream(200, "served").await;
    let gw = AdminGateway::start(&simple(&up)).await?;
    assert_eq!(client().get(gw.url("/two")).send().await?.status(), 404);
    gw.write_config(&fill(
        "version: 1\nupstreams:\n  up: { url: \"UP\" }\nroutes:\n  - { name: one, path: /one, upstream: up }\n  - { name: two, path: /two, upstream: up }\n",
        &[("UP", &up.uri())],
    ))?;
    let (status, body) = gw.admin(Method::POST, "/reload", None).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], "applied");
    assert_eq!(body["routes"], 2);
    assert_eq!(
        client().get(gw.url("/two")).send().await?.text().await?,
        "served"
    );

    gw.write_config(&fill(
        "version: 1\nupstreams:\n  up: { url: \"UP\", timeout: forever }\nroutes:\n  - { name: one, path: /one, upstream: nope }\n",
        &[("UP", &up.uri())],
    ))?;
    let resp = client()
        .post(gw.admin_url("/reload")?)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await?;
    let problem = assert_problem(resp, 422, "invalid-config").await?;
    let problems = problem["problems"].as_array().cloned().unwrap_or_default();
    assert!(!problems.is_empty(), "{problem}");
    assert!(
        problems
            .iter()
            .all(|p| p["file"] == gw.config_path().display().to_string()
                && p["problem"].as_str().is_some_and(|m| !m.is_empty())),
        "{problem}"
    );
    let fields: Vec<&str> = problems
        .iter()
        .filter_map(|p| p["field"].as_str())
        .collect();
    assert!(
        fields.iter().any(|f| f.starts_with("upstreams.up.timeout"))
            || fields.iter().any(|f| f.starts_with("routes[0].upstream")),
        "{problem}"
    );
    // The last good config keeps serving.
    assert_eq!(
        client().get(gw.url("/two")).send().await?.text().await?,
        "served"
    );
    Ok(())
}

const HEALTH: &str = r#"version: 1
upstreams:
  flaky:
    url: "FLAKY"
    health:
      active: { path: /healthz, interval: 100ms, timeout: 100ms, healthy_threshold: 1, unhealthy_threshold: 1 }
    circuit_breaker: { consecutive_failures: 2, open_for: 60s }
  steady: { url: "STEADY" }
routes:
  - { name: flaky, path: /flaky, upstream: flaky }
  - { name: steady, path: /steady, upstream: steady }
"#;

fn upstream_named<'a>(body: &'a Value, name: &str) -> Option<&'a Value> {
    body["upstreams"]
        .as_array()?
        .iter()
        .find(|u| u["name"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstreams_show_health_and_breakers() -> Result<()> {
    let flaky = MockServer::start().await;
    Mock::given(path("/healthz"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&flaky)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(503))
        .mount(&flaky)
        .await;
    let steady = upstream(200, "ok").await;
    let gw = AdminGateway::start(&fill(
        HEALTH,
        &[("FLAKY", &flaky.uri()), ("STEADY", &steady.uri())],
    ))
    .await?;
    let (status, body) = gw.admin_get("/upstreams").await?;
    assert_eq!(status, 200, "{body}");
    let f = upstream_named(&body, "flaky").cloned().unwrap_or_default();
    assert_eq!(f["source"]["kind"], "static", "{body}");
    assert_eq!(f["breaker"]["state"], "closed", "{body}");
    assert_eq!(f["endpoints"][0]["id"], flaky.uri(), "{body}");
    assert_eq!(f["endpoints"][0]["healthy"], true, "{body}");
    let s = upstream_named(&body, "steady").cloned().unwrap_or_default();
    assert!(s.get("breaker").is_none(), "{body}");

    // Two failures open the breaker.
    for _ in 0..2 {
        assert_eq!(client().get(gw.url("/flaky")).send().await?.status(), 503);
    }
    let (_, body) = gw.admin_get("/upstreams").await?;
    let f = upstream_named(&body, "flaky").cloned().unwrap_or_default();
    assert_eq!(f["breaker"]["state"], "open", "{body}");
    assert!(f["breaker"]["until_ms"].as_u64().is_some(), "{body}");

    // The health check starts failing: the endpoint leaves rotation.
    flaky.reset().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(503))
        .mount(&flaky)
        .await;
    let unhealthy = eventually(DEADLINE, || async {
        let Ok((_, body)) = gw.admin_get("/upstreams").await else {
            return false;
        };
        upstream_named(&body, "flaky").is_some_and(|f| {
            f["endpoints"][0]["healthy"] == false && f["endpoints"][0]["active_healthy"] == false
        })
    })
    .await;
    assert!(unhealthy, "the endpoint never showed unhealthy");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_purge_through_the_admin_api() -> Result<()> {
    let up = upstream(200, "cached").await;
    let gw = AdminGateway::start(&fill(
        "version: 1\nupstreams:\n  up: { url: \"UP\" }\nroutes:\n  - { name: c, path: '/c/{*rest}', upstream: up, cache: {} }\n",
        &[("UP", &up.uri())],
    ))
    .await?;
    let x_cache = |p: &'static str| {
        let url = gw.url(p);
        async move {
            let resp = client().get(url).send().await?;
            anyhow::Ok(
                resp.headers()
                    .get("x-cache")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned(),
            )
        }
    };
    assert_eq!(x_cache("/c/a").await?, "MISS");
    assert_eq!(x_cache("/c/a").await?, "HIT");
    let (status, body) = gw
        .admin(Method::POST, "/cache/purge", Some(json!({"url": "/c/a"})))
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(x_cache("/c/a").await?, "MISS");
    assert_eq!(x_cache("/c/a").await?, "HIT");
    let (status, body) = gw
        .admin(Method::POST, "/cache/purge", Some(json!({"prefix": "/c/"})))
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(x_cache("/c/a").await?, "MISS");
    let (status, body) = gw
        .admin(Method::POST, "/cache/purge", Some(json!({"nothing": 1})))
        .await?;
    assert_eq!(
        (status, body["status"].as_u64()),
        (400, Some(400)),
        "{body}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_lists_registered_instances() -> Result<()> {
    let up = upstream(200, "x").await;
    let gw = AdminGateway::start(&simple(&up)).await?;
    let (status, body) = gw.admin_get("/registry").await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["services"], serde_json::json!([]));
    let registry = gw
        .server()
        .gateway()
        .registry()
        .expect("the local target wires one");
    registry
        .register(
            gateway_core::discovery::Instance {
                id: "users-1".into(),
                service: "users".into(),
                address: "127.0.0.1".into(),
                port: 9000,
                scheme: "http".into(),
                weight: 1,
                zone: None,
                version: Some("1.2".into()),
                metadata: Default::default(),
            },
            Duration::from_secs(30),
        )
        .await?;
    let (status, body) = gw.admin_get("/registry").await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["services"][0]["name"], "users", "{body}");
    let instance = &body["services"][0]["instances"][0];
    assert_eq!(instance["id"], "users-1", "{body}");
    assert_eq!(instance["port"], 9000, "{body}");
    assert_eq!(instance["version"], "1.2", "{body}");
    assert!(instance["expires_at_ms"].as_u64().is_some(), "{body}");
    Ok(())
}

/// Kills the `local` process this test started when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_takes_admin_flags_and_hides_variables() -> Result<()> {
    let up = upstream(200, "x").await;
    let dir = common::TempDir::new()?;
    std::fs::write(
        dir.path().join("gateway.yaml"),
        fill(
            "version: 1\nupstreams:\n  up: { url: \"UP\" }\nroutes:\n  - path: /a\n    upstream: up\n    policies:\n      - headers: { request: { set: { x-signature: \"${GW_ADMIN_TEST_VALUE}\" } } }\n",
            &[("UP", &up.uri())],
        ),
    )?;
    let token_file = dir.path().join("admin-token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n"))?;
    let (public, admin) = (common::dead_port()?, common::dead_port()?);
    let secret = "variable-secret-4b9e";
    let _child = Child(
        std::process::Command::new(common::local_bin::local_bin()?)
            .args(["--config", "gateway.yaml", "--no-watch", "--listen"])
            .arg(format!("127.0.0.1:{public}"))
            .arg("--admin-listen")
            .arg(format!("127.0.0.1:{admin}"))
            .arg("--admin-token-file")
            .arg(&token_file)
            .env("GW_ADMIN_TEST_VALUE", secret)
            .env_remove("GATEWAY_ADMIN_TOKEN")
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?,
    );
    let url = format!("http://127.0.0.1:{admin}/config");
    let deadline = std::time::Instant::now() + DEADLINE;
    let body = loop {
        if let Ok(resp) = client().get(&url).bearer_auth(ADMIN_TOKEN).send().await {
            break resp.text().await?;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the admin API never answered"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let v: Value = serde_json::from_str(&body)?;
    let set = &v["config"]["routes"][0]["policies"][0]["headers"]["request"]["set"];
    assert_eq!(set["x-signature"], "[redacted]", "{body}");
    assert!(!body.contains(secret), "{body}");
    Ok(())
}
