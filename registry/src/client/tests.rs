//! The client against a gateway serving the registry in process, with a
//! manual clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_executor::block_on;
use futures_util::FutureExt;
use gateway_core::config::load_file_text;
use gateway_core::discovery::wire::RegisterRequest;
use gateway_core::discovery::{ServiceDirectory, ServiceRegistry};
use gateway_core::error::UpstreamError;
use gateway_core::{
    Body, ClientInfo, Clock, Gateway, HttpClient, PolicyRegistry, SendOptions, Sleep,
};
use gateway_testkit::{ManualClock, TestEnv, test_env};

use super::{ClientError, RegistryClient};
use crate::Registry;

const TOKEN: &str = "client-test-token";

/// Sends the client's requests into a gateway, as if over the network.
struct InProcess(Gateway);

#[async_trait::async_trait]
impl HttpClient for InProcess {
    async fn send(
        &self,
        mut req: http::Request<Body>,
        _o: SendOptions,
    ) -> Result<http::Response<Body>, UpstreamError> {
        let pq = req
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .parse()
            .map_err(|_| UpstreamError::Connect(None))?;
        *req.uri_mut() = pq;
        Ok(self.0.handle(req, ClientInfo::default()).await)
    }
}

/// Sleeps that advance the clock, `allowed` times; then never end.
struct Budget {
    clock: Arc<ManualClock>,
    allowed: AtomicUsize,
}

#[async_trait::async_trait]
impl Sleep for Budget {
    async fn sleep(&self, d: Duration) {
        let left = self.allowed.load(Ordering::SeqCst);
        if left == 0 {
            futures_util::future::pending::<()>().await;
        }
        self.allowed.store(left - 1, Ordering::SeqCst);
        self.clock.advance(d);
    }
}

struct Setup {
    t: TestEnv,
    registry: Registry,
    client: RegistryClient,
}

fn setup(token: &str) -> Setup {
    let t = test_env(100);
    let yaml = format!(
        "version: 1\nregistry: {{ token_sha256: {} }}\n",
        gateway_core::auth::hash_api_key(TOKEN)
    );
    let cfg = load_file_text("t.yaml", &yaml, &PolicyRegistry::builtin()).expect("config");
    let registry = Registry::new(&t.env);
    let gw = Gateway::new(cfg, t.env.clone()).with_directory(Arc::new(registry.clone()));
    let mut env = t.env.clone();
    env.http = Arc::new(InProcess(gw));
    let client = RegistryClient::new("http://gateway.test/registry/", token, &env).expect("client");
    Setup {
        t,
        registry,
        client,
    }
}

fn me(port: u16, ttl_ms: u64) -> RegisterRequest {
    RegisterRequest {
        address: "10.0.0.7".into(),
        port,
        ttl_ms: Some(ttl_ms),
        ..Default::default()
    }
}

#[test]
fn register_heartbeat_lookup_deregister() {
    let s = setup(TOKEN);
    let reg = block_on(s.client.register("users", "u1", &me(8080, 5_000))).expect("registered");
    assert_eq!(reg.ttl_ms, 5_000);
    s.t.clock.advance(Duration::from_secs(4));
    let reg = block_on(s.client.heartbeat("users", "u1")).expect("renewed");
    assert_eq!(reg.expires_at_ms, s.t.clock.now_ms() + 5_000);
    let found = block_on(s.client.instances("users")).expect("lookup");
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].address.as_str(), found[0].port),
        ("10.0.0.7", 8080)
    );
    assert!(block_on(s.client.deregister("users", "u1")).expect("removed"));
    assert!(!block_on(s.client.deregister("users", "u1")).expect("already gone"));
    assert_eq!(
        block_on(s.client.heartbeat("users", "u1")).expect_err("gone"),
        ClientError::NotRegistered
    );
}

