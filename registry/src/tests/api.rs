//! The HTTP API and server-side discovery through a gateway wired to the
//! registry.
//!
//! Decided here: an unknown service lists as an empty set (200), since
//! "registered once, all lapsed" and "never registered" are the same to a
//! client; deregistering or heartbeating an instance that is not
//! registered is 404 (`instance-not-registered`), which tells a client to
//! register again.

use std::sync::Arc;
use std::time::Duration;

use futures_executor::block_on;
use gateway_core::config::load_file_text;
use gateway_core::{Body, ClientInfo, Gateway, PolicyRegistry};
use gateway_testkit::{TestEnv, test_env};
use http::{Request, Response};
use serde_json::{Value, json};

use crate::Registry;

const TOKEN: &str = "registry-test-token";

fn config(extra: &str) -> String {
    format!(
        "version: 1\nregistry:\n  prefix: /reg\n  token_sha256: {}\n  default_ttl: 10s\n  max_ttl: 1m\n{extra}",
        gateway_core::auth::hash_api_key(TOKEN)
    )
}

fn gateway(t: &TestEnv, yaml: &str) -> Gateway {
    let cfg = load_file_text("t.yaml", yaml, &PolicyRegistry::builtin()).expect("valid config");
    Gateway::new(cfg, t.env.clone()).with_directory(Arc::new(Registry::new(&t.env)))
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    json: Value,
}

fn answer(resp: Response<Body>) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = block_on(resp.into_body().collect(1 << 20)).expect("body");
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    Answer {
        status,
        headers,
        json,
    }
}

fn call(
    gw: &Gateway,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    let body = body.map_or(Body::empty(), |v| Body::from(v.to_string()));
    answer(block_on(
        gw.handle(b.body(body).expect("request"), ClientInfo::default()),
    ))
}

fn authed(gw: &Gateway, method: &str, path: &str, body: Option<Value>) -> Answer {
    call(gw, method, path, Some(TOKEN), body)
}

fn problem(a: &Answer, status: u16, kind: &str) {
    assert_eq!(a.status, status, "{}", a.json);
    assert_eq!(a.headers["content-type"], "application/problem+json");
    assert_eq!(
        a.json["type"],
        format!("urn:gateway:problem:{kind}"),
        "{}",
        a.json
    );
}

#[test]
fn every_request_needs_the_token() {
    let t = test_env(100);
    let gw = gateway(&t, &config(""));
    for (method, path) in [
        ("GET", "/reg/services"),
        ("GET", "/reg/services/users/instances"),
        ("PUT", "/reg/services/users/instances/a"),
        ("DELETE", "/reg/services/users/instances/a"),
        ("POST", "/reg/services/users/instances/a/heartbeat"),
        ("GET", "/reg/nothing-here"),
    ] {
        for token in [None, Some("wrong"), Some("")] {
            let a = call(&gw, method, path, token, None);
            problem(&a, 401, "unauthorized");
            assert_eq!(a.headers["www-authenticate"], "Bearer realm=\"registry\"");
        }
    }
    let a = call(&gw, "GET", "/reg/services", Some(TOKEN), None);
    assert_eq!(a.status, 200);
}

#[test]
fn register_list_heartbeat_deregister() {
    let t = test_env(100);
    let gw = gateway(&t, &config(""));
    let a = authed(
        &gw,
        "PUT",
        "/reg/services/users/instances/a1",
        Some(
            json!({"address": "10.0.0.7", "port": 8080, "zone": "z1", "metadata": {"team": "core"}}),
        ),
    );
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.headers["content-type"], "application/json");
    assert_eq!(a.json["id"], "a1");
    assert_eq!(a.json["service"], "users");
    assert_eq!(a.json["scheme"], "http");
    assert_eq!(a.json["weight"], 1);
    assert_eq!(a.json["ttl_ms"], 10_000, "the default TTL");

    let a = authed(&gw, "GET", "/reg/services/users/instances", None);
    assert_eq!(a.status, 200);
    assert_eq!(a.json["service"], "users");
    assert_eq!(a.json["instances"][0]["address"], "10.0.0.7");
    assert_eq!(a.json["instances"][0]["metadata"]["team"], "core");
    let a = authed(&gw, "GET", "/reg/services", None);
    assert_eq!(
        a.json,
        json!({"services": [{"name": "users", "instances": 1}]})
    );

    t.clock.advance(Duration::from_secs(9));
    let a = authed(
        &gw,
        "POST",
        "/reg/services/users/instances/a1/heartbeat",
        Some(json!({"ttl_ms": 20_000})),
    );
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["ttl_ms"], 20_000);
    t.clock.advance(Duration::from_secs(19));
    let a = authed(
        &gw,
        "POST",
        "/reg/services/users/instances/a1/heartbeat",
        None,
    );
    assert_eq!(a.status, 200, "an empty body keeps the TTL");
    assert_eq!(a.json["ttl_ms"], 20_000);

    let a = authed(&gw, "DELETE", "/reg/services/users/instances/a1", None);
    assert_eq!(a.status, 204);
    let a = authed(&gw, "DELETE", "/reg/services/users/instances/a1", None);
    problem(&a, 404, "instance-not-registered");
    let a = authed(
        &gw,
        "POST",
        "/reg/services/users/instances/a1/heartbeat",
        None,
    );
    problem(&a, 404, "instance-not-registered");
    let a = authed(&gw, "GET", "/reg/services/users/instances", None);
    assert_eq!(a.json["instances"], json!([]));
}

