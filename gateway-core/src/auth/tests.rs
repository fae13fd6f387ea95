//! Unit tests of JWT verification and the JWKS cache, with testkit fakes.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use futures_executor::block_on;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, jwk::Jwk};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::jwt::{Issuer, IssuerSpec, JwtError};
use crate::body::Body;
use crate::env::{BoxFuture, Deferred, Env, HttpClient, SendOptions, Sleep};
use crate::error::UpstreamError;
use crate::store::MemoryStore;
use crate::test_env::ManualClock;

/// Scripted JWKS answers; with none queued, the endpoint is down.
#[derive(Default)]
struct Http {
    answers: Mutex<VecDeque<http::Response<Body>>>,
    seen: Mutex<Vec<String>>,
}

impl Http {
    fn push(&self, r: http::Response<Body>) {
        self.answers.lock().expect("lock").push_back(r);
    }
    fn requests(&self) -> Vec<String> {
        self.seen.lock().expect("lock").clone()
    }
}

#[async_trait::async_trait]
impl HttpClient for Http {
    async fn send(
        &self,
        r: http::Request<Body>,
        _o: SendOptions,
    ) -> Result<http::Response<Body>, UpstreamError> {
        self.seen.lock().expect("lock").push(r.uri().to_string());
        self.answers
            .lock()
            .expect("lock")
            .pop_front()
            .ok_or(UpstreamError::Connect(None))
    }
}

#[derive(Default)]
struct Collect(Mutex<Vec<BoxFuture<'static, ()>>>);

impl Collect {
    fn take(&self) -> Vec<BoxFuture<'static, ()>> {
        std::mem::take(&mut *self.0.lock().expect("lock"))
    }
}

impl Deferred for Collect {
    fn defer(&self, work: BoxFuture<'static, ()>) {
        self.0.lock().expect("lock").push(work);
    }
}

struct Never;
#[async_trait::async_trait]
impl Sleep for Never {
    async fn sleep(&self, _d: Duration) {
        futures_util::future::pending::<()>().await;
    }
}

struct TestEnv {
    env: Env,
    clock: Arc<ManualClock>,
    http: Arc<Http>,
    deferred: Arc<Collect>,
}

fn test_env(_entries: usize) -> TestEnv {
    let clock = Arc::new(ManualClock::new(NOW * 1000));
    let store = Arc::new(MemoryStore::new(clock.clone(), 1024));
    let http = Arc::new(Http::default());
    let deferred = Arc::new(Collect::default());
    let env = Env {
        counters: store.clone(),
        store,
        clock: clock.clone(),
        sleep: Arc::new(Never),
        http: http.clone(),
        deferred: deferred.clone(),
        ..crate::test_env::env()
    };
    TestEnv {
        env,
        clock,
        http,
        deferred,
    }
}

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const RSA: &str = include_str!("testdata/rsa.pem");
const RSA_PUB: &str = include_str!("testdata/rsa.pub.pem");
const EC: &str = include_str!("testdata/ec.pem");
const ED: &str = include_str!("testdata/ed.pem");
const ED_PUB: &str = include_str!("testdata/ed.pub.pem");
/// The test clock's start, in seconds.
const NOW: u64 = 1_700_000_000;

fn issuer(yaml: &str) -> Issuer {
    let spec: IssuerSpec = serde_saphyr::from_str(yaml).expect("issuer yaml");
    let mut problems = Vec::new();
    let i = Issuer::build("test", &spec, &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    i.expect("issuer")
}

fn problems(yaml: &str) -> Vec<String> {
    let spec: IssuerSpec = serde_saphyr::from_str(yaml).expect("issuer yaml");
    let mut problems = Vec::new();
    let _ = Issuer::build("test", &spec, &mut problems);
    problems.iter().map(|p| format!("{p:?}")).collect()
}

fn sign(alg: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: Value) -> String {
    let mut h = Header::new(alg);
    h.kid = kid.map(str::to_owned);
    encode(&h, &claims, key).expect("sign")
}

fn hs(claims: Value) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        None,
        claims,
    )
}

fn rs(kid: Option<&str>, claims: Value) -> String {
    let key = EncodingKey::from_rsa_pem(RSA.as_bytes()).expect("rsa");
    sign(Algorithm::RS256, &key, kid, claims)
}

