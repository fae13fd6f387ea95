//! Authentication and authorization through the local server: JWTs with
//! static keys and a JWKS endpoint (wiremock), API keys, basic auth, groups,
//! scopes and identity headers. Every refusal is checked for status,
//! challenge and problem kind, and for not echoing the credential.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use base64::Engine as _;
use common::table::{Row, Want, check_rows};
use common::{TestGateway, assert_problem, client, fill, path_and_query, received, value};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, jwk::Jwk};
use serde_json::{Value, json};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "an-hs256-secret-of-at-least-32-bytes!";
const RSA: &str = include_str!("../../gateway-core/src/auth/testdata/rsa.pem");
const RSA_PUB: &str = include_str!("../../gateway-core/src/auth/testdata/rsa.pub.pem");
const EC: &str = include_str!("../../gateway-core/src/auth/testdata/ec.pem");
/// `printf %s test-key-1 | local hash-key`
const KEY_HASH: &str = "1255558df586ae279007fffa27ec17451d1507f7ac5442add9ffbc070f9f623b";
/// Argon2id of `correct horse` with cheap parameters (m=256,t=1,p=1).
const PASSWORD_HASH: &str =
    "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHRzYWx0$xNYeOFrda0m/2sJVlcs76T/JvmL0kWpAqeONLu3PZDw";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn claims(sub: &str) -> Value {
    json!({"sub": sub, "iss": "https://id.test", "aud": "api", "exp": now() + 600, "email": format!("{sub}@example.com")})
}

fn hs(c: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        c,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

fn rs(c: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(RSA.as_bytes()).expect("rsa key");
    encode(&Header::new(Algorithm::RS256), c, &key).expect("sign")
}

fn es(kid: &str, c: &Value) -> String {
    let key = EncodingKey::from_ec_pem(EC.as_bytes()).expect("ec key");
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some(kid.to_owned());
    encode(&h, c, &key).expect("sign")
}

fn ec_jwk(kid: &str) -> Value {
    let key = EncodingKey::from_ec_pem(EC.as_bytes()).expect("ec key");
    let mut j = serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::ES256).expect("jwk"))
        .expect("json");
    j["kid"] = json!(kid);
    j
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn indent(pem: &str, by: usize) -> String {
    pem.lines()
        .map(|l| format!("{}{l}", " ".repeat(by)))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn echo_upstream() -> MockServer {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&up)
        .await;
    up
}

/// Sends GET `path` with a bearer token and returns status, `WWW-Authenticate` and body.
async fn get_with(gw: &TestGateway, path: &str, auth: &str) -> Result<(u16, String, String)> {
    let resp = client()
        .get(gw.url(path))
        .header("authorization", auth)
        .send()
        .await?;
    let status = resp.status().as_u16();
    let challenge = value(resp.headers(), "www-authenticate").unwrap_or_default();
    Ok((status, challenge, resp.text().await?))
}

const JWT_CONFIG: &str = r#"
version: 1
upstreams:
  backend: { url: "UP" }
jwt_issuers:
  hs:
    issuer: https://id.test
    audience: [api, other]
    algorithms: [HS256]
    keys: [{ secret: "SECRET" }]
  rs:
    issuer: https://id.test
    audience: api
    algorithms: [RS256]
    keys:
      - pem: |
RSAPUB
routes:
  - path: /jwt
    upstream: backend
    policies:
      - auth:
          jwt: { issuers: [hs, rs] }
          forward: { claims: { email: x-user-email } }
  - path: /opt-in
    upstream: backend
    policies:
      - auth: { jwt: { issuers: [hs], cookie: session, query: access_token, strip_token: true } }
"#;

