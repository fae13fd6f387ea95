//! The service registry through the local server: its HTTP API, two
//! gateway processes sharing a registry in Redis, a service that registers
//! with the client library and is routed to by name until it stops
//! heartbeating, and DNS upstreams.

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use common::local_bin::local_bin;
use common::redis::Redis;
use common::{TempDir, TestGateway, eventually, fill, json_call};
use gateway_core::discovery::wire::RegisterRequest;
use gateway_registry::client::RegistryClient;
use gateway_tokio::{HyperClient, SystemClock, tokio_env};
use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "registry-integration-token";

/// A service name no other run uses (a shared Redis outlives test runs).
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn config(store: &str, service: &str) -> String {
    fill(
        "version: 1\nstore: STORE\nregistry:\n  prefix: /registry\n  token_sha256: HASH\n  default_ttl: 30s\n  max_ttl: 5m\nupstreams:\n  svc: { service: SERVICE, discovery_cache: 100ms }\nroutes:\n  - { path: '/svc/{*rest}', upstream: svc }\n",
        &[
            ("STORE", store),
            ("HASH", &gateway_core::auth::hash_api_key(TOKEN)),
            ("SERVICE", service),
        ],
    )
}

async fn service_upstream(body: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_end_to_end() -> Result<()> {
    let gw = TestGateway::start(&config("memory", "users")).await?;
    let base = gw.url("/registry");
    use reqwest::Method as M;

    let (status, v) = json_call(M::GET, &format!("{base}/services"), None, None).await?;
    assert_eq!(status, 401);
    assert_eq!(v["type"], "urn:gateway:problem:unauthorized");
    let (status, _) = json_call(M::GET, &format!("{base}/services"), Some("nope"), None).await?;
    assert_eq!(status, 401);

    let instance = format!("{base}/services/users/instances/u1");
    let (status, v) = json_call(
        M::PUT,
        &instance,
        Some(TOKEN),
        Some(json!({"address": "127.0.0.1", "port": 9, "version": "1.2.0"})),
    )
    .await?;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ttl_ms"], 30_000);

    let (status, v) = json_call(
        M::GET,
        &format!("{base}/services/users/instances"),
        Some(TOKEN),
        None,
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(v["instances"][0]["id"], "u1");
    assert_eq!(v["instances"][0]["version"], "1.2.0");
    let (_, v) = json_call(M::GET, &format!("{base}/services"), Some(TOKEN), None).await?;
    assert_eq!(v, json!({"services": [{"name": "users", "instances": 1}]}));

    let (status, v) = json_call(
        M::POST,
        &format!("{instance}/heartbeat"),
        Some(TOKEN),
        Some(json!({"ttl_ms": 60_000})),
    )
    .await?;
    assert_eq!((status, &v["ttl_ms"]), (200, &json!(60_000)));

    let (status, v) = json_call(
        M::PUT,
        &instance,
        Some(TOKEN),
        Some(json!({"address": "127.0.0.1", "port": 0})),
    )
    .await?;
    assert_eq!(status, 400);
    assert_eq!(v["type"], "urn:gateway:problem:invalid-registration");
    assert!(
        v["detail"].as_str().is_some_and(|d| d.starts_with("port")),
        "{v}"
    );

    let (status, _) = json_call(M::DELETE, &instance, Some(TOKEN), None).await?;
    assert_eq!(status, 204);
    let (status, v) = json_call(M::DELETE, &instance, Some(TOKEN), None).await?;
    assert_eq!(
        (status, &v["type"]),
        (404, &json!("urn:gateway:problem:instance-not-registered"))
    );
    let (_, v) = json_call(
        M::GET,
        &format!("{base}/services/users/instances"),
        Some(TOKEN),
        None,
    )
    .await?;
    assert_eq!(v["instances"], json!([]));

    // Routing to a service without instances: 503, naming only the service.
    let (status, v) = json_call(M::GET, &gw.url("/svc/x"), None, None).await?;
    assert_eq!(status, 503);
    assert_eq!(v["type"], "urn:gateway:problem:no-instance");
    assert_eq!(v["detail"], "No instance of service `users` is available.");
    gw.shutdown().await;
    Ok(())
}

/// A `local` process serving `config`, killed when dropped.
struct LocalProcess {
    child: Child,
    addr: SocketAddr,
}

impl LocalProcess {
    async fn start(config: &Path) -> Result<Self> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let child = Command::new(local_bin()?)
            .arg("--config")
            .arg(config)
            .args(["--listen", &addr.to_string(), "--no-watch"])
            .env("GATEWAY_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting `local`")?;
        let mut p = Self { child, addr };
        let up = eventually(Duration::from_secs(20), || async {
            tokio::net::TcpStream::connect(addr).await.is_ok()
        })
        .await;
        if !up || p.child.try_wait()?.is_some() {
            bail!("`local` did not start listening on {addr}");
        }
        Ok(p)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for LocalProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_redis_see_one_registry() -> Result<()> {
    let redis = Redis::start().await?;
    let service = unique("shared");
    let upstream = service_upstream("from-the-service").await;
    let dir = TempDir::new()?;
    let path = dir.path().join("gateway.yaml");
    std::fs::write(&path, config(redis.url(), &service))?;
    let a = LocalProcess::start(&path).await?;
    let b = LocalProcess::start(&path).await?;
    use reqwest::Method as M;

    let port = upstream.address().port();
    let instance = format!("/registry/services/{service}/instances/i1");
    let (status, v) = json_call(
        M::PUT,
        &a.url(&instance),
        Some(TOKEN),
        Some(json!({"address": "127.0.0.1", "port": port})),
    )
    .await?;
    assert_eq!(status, 200, "{v}");

    // B sees what A registered, in its API and for routing.
    let (_, v) = json_call(
        M::GET,
        &b.url(&format!("/registry/services/{service}/instances")),
        Some(TOKEN),
        None,
    )
    .await?;
    assert_eq!(v["instances"][0]["port"], port, "{v}");
    let (_, v) = json_call(M::GET, &b.url("/registry/services"), Some(TOKEN), None).await?;
    let listed = v["services"].as_array().context("services")?;
    assert!(listed.iter().any(|s| s["name"] == service.as_str()), "{v}");
    let (status, v) = json_call(M::GET, &b.url("/svc/hello"), None, None).await?;
    assert_eq!((status, v), (200, json!("from-the-service")));

    // B deregisters; A stops routing once its 100 ms cache has passed.
    let (status, _) = json_call(M::DELETE, &b.url(&instance), Some(TOKEN), None).await?;
    assert_eq!(status, 204);
    let (_, v) = json_call(
        M::GET,
        &a.url(&format!("/registry/services/{service}/instances")),
        Some(TOKEN),
        None,
    )
    .await?;
    assert_eq!(v["instances"], json!([]));
    let url = a.url("/svc/hello");
    assert!(
        eventually(Duration::from_secs(5), || async {
            matches!(json_call(M::GET, &url, None, None).await, Ok((503, _)))
        })
        .await,
        "A kept routing to a deregistered instance"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_registered_by_the_client_gets_traffic_until_it_stops_heartbeating() -> Result<()>
{
    let service = unique("client");
    let gw = TestGateway::start(&config("memory", &service)).await?;
    let upstream = service_upstream("hello from the service").await;

    // The service registers itself with a 1 s TTL and heartbeats every 200 ms.
    let store = Arc::new(gateway_core::MemoryStore::new(Arc::new(SystemClock), 16));
    let env = tokio_env(store, Arc::new(HyperClient::default()));
    let registry = RegistryClient::new(&gw.url("/registry"), TOKEN, &env)?;
    let me = RegisterRequest {
        address: "127.0.0.1".into(),
        port: upstream.address().port(),
        ttl_ms: Some(1_000),
        ..Default::default()
    };
    registry.register(&service, "i1", &me).await?;
    let beats = tokio::spawn(registry.clone().heartbeat_loop(
        service.clone(),
        "i1".into(),
        me,
        Duration::from_millis(200),
    ));
    let found = registry.instances(&service).await?;
    assert_eq!(found.len(), 1);

    // Routed by name; still routed well after the TTL thanks to heartbeats.
    let url = gw.url("/svc/greeting");
    for _ in 0..3 {
        let (status, v) = json_call(reqwest::Method::GET, &url, None, None).await?;
        assert_eq!((status, v), (200, json!("hello from the service")));
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    assert_eq!(served(&upstream).await, 3);

    // The service stops heartbeating: its registration lapses and traffic stops.
    beats.abort();
    assert!(
        eventually(Duration::from_secs(10), || async {
            matches!(
                json_call(reqwest::Method::GET, &url, None, None).await,
                Ok((503, _))
            )
        })
        .await,
        "the lapsed instance kept getting traffic"
    );
    let after_lapse = served(&upstream).await;
    for _ in 0..3 {
        let (status, v) = json_call(reqwest::Method::GET, &url, None, None).await?;
        assert_eq!(status, 503);
        assert_eq!(v["type"], "urn:gateway:problem:no-instance");
    }
    assert_eq!(
        served(&upstream).await,
        after_lapse,
        "no request reached the service after it dropped out"
    );
    assert!(
        registry
            .deregister(&service, "i1")
            .await
            .is_ok_and(|live| !live)
    );
    gw.shutdown().await;
    Ok(())
}

/// How many requests `server` received.
async fn served(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

/// The same answer on `127.0.0.1:P` and `[::1]:P`: `localhost` resolves
/// to both, and the gateway may pick either.
async fn dual_stack_upstream(body: &str) -> Result<(MockServer, MockServer)> {
    for _ in 0..20 {
        let v6 = std::net::TcpListener::bind("[::1]:0")?;
        let port = v6.local_addr()?.port();
        let Ok(v4) = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)) else {
            continue;
        };
        let mut servers = Vec::new();
        for listener in [v4, v6] {
            let server = MockServer::builder().listener(listener).start().await;
            Mock::given(any())
                .respond_with(ResponseTemplate::new(200).set_body_string(body))
                .mount(&server)
                .await;
            servers.push(server);
        }
        let v6 = servers.pop().context("v6 server")?;
        let v4 = servers.pop().context("v4 server")?;
        return Ok((v4, v6));
    }
    bail!("no port free on both 127.0.0.1 and ::1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_upstreams_resolve_through_the_system_resolver() -> Result<()> {
    let (v4, v6) = dual_stack_upstream("found by name").await?;
    let yaml = format!(
        "version: 1\nupstreams:\n  d: {{ dns: {{ name: localhost, port: {} }} }}\n  none: {{ dns: {{ name: no-such-name.invalid, port: 80 }} }}\nroutes:\n  - {{ path: '/d/{{*rest}}', upstream: d }}\n  - {{ path: '/none/{{*rest}}', upstream: none }}\n",
        v4.address().port()
    );
    let gw = TestGateway::start(&yaml).await?;
    for _ in 0..4 {
        let (status, v) = json_call(reqwest::Method::GET, &gw.url("/d/x"), None, None).await?;
        assert_eq!((status, v), (200, json!("found by name")));
    }
    assert_eq!(
        (served(&v4).await, served(&v6).await),
        (2, 2),
        "`localhost` is 127.0.0.1 and ::1, taken in turn"
    );
    let (status, v) = json_call(reqwest::Method::GET, &gw.url("/none/x"), None, None).await?;
    assert_eq!(status, 503, "{v}");
    assert!(
        !v.to_string().contains("no-such-name"),
        "the DNS name is not leaked: {v}"
    );
    gw.shutdown().await;
    Ok(())
}