fn verify(i: &Issuer, env: &TestEnv, token: &str) -> Result<super::jwt::Claims, JwtError> {
    block_on(i.verify(token, &env.env))
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

const HS_ISSUER: &str = r#"
issuer: https://id.example
audience: [api, other]
algorithms: [HS256]
keys: [{ secret: "0123456789abcdef0123456789abcdef" }]
required_claims: [sub]
"#;

fn good() -> Value {
    json!({"sub": "ada", "iss": "https://id.example", "aud": "api", "exp": NOW + 100_000})
}

#[test]
fn a_valid_token_passes_and_claims_are_checked() {
    let env = test_env(64);
    let i = issuer(HS_ISSUER);
    assert_eq!(verify(&i, &env, &hs(good())).expect("valid")["sub"], "ada");
    let with = |k: &str, v: Value| {
        let mut c = good();
        c[k] = v;
        verify(&i, &env, &hs(c))
    };
    assert_eq!(
        with("exp", json!(NOW - 61)),
        Err(JwtError::Invalid("token expired"))
    );
    assert!(
        with("exp", json!(NOW - 30)).is_ok(),
        "within the default 60 s leeway"
    );
    assert_eq!(
        with("nbf", json!(NOW + 61)),
        Err(JwtError::Invalid("token not yet valid"))
    );
    assert!(with("nbf", json!(NOW + 30)).is_ok());
    assert_eq!(
        with("iat", json!(NOW + 600)),
        Err(JwtError::Invalid("token issued in the future"))
    );
    assert_eq!(
        with("iss", json!("https://evil.example")),
        Err(JwtError::Invalid("wrong issuer"))
    );
    assert_eq!(
        with("aud", json!("nope")),
        Err(JwtError::Invalid("wrong audience"))
    );
    assert!(
        with("aud", json!(["x", "other"])).is_ok(),
        "aud as an array"
    );
    assert_eq!(
        with("aud", json!(["x"])),
        Err(JwtError::Invalid("wrong audience"))
    );
    assert_eq!(
        with("exp", json!("soon")),
        Err(JwtError::Invalid("malformed time claim"))
    );
    let mut c = good();
    c.as_object_mut().expect("object").remove("exp");
    assert_eq!(
        verify(&i, &env, &hs(c)),
        Err(JwtError::Invalid("token has no expiry"))
    );
    let mut c = good();
    c.as_object_mut().expect("object").remove("sub");
    assert_eq!(
        verify(&i, &env, &hs(c)),
        Err(JwtError::Invalid("a required claim is missing"))
    );
}

#[test]
fn wrong_secret_none_and_crit_are_refused() {
    let env = test_env(64);
    let i = issuer(HS_ISSUER);
    let other = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(b"another-secret-another-secret-xx"),
        None,
        good(),
    );
    assert_eq!(
        verify(&i, &env, &other),
        Err(JwtError::Invalid("invalid signature"))
    );
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&good())
    );
    assert_eq!(
        verify(&i, &env, &none),
        Err(JwtError::Invalid("malformed token"))
    );
    let none = format!("{}.{}.", b64(&json!({"alg": "None"})), b64(&good()));
    assert!(verify(&i, &env, &none).is_err());
    let mut h = Header::new(Algorithm::HS256);
    h.crit = Some(vec!["exp".into()]);
    let crit = encode(&h, &good(), &EncodingKey::from_secret(SECRET.as_bytes())).expect("sign");
    assert_eq!(
        verify(&i, &env, &crit),
        Err(JwtError::Invalid("unsupported critical header"))
    );
    // An algorithm the issuer does not list.
    let hs384 = sign(
        Algorithm::HS384,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        None,
        good(),
    );
    assert_eq!(
        verify(&i, &env, &hs384),
        Err(JwtError::Invalid("algorithm not accepted"))
    );
}