#[test]
fn lookups_are_cached_for_their_ttl() {
    let s = setup(TOKEN);
    block_on(s.client.register("users", "u1", &me(1, 60_000))).expect("u1");
    assert_eq!(
        block_on(s.client.instances("users")).expect("lookup").len(),
        1
    );
    block_on(s.client.register("users", "u2", &me(2, 60_000))).expect("u2");
    assert_eq!(
        block_on(s.client.instances("users")).expect("cached").len(),
        1,
        "within the 2 s cache"
    );
    s.t.clock.advance(Duration::from_secs(2));
    assert_eq!(
        block_on(s.client.instances("users")).expect("fresh").len(),
        2
    );
    let uncached = s.client.clone().with_cache_ttl(Duration::ZERO);
    block_on(s.client.register("users", "u3", &me(3, 60_000))).expect("u3");
    assert_eq!(
        block_on(uncached.instances("users")).expect("fresh").len(),
        3
    );
}

#[test]
fn heartbeat_loop_renews_and_registers_again_after_a_lapse() {
    let s = setup(TOKEN);
    block_on(s.client.register("users", "u1", &me(8080, 1_000))).expect("registered");
    // The loop's waits move the clock, a budgeted number of times.
    let beats = Arc::new(Budget {
        clock: s.t.clock.clone(),
        allowed: AtomicUsize::new(6),
    });
    let sleep: Arc<dyn Sleep> = beats.clone();
    let client = s.client.clone().reconfigured(|i| i.sleep = sleep);

    // Beating every 500 ms keeps a 1 s registration alive for 3 s.
    let run = client.clone().heartbeat_loop(
        "users".into(),
        "u1".into(),
        me(8080, 1_000),
        Duration::from_millis(500),
    );
    assert!(run.now_or_never().is_none(), "the loop runs until stopped");
    assert_eq!(beats.allowed.load(Ordering::SeqCst), 0, "six beats");
    assert_eq!(
        block_on(s.registry.healthy_instances("users"))
            .expect("lookup")
            .len(),
        1
    );

    // Beating every 2 s misses the 1 s TTL: each beat registers again.
    block_on(s.registry.deregister("users", "u1")).expect("removed");
    beats.allowed.store(2, Ordering::SeqCst);
    let run = client.heartbeat_loop(
        "users".into(),
        "u1".into(),
        me(9090, 1_000),
        Duration::from_secs(2),
    );
    assert!(run.now_or_never().is_none());
    let regs = block_on(s.registry.registrations("users")).expect("lookup");
    assert_eq!(regs.len(), 1, "registered again from the request");
    assert_eq!(regs[0].instance.port, 9090);
    assert_eq!(regs[0].expires_at_ms, s.t.clock.now_ms() + 1_000);
}

#[test]
fn a_refused_token_ends_the_loop() {
    let s = setup("wrong-token");
    assert_eq!(
        block_on(s.client.register("users", "u1", &me(1, 5_000))).expect_err("refused"),
        ClientError::Unauthorized
    );
    let err = block_on(s.client.clone().heartbeat_loop(
        "users".into(),
        "u1".into(),
        me(1, 5_000),
        Duration::from_secs(1),
    ));
    assert_eq!(err, ClientError::Unauthorized);
    assert!(!err.is_transient());
}

#[test]
fn problems_and_bad_input() {
    let s = setup(TOKEN);
    let err = block_on(s.client.register("users", "u1", &me(0, 5_000))).expect_err("port 0");
    match &err {
        ClientError::Refused {
            status,
            kind,
            detail,
        } => {
            assert_eq!((*status, kind.as_str()), (400, "invalid-registration"));
            assert!(
                detail.as_deref().is_some_and(|d| d.starts_with("port")),
                "{detail:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_transient());
    assert!(matches!(
        block_on(s.client.instances("no/such")),
        Err(ClientError::Invalid(_))
    ));
    assert!(RegistryClient::new("ftp://x/registry", TOKEN, &s.t.env).is_err());
    assert!(RegistryClient::new("not a url", TOKEN, &s.t.env).is_err());
}

#[test]
fn an_unreachable_registry_is_transient() {
    let t = test_env(100);
    let client = RegistryClient::new("http://127.0.0.1:9/registry", TOKEN, &t.env).expect("client");
    let err = block_on(client.instances("users")).expect_err("unreachable");
    assert_eq!(err, ClientError::Unreachable);
    assert!(err.is_transient());
    assert_eq!(
        t.http.requests()[0].uri(),
        "http://127.0.0.1:9/registry/services/users/instances"
    );
    assert_eq!(
        t.http.requests()[0].headers()["authorization"],
        "Bearer client-test-token"
    );
}
