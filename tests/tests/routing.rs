//! Routing by host over real sockets: exact names, wildcards, ports,
//! case and trailing dots, and the fallback to routes without hosts.

mod common;

use anyhow::Result;
use common::{TestGateway, raw};

const CONFIG: &str = r#"
version: 1
upstreams:
  exact: { mock: { body: exact } }
  wild: { mock: { body: wildcard } }
  any: { mock: { body: any } }
  only: { mock: { body: only } }
routes:
  - { name: exact, path: /who, hosts: [api.example.test], upstream: exact }
  - { name: wild, path: /who, hosts: ["*.example.test"], upstream: wild }
  - { name: any, path: /who, upstream: any }
  - { name: only, path: /only, hosts: [api.example.test], upstream: only }
"#;

async fn get(gw: &TestGateway, host: &str, path: &str) -> Result<common::RawResponse> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    raw(gw.addr(), req.as_bytes()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_pick_the_most_specific_route() -> Result<()> {
    let gw = TestGateway::start(CONFIG).await?;
    for (host, want) in [
        ("api.example.test", "exact"),
        ("API.Example.Test:8443", "exact"),
        ("api.example.test.", "exact"),
        ("web.example.test", "wildcard"),
        ("a.b.example.test", "wildcard"),
        ("example.test", "any"),
        ("other.test", "any"),
        ("[::1]:8080", "any"),
    ] {
        let resp = get(&gw, host, "/who").await?;
        assert_eq!(
            (
                resp.status,
                String::from_utf8_lossy(&resp.body).into_owned()
            ),
            (200, want.to_owned()),
            "{host}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_only_route_is_404_elsewhere() -> Result<()> {
    let gw = TestGateway::start(CONFIG).await?;
    assert_eq!(get(&gw, "api.example.test", "/only").await?.status, 200);
    get(&gw, "other.test", "/only")
        .await?
        .assert_problem(404, "route-not-found")?;
    // An absolute-form target names the host (RFC 9112 §3.2.2).
    let req = "GET http://api.example.test/only HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n\r\n";
    assert_eq!(raw(gw.addr(), req.as_bytes()).await?.status, 200);
    Ok(())
}

/// Route names default to `METHODS path` and must be unique, yet routes
/// that differ only by host (or header condition) are a documented pattern.
/// Unnamed, they must not be refused for a name the user never wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_that_differ_only_by_host_need_no_names() -> Result<()> {
    let yaml = r#"
version: 1
upstreams:
  a: { mock: { body: a } }
  b: { mock: { body: b } }
routes:
  - { path: /who, hosts: [a.example.test], upstream: a }
  - { path: /who, hosts: [b.example.test], upstream: b }
"#;
    let gw = TestGateway::start(yaml).await?;
    assert_eq!(get(&gw, "a.example.test", "/who").await?.body, b"a");
    assert_eq!(get(&gw, "b.example.test", "/who").await?.body, b"b");
    Ok(())
}
