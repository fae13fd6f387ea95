//! No secret, token, key or password appears in any response or log line.
//!
//! Runs the gateway in this process with every log event at TRACE captured,
//! sends requests that carry credentials through every path that answers
//! or logs (accepted, refused, expired, forged, misplaced, blocked by the
//! WAF, upstream down), and scans every response (status line, headers,
//! body) and the whole log for the credentials.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use base64::Engine as _;
use common::{TestGateway, client, dead_port, fill};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;
use wiremock::matchers::{any, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const HS_SECRET: &str = "hs-secret-never-logged-0123456789abcdef";
const API_KEY: &str = "test-key-1";
/// `printf %s test-key-1 | local hash-key`
const KEY_HASH: &str = "1255558df586ae279007fffa27ec17451d1507f7ac5442add9ffbc070f9f623b";
const PASSWORD: &str = "correct horse";
/// Argon2id of `correct horse` with cheap parameters (m=256,t=1,p=1).
const PASSWORD_HASH: &str =
    "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHRzYWx0$xNYeOFrda0m/2sJVlcs76T/JvmL0kWpAqeONLu3PZDw";

const CONFIG: &str = r#"
version: 1
upstreams:
  backend: { url: "UP" }
  down: { url: "http://127.0.0.1:DEAD", connect_timeout: 1s }
consumers:
  ada:
    groups: [admin]
    api_keys: ["KEYHASH"]
    basic: { username: ada, password_hash: "PWHASH" }
jwt_issuers:
  hs:
    algorithms: [HS256]
    keys: [{ secret: "SECRET" }]
routes:
  - path: /any
    upstream: backend
    policies: [ { auth: { jwt: { issuers: [hs] }, api_key: {}, basic: {} } } ]
  - path: /admin
    upstream: backend
    policies: [ { auth: { jwt: { issuers: [hs] }, require: { groups: [admin] } } } ]
  - path: /down
    upstream: down
    policies: [ { auth: { jwt: { issuers: [hs] }, api_key: {} } } ]
  - path: /waf
    upstream: backend
    policies: [ { auth: { api_key: {} } }, { waf: {} } ]
  - path: /contract
    upstream: backend
    policies:
      - auth: { api_key: {} }
      - validate: { response: enforce, response_body: { properties: { id: { type: integer } } } }
"#;

/// Every log line the process writes.
fn log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        buf
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn token(exp_offset: i64, secret: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let exp = now.saturating_add_signed(exp_offset);
    encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "eve", "exp": exp}),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_responses_or_logs() -> Result<()> {
    let log = log();
    let up = MockServer::start().await;
    // An upstream that breaks its contract by returning a credential.
    Mock::given(path("/contract"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": HS_SECRET })))
        .with_priority(1)
        .mount(&up)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&up)
        .await;
    let dead = dead_port()?.to_string();
    let gw = TestGateway::start(&fill(
        CONFIG,
        &[
            ("UP", &up.uri()),
            ("DEAD", &dead),
            ("SECRET", HS_SECRET),
            ("KEYHASH", KEY_HASH),
            ("PWHASH", PASSWORD_HASH),
        ],
    ))
    .await?;

    let valid = token(600, HS_SECRET);
    let expired = token(-3600, HS_SECRET);
    let forged = token(600, "another-secret-of-at-least-32-bytes!!");
    let basic = |p: &str| {
        let creds = base64::engine::general_purpose::STANDARD.encode(format!("ada:{p}"));
        format!("Basic {creds}")
    };
    let wrong_key = "wrong-key-value-000111";
    let wrong_password = "battery staple";
    let secrets = [
        HS_SECRET.to_owned(),
        API_KEY.to_owned(),
        PASSWORD.to_owned(),
        basic(PASSWORD),
        valid.clone(),
        expired.clone(),
        forged.clone(),
        wrong_key.to_owned(),
        wrong_password.to_owned(),
        basic(wrong_password),
    ];

    // (path, header, value, expected status)
    let bearer = |t: &str| format!("Bearer {t}");
    let cases: Vec<(String, &str, String, u16)> = vec![
        ("/any".into(), "authorization", bearer(&valid), 200),
        ("/any".into(), "authorization", bearer(&expired), 401),
        ("/any".into(), "authorization", bearer(&forged), 401),
        ("/any".into(), "authorization", bearer("not.a.jwt"), 401),
        ("/any".into(), "x-api-key", API_KEY.into(), 200),
        ("/any".into(), "x-api-key", wrong_key.into(), 401),
        ("/any".into(), "authorization", basic(PASSWORD), 200),
        ("/any".into(), "authorization", basic(wrong_password), 401),
        // A token where the route does not read it: in the query.
        (
            format!("/any?access_token={valid}"),
            "x-none",
            "-".into(),
            401,
        ),
        ("/admin".into(), "authorization", bearer(&valid), 403),
        ("/down".into(), "authorization", bearer(&valid), 502),
        ("/down".into(), "x-api-key", API_KEY.into(), 502),
        (
            "/waf?q=1%27%20OR%20%271%27%3D%271".into(),
            "x-api-key",
            API_KEY.into(),
            403,
        ),
        ("/contract".into(), "x-api-key", API_KEY.into(), 502),
    ];
    let mut seen = String::new();
    for (path, header, value, want) in &cases {
        let resp = client()
            .get(gw.url(path))
            .header(*header, value)
            .send()
            .await?;
        let status = resp.status().as_u16();
        assert_eq!(status, *want, "{path} with {header}");
        seen.push_str(&format!("{status} {:?}\n", resp.headers()));
        seen.push_str(&resp.text().await?);
        seen.push('\n');
    }
    gw.shutdown().await;

    let logged = String::from_utf8_lossy(
        &log.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .into_owned();
    // The scan means something only if the gateway logged these requests.
    assert!(logged.contains("waf"), "no WAF log line in:\n{logged}");
    assert!(
        logged.contains("upstream response failed validation")
            && logged.contains("pointers=\"/body/id\""),
        "no response-validation log line in:\n{logged}"
    );
    assert!(logged.lines().count() > 10, "too little logged:\n{logged}");
    for secret in &secrets {
        assert!(
            !seen.contains(secret.as_str()),
            "a response carries a credential ({} bytes)",
            secret.len()
        );
        assert!(
            !logged.contains(secret.as_str()),
            "the log carries a credential ({} bytes)",
            secret.len()
        );
    }
    Ok(())
}
