//! TLS termination (HTTP/1.1 and HTTP/2 by ALPN) and `https` upstreams with a
//! custom CA file, through real sockets.

use std::path::{Path, PathBuf};

use gateway_local::{RunningServer, StartOptions, start};

struct Certs {
    dir: PathBuf,
    cert_pem: String,
}

fn certs() -> anyhow::Result<Certs> {
    let dir = std::env::temp_dir().join(format!("gw-tls-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir)?;
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let cert_pem = key.cert.pem();
    std::fs::write(dir.join("cert.pem"), &cert_pem)?;
    std::fs::write(dir.join("key.pem"), key.signing_key.serialize_pem())?;
    Ok(Certs { dir, cert_pem })
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

async fn run(dir: &Path, name: &str, yaml: &str) -> anyhow::Result<RunningServer> {
    let path = dir.join(name);
    std::fs::write(&path, yaml)?;
    start(StartOptions {
        config: path,
        listen: Some("127.0.0.1:0".parse()?),
        watch: false,
        admin: None,
    })
    .await
}

async fn tls_gateway(c: &Certs) -> anyhow::Result<RunningServer> {
    let yaml = format!(
        "version: 1\nserver:\n  tls: {{ cert: {0}/cert.pem, key: {0}/key.pem }}\nupstreams:\n  echo: {{ mock: {{ echo: true }} }}\nroutes:\n  - {{ path: '/{{*rest}}', upstream: echo }}\n",
        c.dir.display()
    );
    run(&c.dir, "tls.yaml", &yaml).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminates_tls_with_http1_and_http2() -> anyhow::Result<()> {
    let c = certs()?;
    let gw = tls_gateway(&c).await?;
    let url = format!("https://localhost:{}/hello", gw.addr().port());
    let ca = reqwest::Certificate::from_pem(c.cert_pem.as_bytes())?;
    let h1 = reqwest::Client::builder()
        .add_root_certificate(ca.clone())
        .http1_only()
        .resolve("localhost", gw.addr())
        .build()?;
    let resp = h1.get(&url).send().await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_11);
    let echo: serde_json::Value = serde_json::from_str(&resp.text().await?)?;
    assert_eq!(echo["headers"]["x-forwarded-proto"], "https");

    let h2 = reqwest::Client::builder()
        .add_root_certificate(ca)
        .resolve("localhost", gw.addr())
        .build()?;
    let resp = h2.get(&url).send().await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.version(),
        http::Version::HTTP_2,
        "h2 negotiated by ALPN"
    );

    let plain = reqwest::get(format!("http://127.0.0.1:{}/hello", gw.addr().port())).await;
    assert!(
        plain.is_err() || plain.is_ok_and(|r| r.status() != 200),
        "plain HTTP is not served on the TLS port"
    );
    gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstream_needs_a_trusted_certificate() -> anyhow::Result<()> {
    let c = certs()?;
    let upstream = tls_gateway(&c).await?;
    let port = upstream.addr().port();
    let yaml = format!(
        "version: 1\nupstreams:\n  trusted: {{ url: 'https://localhost:{port}/base', ca_file: {0}/cert.pem }}\n  untrusted: {{ url: 'https://localhost:{port}/base' }}\nroutes:\n  - {{ path: '/t/{{*rest}}', upstream: trusted }}\n  - {{ path: '/u/{{*rest}}', upstream: untrusted }}\n",
        c.dir.display()
    );
    let gw = run(&c.dir, "front.yaml", &yaml).await?;
    let base = format!("http://127.0.0.1:{}", gw.addr().port());

    let resp = reqwest::get(format!("{base}/t/x?y=1")).await?;
    assert_eq!(resp.status(), 200);
    let echo: serde_json::Value = serde_json::from_str(&resp.text().await?)?;
    assert_eq!(echo["path"], "/base/t/x");
    assert_eq!(echo["query"], "y=1");

    let resp = reqwest::get(format!("{base}/u/x")).await?;
    assert_eq!(
        resp.status(),
        502,
        "a certificate no root vouches for is refused"
    );
    let body = resp.text().await?;
    assert!(!body.contains("certificate"), "no TLS details leak: {body}");
    gw.shutdown().await;
    upstream.shutdown().await;
    Ok(())
}