#[test]
fn an_hmac_token_is_never_checked_with_a_public_key() {
    let env = test_env(64);
    let cfg = format!(
        "algorithms: [RS256, HS256]\nkeys:\n  - pem: |\n{}\n  - secret: \"{SECRET}\"\n",
        RSA_PUB
            .lines()
            .map(|l| format!("      {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let i = issuer(&cfg);
    assert!(verify(&i, &env, &rs(None, good())).is_ok());
    // HS256 signed with the RSA public key PEM as the HMAC secret.
    let forged = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(RSA_PUB.as_bytes()),
        None,
        good(),
    );
    assert_eq!(
        verify(&i, &env, &forged),
        Err(JwtError::Invalid("invalid signature"))
    );
    // And with the RSA issuer alone, HS256 is not even accepted.
    let cfg = format!(
        "algorithms: [RS256]\nkeys:\n  - pem: |\n{}\n",
        RSA_PUB
            .lines()
            .map(|l| format!("      {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let i = issuer(&cfg);
    assert_eq!(
        verify(&i, &env, &forged),
        Err(JwtError::Invalid("algorithm not accepted"))
    );
}

#[test]
fn eddsa_and_bad_configs() {
    let env = test_env(64);
    let cfg = format!(
        "algorithms: [EdDSA]\nkeys:\n  - pem: |\n{}\n",
        ED_PUB
            .lines()
            .map(|l| format!("      {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let i = issuer(&cfg);
    let t = sign(
        Algorithm::EdDSA,
        &EncodingKey::from_ed_pem(ED.as_bytes()).expect("ed"),
        None,
        good(),
    );
    assert!(verify(&i, &env, &t).is_ok());

    assert!(
        problems("algorithms: [HS256]\nkeys: [{ secret: short }]\n")
            .iter()
            .any(|p| p.contains("at least 32 bytes"))
    );
    assert!(
        problems("algorithms: [RS256]\n")
            .iter()
            .any(|p| p.contains("no key can verify"))
    );
    assert!(
        problems("algorithms: [RS256]\nkeys: [{ secret: \"0123456789abcdef0123456789abcdef\" }]\n")
            .iter()
            .any(|p| p.contains("no listed algorithm uses this kind of key"))
    );
    let private = format!(
        "algorithms: [RS256]\nkeys:\n  - pem: |\n{}\n",
        RSA.lines()
            .map(|l| format!("      {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(problems(&private).iter().any(|p| p.contains("private key")));
    let debug = format!("{:?}", issuer(HS_ISSUER));
    assert!(!debug.contains(SECRET), "{debug}");
}

fn jwk(kid: &str) -> Value {
    let key = EncodingKey::from_ec_pem(EC.as_bytes()).expect("ec");
    let mut j = serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::ES256).expect("jwk"))
        .expect("json");
    j["kid"] = json!(kid);
    j
}

fn es(kid: &str) -> String {
    let key = EncodingKey::from_ec_pem(EC.as_bytes()).expect("ec");
    sign(Algorithm::ES256, &key, Some(kid), good())
}

fn jwks_response(keys: Vec<Value>, cache_control: Option<&str>) -> http::Response<Body> {
    let mut b = http::Response::builder().status(200);
    if let Some(cc) = cache_control {
        b = b.header("cache-control", cc);
    }
    b.body(Body::full(json!({ "keys": keys }).to_string()))
        .expect("response")
}

const JWKS_ISSUER: &str = r#"
algorithms: [ES256]
jwks: { url: "https://id.example/jwks", cache_ttl: 10m, min_refetch_interval: 30s }
"#;

#[test]
fn jwks_is_fetched_once_cached_and_refetched_for_an_unknown_kid() {
    let env = test_env(64);
    let i = issuer(JWKS_ISSUER);
    env.http.push(jwks_response(vec![jwk("k1")], None));
    assert!(verify(&i, &env, &es("k1")).is_ok());
    assert!(verify(&i, &env, &es("k1")).is_ok());
    assert_eq!(env.http.requests().len(), 1, "cached after the first fetch");
    assert_eq!(env.http.requests()[0], "https://id.example/jwks");

    // Unknown kid within the interval: no refetch.
    assert_eq!(
        verify(&i, &env, &es("k2")),
        Err(JwtError::Invalid("no key matches the token"))
    );
    assert_eq!(env.http.requests().len(), 1);

    // After the interval, an unknown kid causes exactly one refetch.
    env.clock.advance(Duration::from_secs(31));
    env.http
        .push(jwks_response(vec![jwk("k1"), jwk("k2")], None));
    assert!(verify(&i, &env, &es("k2")).is_ok());
    assert_eq!(env.http.requests().len(), 2);
    assert_eq!(
        verify(&i, &env, &es("k3")),
        Err(JwtError::Invalid("no key matches the token"))
    );
    assert_eq!(env.http.requests().len(), 2);
}

#[test]
fn jwks_down_keeps_cached_keys_and_refreshes_in_the_background() {
    let env = test_env(64);
    let i = issuer(JWKS_ISSUER);
    env.http
        .push(jwks_response(vec![jwk("k1")], Some("public, max-age=100")));
    assert!(verify(&i, &env, &es("k1")).is_ok());
    // Past 80% of max-age, a background refresh is deferred.
    env.clock.advance(Duration::from_secs(85));
    assert!(verify(&i, &env, &es("k1")).is_ok());
    let work = env.deferred.take();
    assert_eq!(work.len(), 1);
    // The endpoint is down: the refresh fails, and the cached keys keep working past expiry.
    for w in work {
        block_on(w);
    }
    assert_eq!(env.http.requests().len(), 2);
    env.clock.advance(Duration::from_secs(3600));
    let r = verify(&i, &env, &es("k1"));
    assert!(r.is_ok(), "{r:?}");
    // A key that is not cached cannot be had: unavailable, not invalid.
    assert_eq!(verify(&i, &env, &es("k9")), Err(JwtError::KeyUnavailable));
}

#[test]
fn jwks_down_with_nothing_cached_is_unavailable_and_the_store_is_shared() {
    let env = test_env(64);
    let i = issuer(JWKS_ISSUER);
    assert_eq!(verify(&i, &env, &es("k1")), Err(JwtError::KeyUnavailable));
    // Failed recently: no new attempt for a while.
    assert_eq!(verify(&i, &env, &es("k1")), Err(JwtError::KeyUnavailable));
    assert_eq!(env.http.requests().len(), 1);

    env.clock.advance(Duration::from_secs(31));
    env.http.push(jwks_response(vec![jwk("k1")], None));
    assert!(verify(&i, &env, &es("k1")).is_ok());
    // A fresh instance (another worker, a reloaded config) finds the keys in the store.
    let again = issuer(JWKS_ISSUER);
    assert!(verify(&again, &env, &es("k1")).is_ok());
    assert_eq!(env.http.requests().len(), 2);
}

#[test]
fn scopes_come_from_scope_and_scp() {
    let c: super::jwt::Claims =
        serde_json::from_value(json!({"scope": "a b", "scp": ["c"]})).expect("map");
    assert_eq!(super::jwt::scopes(&c), ["a", "b", "c"]);
    let _unused: BTreeMap<(), ()> = BTreeMap::new();
}