#[test]
fn lapsed_instances_drop_out() {
    let t = test_env(100);
    let gw = gateway(&t, &config(""));
    let body = json!({"address": "10.0.0.7", "port": 8080, "ttl_ms": 1000});
    assert_eq!(
        authed(&gw, "PUT", "/reg/services/users/instances/a1", Some(body)).status,
        200
    );
    t.clock.advance(Duration::from_secs(1));
    let a = authed(&gw, "GET", "/reg/services/users/instances", None);
    assert_eq!(a.json["instances"], json!([]));
    let a = authed(
        &gw,
        "POST",
        "/reg/services/users/instances/a1/heartbeat",
        None,
    );
    problem(&a, 404, "instance-not-registered");
}

#[test]
fn unknown_service_is_an_empty_list() {
    let t = test_env(100);
    let gw = gateway(&t, &config(""));
    let a = authed(&gw, "GET", "/reg/services/nobody/instances", None);
    assert_eq!(a.status, 200);
    assert_eq!(a.json, json!({"service": "nobody", "instances": []}));
    let a = authed(&gw, "GET", "/reg/services", None);
    assert_eq!(a.json, json!({"services": []}));
}

#[test]
fn bad_input_is_400_naming_the_field() {
    let t = test_env(100);
    let gw = gateway(&t, &config(""));
    let put = |path: &str, body: Value| authed(&gw, "PUT", path, Some(body));
    let cases = [
        (
            put(
                "/reg/services/users/instances/a",
                json!({"address": "10.0.0.1", "port": 0}),
            ),
            "port",
        ),
        (
            put(
                "/reg/services/users/instances/a",
                json!({"address": "a b", "port": 80}),
            ),
            "address",
        ),
        (
            put(
                "/reg/services/users/instances/a",
                json!({"address": "x", "port": 80, "scheme": "ftp"}),
            ),
            "scheme",
        ),
        (
            put(
                "/reg/services/users/instances/a",
                json!({"address": "x", "port": 80, "weight": 0}),
            ),
            "weight",
        ),
        (
            put(
                "/reg/services/users/instances/a",
                json!({"address": "x", "port": 80, "ttl_ms": 61_000}),
            ),
            "ttl_ms",
        ),
        (
            put(
                "/reg/services/users/instances/a",
                json!({"address": "x", "port": 80, "ttl_ms": 10}),
            ),
            "ttl_ms",
        ),
        (
            put(
                "/reg/services/users/instances/a",
                json!({"address": "x", "port": 80, "colour": "red"}),
            ),
            "body",
        ),
        (
            put(
                "/reg/services/users/instances/a",
                json!({"address": "x", "port": 70000}),
            ),
            "body",
        ),
        (put("/reg/services/users/instances/a", json!([])), "body"),
        (
            put(
                "/reg/services/bad.name!/instances/a",
                json!({"address": "x", "port": 80}),
            ),
            "service",
        ),
        (
            put(
                "/reg/services/users/instances/-a",
                json!({"address": "x", "port": 80}),
            ),
            "id",
        ),
        (
            authed(&gw, "GET", "/reg/services/a%20b/instances", None),
            "service",
        ),
        (
            authed(&gw, "PUT", "/reg/services/users/instances/a", None),
            "body",
        ),
    ];
    for (a, field) in cases {
        problem(&a, 400, "invalid-registration");
        let detail = a.json["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with(field), "{field}: {detail}");
    }
    let a = authed(&gw, "GET", "/reg/services", None);
    assert_eq!(a.json, json!({"services": []}), "nothing was stored");
}

#[test]
fn wrong_methods_and_paths() {
    let t = test_env(100);
    let gw = gateway(&t, &config(""));
    let a = authed(&gw, "GET", "/reg/services/users/instances/a", None);
    problem(&a, 405, "method-not-allowed");
    assert_eq!(a.headers["allow"], "PUT, DELETE");
    let a = authed(&gw, "POST", "/reg/services", None);
    problem(&a, 405, "method-not-allowed");
    for path in ["/reg", "/reg/", "/reg/services/users", "/reg/x/y/z/w/v/u"] {
        problem(&authed(&gw, "GET", path, None), 404, "route-not-found");
    }
}

#[test]
fn oversized_bodies_are_413() {
    let t = test_env(100);
    let gw = gateway(&t, &config(""));
    let big = json!({"address": "x", "port": 80, "version": "v".repeat(20_000)});
    problem(
        &authed(&gw, "PUT", "/reg/services/users/instances/a", Some(big)),
        413,
        "body-too-large",
    );
}

#[test]
fn without_a_wired_registry_the_api_is_503() {
    let t = test_env(100);
    let cfg = load_file_text("t.yaml", &config(""), &PolicyRegistry::builtin()).expect("config");
    let gw = Gateway::new(cfg, t.env.clone());
    problem(
        &authed(&gw, "GET", "/reg/services", None),
        503,
        "registry-unavailable",
    );
    problem(
        &call(&gw, "GET", "/reg/services", None, None),
        401,
        "unauthorized",
    );
}

const DISCOVERY: &str = "upstreams:\n  users: { service: users, base_path: /api, discovery_cache: 0 }\nroutes:\n  - { path: '/users/{*rest}', upstream: users }\n";

#[test]
fn service_upstreams_route_to_live_instances_in_turn() {
    let t = test_env(100);
    let gw = gateway(&t, &config(DISCOVERY));
    for (id, port) in [("a", 8081), ("b", 8082)] {
        let body = json!({"address": "10.0.0.7", "port": port, "ttl_ms": 5000});
        let path = format!("/reg/services/users/instances/{id}");
        assert_eq!(authed(&gw, "PUT", &path, Some(body)).status, 200);
    }
    for _ in 0..4 {
        t.http.push(Ok(Response::new(Body::from("ok"))));
    }
    for _ in 0..4 {
        let a = call(&gw, "GET", "/users/x?q=1", None, None);
        assert_eq!(a.status, 200);
    }
    let uris: Vec<String> = t
        .http
        .requests()
        .iter()
        .map(|r| r.uri().to_string())
        .collect();
    assert_eq!(
        uris,
        [
            "http://10.0.0.7:8081/api/users/x?q=1",
            "http://10.0.0.7:8082/api/users/x?q=1",
            "http://10.0.0.7:8081/api/users/x?q=1",
            "http://10.0.0.7:8082/api/users/x?q=1",
        ]
    );
    t.clock.advance(Duration::from_secs(5));
    let a = call(&gw, "GET", "/users/x", None, None);
    problem(&a, 503, "no-instance");
    assert_eq!(
        a.json["detail"],
        "No instance of service `users` is available."
    );
    assert_eq!(
        t.http.requests().len(),
        4,
        "nothing sent once the instances lapsed"
    );
}

#[test]
fn discovery_results_are_cached_briefly() {
    let t = test_env(100);
    let cached = DISCOVERY.replace("discovery_cache: 0", "discovery_cache: 2s");
    let gw = gateway(&t, &config(&cached));
    let body = json!({"address": "10.0.0.7", "port": 8081, "ttl_ms": 60_000});
    assert_eq!(
        authed(&gw, "PUT", "/reg/services/users/instances/a", Some(body)).status,
        200
    );
    t.http.push(Ok(Response::new(Body::from("ok"))));
    assert_eq!(call(&gw, "GET", "/users/x", None, None).status, 200);
    assert_eq!(
        authed(&gw, "DELETE", "/reg/services/users/instances/a", None).status,
        204
    );
    t.http.push(Ok(Response::new(Body::from("ok"))));
    assert_eq!(
        call(&gw, "GET", "/users/x", None, None).status,
        200,
        "the cached set is used for up to 2s"
    );
    t.clock.advance(Duration::from_secs(2));
    problem(
        &call(&gw, "GET", "/users/x", None, None),
        503,
        "no-instance",
    );
}
