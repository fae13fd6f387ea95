//! Graceful shutdown: in-flight requests finish, new connections are refused.

mod common;

use std::time::{Duration, Instant};

use anyhow::Result;
use common::{TestGateway, client, eventually, fill, received};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const CONFIG: &str = r#"
version: 1
server:
  shutdown_grace: GRACE
upstreams:
  slow: { url: "UP" }
routes:
  - { path: /slow, upstream: slow }
"#;

async fn slow_upstream(delay: Duration) -> MockServer {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("finished")
                .set_delay(delay),
        )
        .mount(&up)
        .await;
    up
}

async fn refused(addr: std::net::SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr)).await,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_requests_finish_and_new_connections_are_refused() -> Result<()> {
    let up = slow_upstream(Duration::from_millis(500)).await;
    let gw = TestGateway::start(&fill(CONFIG, &[("GRACE", "5s"), ("UP", &up.uri())])).await?;
    let addr = gw.addr();
    let url = gw.url("/slow");

    let in_flight = tokio::spawn(async move {
        let resp = client().get(url).send().await?;
        let status = resp.status().as_u16();
        anyhow::Ok((status, resp.text().await?, Instant::now()))
    });
    assert!(
        eventually(Duration::from_secs(2), || async {
            !received(&up).await.is_empty()
        })
        .await,
        "the request never reached the upstream"
    );

    let shutdown = tokio::spawn(gw.shutdown());
    // While draining, the listener is already closed.
    assert!(
        eventually(Duration::from_secs(2), || refused(addr)).await,
        "still accepting during shutdown"
    );
    let refused_at = Instant::now();

    let (status, text, finished_at) =
        tokio::time::timeout(Duration::from_secs(5), in_flight).await???;
    assert_eq!(status, 200);
    assert_eq!(text, "finished");
    assert!(
        refused_at < finished_at,
        "new connections were accepted while a request was in flight"
    );

    tokio::time::timeout(Duration::from_secs(5), shutdown).await??;
    assert!(refused(addr).await);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_do_not_hold_up_shutdown() -> Result<()> {
    let up = slow_upstream(Duration::ZERO).await;
    let gw = TestGateway::start(&fill(CONFIG, &[("GRACE", "5s"), ("UP", &up.uri())])).await?;
    // A pooled keep-alive connection stays open after this request.
    let c = client();
    assert_eq!(c.get(gw.url("/slow")).send().await?.status(), 200);

    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), gw.shutdown()).await?;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "shutdown waited for an idle connection"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_returns_after_the_grace_period_and_closes_what_is_left() -> Result<()> {
    let up = slow_upstream(Duration::from_secs(3)).await;
    let gw = TestGateway::start(&fill(CONFIG, &[("GRACE", "300ms"), ("UP", &up.uri())])).await?;
    let url = gw.url("/slow");
    let in_flight =
        tokio::spawn(async move { client().get(url).send().await.map(|r| r.status().as_u16()) });
    assert!(
        eventually(Duration::from_secs(2), || async {
            !received(&up).await.is_empty()
        })
        .await
    );

    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), gw.shutdown()).await?;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "shutdown took {took:?}"
    );

    // The grace period is over: the remaining request is cut off rather
    // than answered after the server was declared stopped.
    let outcome = tokio::time::timeout(Duration::from_secs(5), in_flight).await??;
    assert!(
        outcome.is_err(),
        "the request was still answered after shutdown returned: {outcome:?}"
    );
    Ok(())
}
