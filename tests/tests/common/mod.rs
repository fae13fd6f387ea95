//! Shared helpers for the integration tests: running a gateway from a YAML
//! config in a private temp directory, raw HTTP/1.1 over TCP for requests a
//! normal client would refuse to send or would tidy up, and checks for
//! problem+json answers.
//!
//! Every helper is bounded in time: raw reads give up after a deadline and
//! polling loops take one.

// Each test binary uses a different subset of the helpers.
#![allow(dead_code)]

pub(crate) mod admin;
pub(crate) mod local_bin;
pub(crate) mod redis;
pub(crate) mod table;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use gateway_local::{RunningServer, StartOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a raw exchange may take before the helper gives up.
pub(crate) const RAW_DEADLINE: Duration = Duration::from_secs(5);

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh, uniquely named directory.
    pub(crate) fn new() -> Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "gateway-tests-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self(dir))
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Replaces each `KEY` with its value; keeps YAML free of `format!` escapes.
pub(crate) fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    vars.iter()
        .fold(template.to_owned(), |acc, (k, v)| acc.replace(k, v))
}

/// Writes `text` to `path` through a temp file in the same directory and a
/// rename, as editors and deploy tools do.
pub(crate) fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// A gateway serving a config file from its own temp directory.
#[derive(Debug)]
pub(crate) struct TestGateway {
    server: RunningServer,
    config: PathBuf,
    _dir: TempDir,
}

impl TestGateway {
    /// Writes `yaml` to a fresh config file and starts a gateway on it on
    /// `127.0.0.1:0`, without watching the file.
    pub(crate) async fn start(yaml: &str) -> Result<Self> {
        Self::start_with(yaml, false, None).await
    }

    /// Like [`TestGateway::start`], and reloads when the file changes.
    pub(crate) async fn start_watching(yaml: &str) -> Result<Self> {
        Self::start_with(yaml, true, None).await
    }

    /// Writes `yaml` to a fresh config file and starts a gateway on it on
    /// `127.0.0.1:0`, watching the file or not, with `admin` settings.
    pub(crate) async fn start_with(
        yaml: &str,
        watch: bool,
        admin: Option<gateway_local::admin::AdminOptions>,
    ) -> Result<Self> {
        let dir = TempDir::new()?;
        let config = dir.path().join("gateway.yaml");
        std::fs::write(&config, yaml)?;
        let server = gateway_local::start(StartOptions {
            config: config.clone(),
            listen: Some("127.0.0.1:0".parse()?),
            watch,
            admin,
        })
        .await?;
        Ok(Self {
            server,
            config,
            _dir: dir,
        })
    }

    /// Starts a gateway on an existing config file (not copied).
    pub(crate) async fn start_file(path: &Path) -> Result<RunningServer> {
        gateway_local::start(StartOptions {
            config: path.to_owned(),
            listen: Some("127.0.0.1:0".parse()?),
            watch: false,
            admin: None,
        })
        .await
    }

    /// The listening address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://ADDR` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// The running server.
    pub(crate) fn server(&self) -> &RunningServer {
        &self.server
    }

    /// The config file the gateway was started on.
    pub(crate) fn config_path(&self) -> &Path {
        &self.config
    }

    /// Stops the server and waits for it to drain.
    pub(crate) async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// A JSON request with an optional bearer token: the status and the body
/// as JSON (a string when it is not JSON).
pub(crate) async fn json_call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> Result<(u16, serde_json::Value)> {
    let mut req = client().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    ))
}

/// A client that never uses a proxy from the environment, with a timeout.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a reqwest client with default TLS settings builds")
}

/// A client that speaks HTTP/2 with prior knowledge (h2c).
pub(crate) fn h2_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a reqwest h2c client builds")
}

/// A loopback port with nothing listening on it (bound, then released).
pub(crate) fn dead_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = l.local_addr()?.port();
    drop(l);
    Ok(port)
}

/// Polls `check` every 25 ms until it is true or `timeout` passes.
pub(crate) async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A response read off a raw socket.
#[derive(Debug, Clone)]
pub(crate) struct RawResponse {
    /// The status code.
    pub(crate) status: u16,
    /// The status line.
    pub(crate) status_line: String,
    /// Header fields in order, names lower-cased.
    pub(crate) headers: Vec<(String, String)>,
    /// The decoded body.
    pub(crate) body: Vec<u8>,
}

