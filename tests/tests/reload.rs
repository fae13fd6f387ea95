//! Hot reload: a watched config file that turns invalid keeps the last good
//! config serving; a valid one replaces it. Files are written both by
//! rename (editors, deploy tools) and in place.

mod common;

use std::time::Duration;

use anyhow::Result;
use common::{TestGateway, client, eventually, write_atomically};

const CONFIG_A: &str = r#"
version: 1
upstreams:
  a: { mock: { json: { config: A } } }
routes:
  - { path: /a, upstream: a }
"#;

const CONFIG_B: &str = r#"
version: 1
upstreams:
  b: { mock: { json: { config: B } } }
routes:
  - { path: /b, upstream: b }
"#;

const INVALID: &str = r#"
version: 1
upstreams:
  b: { mock: { json: { config: B } } }
routes:
  - { path: /b, upstream: missing }
"#;

const NOT_YAML: &str = "version: 1\nroutes: [ {\n";

/// How long a reload may take to show.
const RELOAD_DEADLINE: Duration = Duration::from_secs(5);

async fn status(gw: &TestGateway, path: &str) -> u16 {
    match client().get(gw.url(path)).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

async fn body(gw: &TestGateway, path: &str) -> Result<serde_json::Value> {
    common::json(client().get(gw.url(path)).send().await?).await
}

/// Checks for `for_at_least` that `path` keeps answering 200 with `config`.
async fn keeps_serving(
    gw: &TestGateway,
    path: &str,
    config: &str,
    for_at_least: Duration,
) -> Result<()> {
    let until = std::time::Instant::now() + for_at_least;
    while std::time::Instant::now() < until {
        assert_eq!(body(gw, path).await?["config"], config);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_file_keeps_the_last_good_config_and_a_valid_one_replaces_it() -> Result<()> {
    let gw = TestGateway::start_watching(CONFIG_A).await?;
    assert_eq!(body(&gw, "/a").await?["config"], "A");
    assert_eq!(status(&gw, "/b").await, 404);

    write_atomically(gw.config_path(), INVALID)?;
    keeps_serving(&gw, "/a", "A", Duration::from_millis(1000)).await?;
    assert_eq!(status(&gw, "/b").await, 404);

    write_atomically(gw.config_path(), NOT_YAML)?;
    keeps_serving(&gw, "/a", "A", Duration::from_millis(600)).await?;

    write_atomically(gw.config_path(), CONFIG_B)?;
    assert!(
        eventually(RELOAD_DEADLINE, || async { status(&gw, "/b").await == 200 }).await,
        "B never applied"
    );
    assert_eq!(body(&gw, "/b").await?["config"], "B");
    assert_eq!(status(&gw, "/a").await, 404);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_overwrites_reload_too() -> Result<()> {
    let gw = TestGateway::start_watching(CONFIG_A).await?;
    assert_eq!(status(&gw, "/a").await, 200);

    std::fs::write(gw.config_path(), INVALID)?;
    keeps_serving(&gw, "/a", "A", Duration::from_millis(1000)).await?;

    std::fs::write(gw.config_path(), CONFIG_B)?;
    assert!(
        eventually(RELOAD_DEADLINE, || async { status(&gw, "/b").await == 200 }).await,
        "B never applied"
    );
    assert_eq!(status(&gw, "/a").await, 404);

    // And back again.
    std::fs::write(gw.config_path(), CONFIG_A)?;
    assert!(
        eventually(RELOAD_DEADLINE, || async { status(&gw, "/a").await == 200 }).await,
        "A never reapplied"
    );
    assert_eq!(status(&gw, "/b").await, 404);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_files_in_the_directory_do_not_trigger_a_reload() -> Result<()> {
    let gw = TestGateway::start_watching(CONFIG_A).await?;
    let dir = gw
        .config_path()
        .parent()
        .expect("the config file has a directory");
    // Valid config B under another name: must be ignored.
    std::fs::write(dir.join("other.yaml"), CONFIG_B)?;
    keeps_serving(&gw, "/a", "A", Duration::from_millis(800)).await?;
    assert_eq!(status(&gw, "/b").await, 404);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_watch_the_file_is_not_reloaded() -> Result<()> {
    let gw = TestGateway::start(CONFIG_A).await?;
    write_atomically(gw.config_path(), CONFIG_B)?;
    keeps_serving(&gw, "/a", "A", Duration::from_millis(800)).await?;
    assert_eq!(status(&gw, "/b").await, 404);
    Ok(())
}