async fn jwt_gateway(up: &MockServer) -> Result<TestGateway> {
    TestGateway::start(&fill(
        JWT_CONFIG,
        &[
            ("UP", &up.uri()),
            ("SECRET", SECRET),
            ("RSAPUB", &indent(RSA_PUB, 10)),
        ],
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_tokens_pass_and_identity_headers_come_from_the_gateway() -> Result<()> {
    let up = echo_upstream().await;
    let gw = jwt_gateway(&up).await?;

    // Scheme is case-insensitive; client-sent identity headers are replaced.
    let resp = client()
        .get(gw.url("/jwt"))
        .header("authorization", format!("bEaReR {}", hs(&claims("ada"))))
        .header("x-consumer-id", "admin")
        .header("x-user-email", "admin@example.com")
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let resp = client()
        .get(gw.url("/jwt"))
        .header("authorization", format!("Bearer {}", rs(&claims("grace"))))
        .send()
        .await?;
    assert_eq!(resp.status(), 200);

    let got = received(&up).await;
    assert_eq!(got.len(), 2);
    assert_eq!(
        value(&got[0].headers, "x-consumer-id").as_deref(),
        Some("ada")
    );
    assert_eq!(
        value(&got[0].headers, "x-user-email").as_deref(),
        Some("ada@example.com")
    );
    assert_eq!(got[0].headers.get_all("x-consumer-id").iter().count(), 1);
    assert_eq!(
        value(&got[1].headers, "x-consumer-id").as_deref(),
        Some("grace")
    );
    // The token is forwarded unless the route says otherwise.
    assert!(got[0].headers.get("authorization").is_some());

    // Without credentials, identity headers sent by the client never get through.
    let resp = client()
        .get(gw.url("/jwt"))
        .header("x-consumer-id", "admin")
        .send()
        .await?;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        value(resp.headers(), "www-authenticate").as_deref(),
        Some("Bearer realm=\"gateway\"")
    );
    assert_problem(resp, 401, "unauthorized").await?;
    assert_eq!(received(&up).await.len(), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_get_401_with_an_rfc6750_challenge() -> Result<()> {
    let up = echo_upstream().await;
    let gw = jwt_gateway(&up).await?;
    let with = |k: &str, v: Value| {
        let mut c = claims("ada");
        c[k] = v;
        c
    };
    let mut crit = Header::new(Algorithm::HS256);
    crit.crit = Some(vec!["exp".into()]);
    let crit = encode(
        &crit,
        &claims("ada"),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )?;
    let cases = [
        (
            "expired",
            hs(&with("exp", json!(now() - 120))),
            "token expired",
        ),
        (
            "not yet valid",
            hs(&with("nbf", json!(now() + 600))),
            "token not yet valid",
        ),
        (
            "wrong issuer",
            hs(&with("iss", json!("https://evil.test"))),
            "wrong issuer",
        ),
        (
            "wrong audience",
            hs(&with("aud", json!(["nope"]))),
            "wrong audience",
        ),
        (
            "HS256 signed with the RSA public key",
            encode(
                &Header::new(Algorithm::HS256),
                &claims("ada"),
                &EncodingKey::from_secret(RSA_PUB.as_bytes()),
            )?,
            "invalid signature",
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&claims("ada"))
            ),
            "malformed token",
        ),
        (
            "alg None",
            format!("{}.{}.", b64(&json!({"alg": "None"})), b64(&claims("ada"))),
            "malformed token",
        ),
        ("unknown crit", crit, "unsupported critical header"),
        (
            "HS384 not pinned",
            encode(
                &Header::new(Algorithm::HS384),
                &claims("ada"),
                &EncodingKey::from_secret(SECRET.as_bytes()),
            )?,
            "algorithm not accepted",
        ),
        ("garbage", "not.a.token".to_owned(), "malformed token"),
    ];
    for (name, token, why) in cases {
        let (status, challenge, body) = get_with(&gw, "/jwt", &format!("Bearer {token}")).await?;
        assert_eq!(status, 401, "{name}");
        assert_eq!(
            challenge,
            format!(
                "Bearer realm=\"gateway\", error=\"invalid_token\", error_description=\"{why}\""
            ),
            "{name}"
        );
        let problem: Value = serde_json::from_str(&body)?;
        assert_eq!(
            problem["type"], "urn:gateway:problem:invalid-credentials",
            "{name}"
        );
        assert!(!body.contains(&token), "{name}: the token is echoed");
    }
    assert!(received(&up).await.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jku_and_x5u_are_never_fetched() -> Result<()> {
    let up = echo_upstream().await;
    let attacker = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [ec_jwk("evil")]})))
        .mount(&attacker)
        .await;
    let gw = jwt_gateway(&up).await?;
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some("evil".into());
    h.jku = Some(format!("{}/jwks", attacker.uri()));
    h.x5u = Some(format!("{}/cert", attacker.uri()));
    let token = encode(
        &h,
        &claims("ada"),
        &EncodingKey::from_ec_pem(EC.as_bytes())?,
    )?;
    let (status, _, _) = get_with(&gw, "/jwt", &format!("Bearer {token}")).await?;
    assert_eq!(status, 401);
    assert!(received(&attacker).await.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_and_query_tokens_only_where_the_route_opts_in() -> Result<()> {
    let up = echo_upstream().await;
    let gw = jwt_gateway(&up).await?;
    let token = hs(&claims("ada"));

    let (query, cookie, bearer) = (
        format!("?a=1&access_token={token}&b=2"),
        format!("theme=dark; session={token}"),
        format!("Bearer {token}"),
    );
    let (jwt_query, opt_in_query) = (format!("/jwt{query}"), format!("/opt-in{query}"));
    // /jwt does not read the query or cookies; /opt-in does, and removes the
    // query token before forwarding.
    let row = |path, headers, status| Row {
        method: "GET",
        path,
        headers,
        want: Want::Status(status),
    };
    check_rows(
        &client(),
        &gw.url(""),
        &[
            row(&jwt_query, &[], 401),
            row("/jwt", &[("cookie", &cookie)], 401),
            row(&opt_in_query, &[], 200),
            row("/opt-in", &[("cookie", &cookie)], 200),
            row("/opt-in", &[("authorization", &bearer)], 200),
        ],
    )
    .await?;
    let got = received(&up).await;
    assert_eq!(got.len(), 3);
    assert_eq!(path_and_query(&got[0]), "/opt-in?a=1&b=2");
    assert!(got[2].headers.get("authorization").is_none(), "strip_token");
    Ok(())
}

const JWKS_CONFIG: &str = r#"
version: 1
upstreams:
  backend: { url: "UP" }
jwt_issuers:
  idp:
    algorithms: [ES256]
    jwks: { url: "JWKS/jwks", cache_ttl: TTL, min_refetch_interval: 1s, timeout: 2s }
routes:
  - path: /a
    upstream: backend
    policies: [ { auth: { jwt: { issuers: [idp] } } } ]
  - path: /b
    upstream: backend
    policies: [ { auth: { jwt: { issuers: [idp], key_unavailable_status: 401 } } } ]
"#;

async fn jwks_gateway(up: &MockServer, jwks: &str, ttl: &str) -> Result<TestGateway> {
    TestGateway::start(&fill(
        JWKS_CONFIG,
        &[("UP", &up.uri()), ("JWKS", jwks), ("TTL", ttl)],
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kid_triggers_one_refetch_per_interval() -> Result<()> {
    let up = echo_upstream().await;
    let idp = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [ec_jwk("k1")]})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&idp)
        .await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"keys": [ec_jwk("k1"), ec_jwk("k2")]})),
        )
        .mount(&idp)
        .await;
    let gw = jwks_gateway(&up, &idp.uri(), "10m").await?;
    let bearer = |kid: &str| format!("Bearer {}", es(kid, &claims("ada")));

    assert_eq!(get_with(&gw, "/a", &bearer("k1")).await?.0, 200);
    assert_eq!(get_with(&gw, "/a", &bearer("k1")).await?.0, 200);
    assert_eq!(received(&idp).await.len(), 1, "cached");
    // Within the interval an unknown kid does not refetch.
    assert_eq!(get_with(&gw, "/a", &bearer("k2")).await?.0, 401);
    assert_eq!(received(&idp).await.len(), 1);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get_with(&gw, "/a", &bearer("k2")).await?.0, 200);
    assert_eq!(received(&idp).await.len(), 2);
    let (status, challenge, _) = get_with(&gw, "/a", &bearer("k3")).await?;
    assert_eq!(status, 401);
    assert!(challenge.contains("invalid_token"));
    assert_eq!(
        received(&idp).await.len(),
        2,
        "at most one refetch per interval"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_keys_keep_working_while_the_jwks_endpoint_is_down() -> Result<()> {
    let up = echo_upstream().await;
    let idp = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [ec_jwk("k1")]})))
        .up_to_n_times(1)
        .mount(&idp)
        .await;
    // After the first answer the endpoint fails.
    Mock::given(any())
        .respond_with(ResponseTemplate::new(503))
        .mount(&idp)
        .await;
    let gw = jwks_gateway(&up, &idp.uri(), "1s").await?;
    let bearer = format!("Bearer {}", es("k1", &claims("ada")));
    assert_eq!(get_with(&gw, "/a", &bearer).await?.0, 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Expired and the endpoint is down: the cached key still verifies, and
    // a refresh is attempted in the background.
    assert_eq!(get_with(&gw, "/a", &bearer).await?.0, 200);
    let refreshed = common::eventually(Duration::from_secs(5), || async {
        received(&idp).await.len() >= 2
    })
    .await;
    assert!(refreshed, "a background refresh was attempted");
    assert_eq!(get_with(&gw, "/a", &bearer).await?.0, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_to_be_had_is_503_or_the_routes_choice() -> Result<()> {
    let up = echo_upstream().await;
    let dead = common::dead_port()?;
    let gw = jwks_gateway(&up, &format!("http://127.0.0.1:{dead}"), "10m").await?;
    let token = es("k1", &claims("ada"));
    let resp = client()
        .get(gw.url("/a"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await?;
    assert_eq!(resp.status(), 503);
    assert_eq!(value(resp.headers(), "retry-after").as_deref(), Some("1"));
    let problem = assert_problem(resp, 503, "auth-keys-unavailable").await?;
    assert!(!problem.to_string().contains(&token));
    let (status, challenge, _) = get_with(&gw, "/b", &format!("Bearer {token}")).await?;
    assert_eq!(status, 401);
    assert!(challenge.contains("signing key unavailable"), "{challenge}");
    assert!(received(&up).await.is_empty());
    Ok(())
}

const CONSUMERS_CONFIG: &str = r#"
version: 1
upstreams:
  backend: { url: "UP" }
consumers:
  ada:
    groups: [admin, staff]
    api_keys: ["KEYHASH"]
    basic: { username: ada, password_hash: "PWHASH" }
  bob:
    groups: [staff]
    scopes: [read]
jwt_issuers:
  hs:
    algorithms: [HS256]
    keys: [{ secret: "SECRET" }]
    groups_claim: roles
routes:
  - path: /admin
    upstream: backend
    policies: [ { auth: { jwt: { issuers: [hs] }, require: { groups: [admin] } } } ]
  - path: /items
    upstream: backend
    policies:
      - auth:
          jwt: { issuers: [hs] }
          require: { scopes: [read], methods: { POST: { scopes: [read, write] } } }
  - path: /keyed
    upstream: backend
    policies:
      - auth:
          api_key: { header: x-gateway-key }
          basic: {}
          realm: example
          require: { groups: [staff] }
          forward: { consumer_header: x-who, groups_header: x-groups }
"#;

async fn consumers_gateway(up: &MockServer) -> Result<TestGateway> {
    TestGateway::start(&fill(
        CONSUMERS_CONFIG,
        &[
            ("UP", &up.uri()),
            ("SECRET", SECRET),
            ("KEYHASH", KEY_HASH),
            ("PWHASH", PASSWORD_HASH),
        ],
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_scopes_per_method() -> Result<()> {
    let up = echo_upstream().await;
    let gw = consumers_gateway(&up).await?;
    let token = |sub: &str, extra: Value| {
        let mut c = json!({"sub": sub, "exp": now() + 600});
        if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        format!("Bearer {}", hs(&c))
    };
    // Groups from the consumer of the same id, or from the `roles` claim.
    assert_eq!(
        get_with(&gw, "/admin", &token("ada", json!({}))).await?.0,
        200
    );
    let (status, challenge, body) = get_with(&gw, "/admin", &token("bob", json!({}))).await?;
    assert_eq!(status, 403);
    assert!(challenge.contains("insufficient_scope"));
    assert!(body.contains("urn:gateway:problem:forbidden"));
    assert_eq!(
        get_with(&gw, "/admin", &token("zed", json!({"roles": ["admin"]})))
            .await?
            .0,
        200
    );

    let read = token("zed", json!({"scope": "read profile"}));
    let both = token("zed", json!({"scp": ["read", "write"]}));
    assert_eq!(get_with(&gw, "/items", &read).await?.0, 200);
    assert_eq!(
        get_with(&gw, "/items", &token("zed", json!({}))).await?.0,
        403
    );
    let post = |auth: String| {
        let gw = &gw;
        async move {
            Ok::<_, anyhow::Error>(
                client()
                    .post(gw.url("/items"))
                    .header("authorization", auth)
                    .send()
                    .await?
                    .status()
                    .as_u16(),
            )
        }
    };
    assert_eq!(post(read.clone()).await?, 403);
    assert_eq!(post(both.clone()).await?, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_checked_against_hashes_and_stripped() -> Result<()> {
    let up = echo_upstream().await;
    let gw = consumers_gateway(&up).await?;
    let resp = client()
        .get(gw.url("/keyed"))
        .header("x-gateway-key", "test-key-1")
        .header("x-who", "someone-else")
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let got = received(&up).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].headers.get("x-gateway-key").is_none());
    assert_eq!(value(&got[0].headers, "x-who").as_deref(), Some("ada"));
    assert_eq!(
        value(&got[0].headers, "x-groups").as_deref(),
        Some("admin,staff")
    );

    let resp = client()
        .get(gw.url("/keyed"))
        .header("x-gateway-key", "wrong-key-value")
        .send()
        .await?;
    assert_eq!(resp.status(), 401);
    let challenges: Vec<String> = resp
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    assert_eq!(
        challenges,
        [
            "Basic realm=\"example\", charset=\"UTF-8\"",
            "ApiKey realm=\"example\", header=\"x-gateway-key\""
        ]
    );
    let body = resp.text().await?;
    assert!(body.contains("invalid-credentials"));
    assert!(!body.contains("wrong-key-value"));
    // The hash itself is not a key.
    let resp = client()
        .get(gw.url("/keyed"))
        .header("x-gateway-key", KEY_HASH)
        .send()
        .await?;
    assert_eq!(resp.status(), 401);
    assert_eq!(received(&up).await.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_with_hashed_passwords() -> Result<()> {
    let up = echo_upstream().await;
    let gw = consumers_gateway(&up).await?;
    let basic = |u: &str, p: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    assert_eq!(
        get_with(&gw, "/keyed", &basic("ada", "correct horse"))
            .await?
            .0,
        200
    );
    // Cached verification gives the same answer.
    assert_eq!(
        get_with(&gw, "/keyed", &basic("ada", "correct horse"))
            .await?
            .0,
        200
    );
    let (status, challenge, body) = get_with(&gw, "/keyed", &basic("ada", "wrong horse")).await?;
    assert_eq!(status, 401);
    assert!(challenge.starts_with("Basic realm=\"example\""));
    assert!(!body.contains("wrong horse"));
    assert_eq!(
        get_with(&gw, "/keyed", &basic("eve", "correct horse"))
            .await?
            .0,
        401
    );
    let got = received(&up).await;
    assert_eq!(got.len(), 2);
    assert!(
        got[0].headers.get("authorization").is_none(),
        "password not forwarded"
    );
    assert_eq!(value(&got[0].headers, "x-who").as_deref(), Some("ada"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_refuses_plain_keys_unknown_issuers_and_short_secrets() -> Result<()> {
    let yaml = r#"
version: 1
upstreams:
  backend: { mock: { body: ok } }
consumers:
  ada: { api_keys: ["plain-text-key"] }
jwt_issuers:
  weak: { algorithms: [HS256], keys: [{ secret: short }] }
routes:
  - path: /x
    upstream: backend
    policies: [ { auth: { jwt: { issuers: [nope] } } } ]
"#;
    let err = TestGateway::start(yaml).await.expect_err("invalid config");
    let text = format!("{err:#}");
    assert!(text.contains("consumers.ada.api_keys[0]"), "{text}");
    assert!(text.contains("jwt_issuers.weak.keys[0].secret"), "{text}");
    assert!(text.contains("unknown issuer `nope`"), "{text}");
    assert!(!text.contains("plain-text-key"), "{text}");
    Ok(())
}

#[test]
fn the_docs_example_is_a_valid_config() {
    let doc = include_str!("../../docs/auth.md");
    let start = doc.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let len = doc[start..].find("```").expect("closed yaml block");
    let yaml = &doc[start..start + len];
    assert!(yaml.contains("consumers:") && yaml.contains("jwt_issuers:"));
    if let Err(e) = gateway_core::config::load_file_text(
        "docs/auth.md",
        yaml,
        &gateway_core::PolicyRegistry::builtin(),
    ) {
        panic!("docs/auth.md example is invalid:\n{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_see_the_consumer_claims_and_request_data() -> Result<()> {
    let up = echo_upstream().await;
    let yaml = r#"
version: 1
upstreams:
  backend: { url: "UP" }
jwt_issuers:
  hs:
    algorithms: [HS256]
    keys: [{ secret: "SECRET" }]
routes:
  - path: /orders/{id}
    methods: [POST]
    upstream: backend
    policies:
      - auth: { jwt: { issuers: [hs] } }
      - headers:
          request:
            set: { x-who: "{consumer}|{claim.email}|{method}|{query.page}|{id}" }
      - transform:
          request:
            query: { set: { owner: "{consumer}" } }
            body: { set: { /placed_by: "{claim.email}" } }
"#;
    let gw = TestGateway::start(&fill(yaml, &[("UP", &up.uri()), ("SECRET", SECRET)])).await?;
    let resp = client()
        .post(gw.url("/orders/7?page=2&owner=mallory"))
        .header("authorization", format!("Bearer {}", hs(&claims("ada"))))
        .header("content-type", "application/json")
        .header("x-who", "forged")
        .body(r#"{"item":"book"}"#)
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let got = received(&up).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        value(&got[0].headers, "x-who").as_deref(),
        Some("ada|ada@example.com|POST|2|7")
    );
    assert_eq!(path_and_query(&got[0]), "/orders/7?page=2&owner=ada");
    let body: Value = serde_json::from_slice(&got[0].body)?;
    assert_eq!(
        body,
        json!({"item": "book", "placed_by": "ada@example.com"})
    );
    Ok(())
}