impl RawResponse {
    /// The first value of a header.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "body is not JSON: {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Checks that this is a problem+json answer with `status` and kind.
    pub(crate) fn assert_problem(&self, status: u16, kind: &str) -> Result<serde_json::Value> {
        check_problem(
            self.status,
            self.header("content-type"),
            &self.body,
            status,
            kind,
        )
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Reads one HTTP/1.1 response (head and body) from `stream`.
pub(crate) async fn read_response(stream: &mut TcpStream) -> Result<RawResponse> {
    tokio::time::timeout(RAW_DEADLINE, read_response_inner(stream))
        .await
        .context("no complete response before the deadline")?
}

async fn read_response_inner(stream: &mut TcpStream) -> Result<RawResponse> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        if read_more(stream, &mut buf).await? == 0 {
            bail!(
                "connection closed before a response head; got {:?}",
                String::from_utf8_lossy(&buf)
            );
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_owned();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut rest = buf[head_end..].to_vec();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let body = if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if let Some(len) = get("content-length") {
        let len: usize = len.parse().context("content-length")?;
        while rest.len() < len {
            if read_more(stream, &mut rest).await? == 0 {
                bail!("connection closed after {} of {len} body bytes", rest.len());
            }
        }
        rest.truncate(len);
        rest
    } else if get("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                if read_more(stream, &mut rest).await? == 0 {
                    bail!("connection closed inside a chunk header");
                }
            };
            let size_text = String::from_utf8_lossy(&rest[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .with_context(|| format!("chunk size {size_text:?}"))?;
            rest.drain(..line_end + 2);
            while rest.len() < size + 2 {
                if read_more(stream, &mut rest).await? == 0 {
                    bail!("connection closed inside a chunk");
                }
            }
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[..size]);
            rest.drain(..size + 2);
        }
        body
    } else {
        while read_more(stream, &mut rest).await? > 0 {}
        rest
    };
    Ok(RawResponse {
        status,
        status_line,
        headers,
        body,
    })
}

/// Connects to `addr`.
pub(crate) async fn connect(addr: SocketAddr) -> Result<TcpStream> {
    let s = tokio::time::timeout(RAW_DEADLINE, TcpStream::connect(addr)).await??;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Sends `request` as is on a new connection and reads one response.
pub(crate) async fn raw(addr: SocketAddr, request: &[u8]) -> Result<RawResponse> {
    let mut s = connect(addr).await?;
    s.write_all(request).await?;
    read_response(&mut s).await
}

/// `GET target` with `Host` and `Connection: close` over a raw socket; the
/// target is sent byte for byte.
pub(crate) async fn raw_get(addr: SocketAddr, target: &str) -> Result<RawResponse> {
    let req = format!("GET {target} HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n");
    raw(addr, req.as_bytes()).await
}

/// Whether the peer closed the connection (EOF or reset) within `within`.
pub(crate) async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

fn check_problem(
    got_status: u16,
    content_type: Option<&str>,
    body: &[u8],
    status: u16,
    kind: &str,
) -> Result<serde_json::Value> {
    let text = String::from_utf8_lossy(body);
    ensure!(
        got_status == status,
        "status {got_status}, expected {status}; body {text}"
    );
    ensure!(
        content_type == Some("application/problem+json"),
        "content-type {content_type:?}, expected application/problem+json"
    );
    let v: serde_json::Value =
        serde_json::from_slice(body).with_context(|| format!("problem body {text}"))?;
    ensure!(
        v["type"] == format!("urn:gateway:problem:{kind}"),
        "problem type in {v}, expected {kind}"
    );
    ensure!(v["status"] == status, "problem status in {v}");
    ensure!(
        v["title"].as_str().is_some_and(|t| !t.is_empty()),
        "problem title in {v}"
    );
    Ok(v)
}

/// `problem` without its `request_id`: for checks that no detail leaks,
/// which a random hex id could fail by chance (it may spell a number).
pub(crate) fn without_request_id(mut problem: serde_json::Value) -> serde_json::Value {
    if let Some(doc) = problem.as_object_mut() {
        doc.remove("request_id");
    }
    problem
}

/// Checks that `resp` is a problem+json answer with `status` and kind
/// (`urn:gateway:problem:KIND`); returns the document.
pub(crate) async fn assert_problem(
    resp: reqwest::Response,
    status: u16,
    kind: &str,
) -> Result<serde_json::Value> {
    let got = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.bytes().await?;
    check_problem(got, ct.as_deref(), &body, status, kind)
}

/// All values of a header in a wiremock request, in order.
pub(crate) fn values(headers: &http::HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

/// The single value of a header, or `None`.
pub(crate) fn value(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Requests the wiremock server received (empty when recording is off).
pub(crate) async fn received(server: &wiremock::MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap_or_default()
}

/// A wiremock upstream that answers 200 `ok` to everything.
pub(crate) async fn ok_upstream() -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    server
}

/// Path and query of a received request, e.g. `/a/b?x=1`.
pub(crate) fn path_and_query(req: &wiremock::Request) -> String {
    match req.url.query() {
        Some(q) => format!("{}?{q}", req.url.path()),
        None => req.url.path().to_owned(),
    }
}

/// The body of `resp` as JSON (reqwest's `json` feature is not enabled).
pub(crate) async fn json(resp: reqwest::Response) -> Result<serde_json::Value> {
    let bytes = resp.bytes().await?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("body is not JSON: {:?}", String::from_utf8_lossy(&bytes)))
}
