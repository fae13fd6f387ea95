//! Upstream connections: kept alive and reused, replaced when the upstream
//! closes them, never reused while a response body is unread.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use common::{TestGateway, client, fill};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A raw HTTP/1.1 upstream that counts connections and answers each request
/// with `ok`; it closes a connection after `per_conn` responses, without
/// saying so, as an upstream with a short keep-alive timeout does.
async fn counting_upstream(per_conn: usize) -> Result<(u16, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let conns = Arc::new(AtomicUsize::new(0));
    let counter = conns.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut served = 0;
                let mut chunk = [0u8; 4096];
                while served < per_conn {
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let resp = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if s.write_all(resp).await.is_err() {
                            return;
                        }
                        served += 1;
                    }
                }
                // Close without `connection: close`.
            });
        }
    });
    Ok((port, conns))
}

fn config(port: u16) -> String {
    fill(
        "version: 1\nupstreams:\n  up: { url: 'http://127.0.0.1:PORT' }\nroutes:\n  - { path: '/{*rest}', upstream: up }\n",
        &[("PORT", &port.to_string())],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_reuse_one_connection() -> Result<()> {
    let (port, conns) = counting_upstream(usize::MAX).await?;
    let gw = TestGateway::start(&config(port)).await?;
    let c = client();
    for i in 0..20 {
        let resp = c.get(gw.url(&format!("/r{i}"))).send().await?;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await?, "ok");
    }
    assert_eq!(
        conns.load(Ordering::SeqCst),
        1,
        "one kept-alive upstream connection"
    );
    gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_closing_idle_connections_is_invisible_to_clients() -> Result<()> {
    let (port, conns) = counting_upstream(1).await?;
    let gw = TestGateway::start(&config(port)).await?;
    let c = client();
    for i in 0..10 {
        let resp = c.get(gw.url(&format!("/r{i}"))).send().await?;
        assert_eq!(resp.status(), 200, "request {i}");
        // Give the upstream's close time to land, as between real requests.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        conns.load(Ordering::SeqCst),
        10,
        "a fresh connection per closed one"
    );
    gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_open_parallel_connections_then_reuse_them() -> Result<()> {
    let (port, conns) = counting_upstream(usize::MAX).await?;
    let gw = TestGateway::start(&config(port)).await?;
    let c = client();
    for _ in 0..3 {
        let batch: Vec<_> = (0..8)
            .map(|i| c.get(gw.url(&format!("/c{i}"))).send())
            .collect();
        for r in futures_join(batch).await {
            assert_eq!(r?.status(), 200);
        }
    }
    let opened = conns.load(Ordering::SeqCst);
    assert!(
        (1..=8).contains(&opened),
        "at most one connection per concurrent request, got {opened}"
    );
    gw.shutdown().await;
    Ok(())
}

async fn futures_join<F>(fs: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}
