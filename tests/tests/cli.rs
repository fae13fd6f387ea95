//! The `local` binary's config commands: `validate`, `routes`, `schema`.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use anyhow::{Context as _, Result};
use common::TempDir;
use common::local_bin::{local_bin, workspace_root};

fn run(dir: &Path, args: &[&str]) -> Result<Output> {
    Ok(Command::new(local_bin()?)
        .args(args)
        .current_dir(dir)
        .output()?)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const BAD: &str = r#"
version: 1
server:
  listen: "not-an-address"
  limits: { max_uri_bytes: 10 }
upstreams:
  good: { url: "http://127.0.0.1:9" }
  broken: { url: "ftp://example.com" }
routes:
  - path: /a
    upstream: nope
  - path: /b
    methods: [GET, "NOT A METHOD"]
    upstream: good
    policies:
      - frobnicate: {}
      - rewrite: { path: "/x/{missing}" }
"#;

#[test]
fn validate_lists_every_problem_with_file_and_field() -> Result<()> {
    let dir = TempDir::new()?;
    std::fs::write(dir.path().join("bad.yaml"), BAD)?;
    let out = run(dir.path(), &["validate", "bad.yaml"])?;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    for expected in [
        "bad.yaml: routes[0].upstream: unknown upstream `nope`; defined upstreams: broken, good",
        "bad.yaml: server.listen: `not-an-address` is not an address",
        "bad.yaml: server.limits.max_uri_bytes: must be at least 64",
        "bad.yaml: upstreams.broken.url: unsupported scheme `ftp`",
        "bad.yaml: routes[1].methods[1]: `NOT A METHOD` is not an HTTP method",
        "bad.yaml: routes[1].policies[0]: unknown policy `frobnicate`",
        "bad.yaml: routes[1].policies[1].rewrite.path: unknown variable `{missing}`",
    ] {
        assert!(
            stderr.lines().any(|l| l.starts_with(expected)),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(stderr.lines().count() >= 7, "{stderr}");
    assert!(out.stdout.is_empty());
    Ok(())
}

#[test]
fn validate_checks_the_store_against_the_local_target() -> Result<()> {
    let dir = TempDir::new()?;
    std::fs::write(
        dir.path().join("platform.yaml"),
        "version: 1\nstore: platform\n",
    )?;
    std::fs::write(
        dir.path().join("typo.yaml"),
        "version: 1\nstore: { backend: memory, counter: exact }\n",
    )?;
    std::fs::write(
        dir.path().join("exact.yaml"),
        "version: 1\nstore: { backend: memory, counters: exact }\n",
    )?;

    let out = run(dir.path(), &["validate", "platform.yaml"])?;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("platform.yaml: store: target `local` has no platform store (capability `platform_store`)"),
        "{stderr}"
    );
    let out = run(dir.path(), &["validate", "typo.yaml"])?;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("typo.yaml: store") && stderr.contains("unknown field `counter`"),
        "{stderr}"
    );
    // One process counts exactly in memory.
    let out = run(dir.path(), &["validate", "exact.yaml"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    Ok(())
}

#[test]
fn validate_reports_syntax_and_schema_errors() -> Result<()> {
    let dir = TempDir::new()?;
    std::fs::write(dir.path().join("broken.yaml"), "version: 1\nroutes: [ {\n")?;
    std::fs::write(dir.path().join("typo.yaml"), "version: 1\nroutse: []\n")?;
    std::fs::write(dir.path().join("list.yaml"), "- 1\n- 2\n")?;

    let out = run(dir.path(), &["validate", "broken.yaml"])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("broken.yaml: invalid YAML"),
        "{}",
        text(&out.stderr)
    );

    let out = run(dir.path(), &["validate", "typo.yaml"])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown field `routse`"),
        "{}",
        text(&out.stderr)
    );

    let out = run(dir.path(), &["validate", "list.yaml"])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("must be a mapping"),
        "{}",
        text(&out.stderr)
    );

    let out = run(dir.path(), &["validate", "missing.yaml"])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("missing.yaml: cannot read the file"),
        "{}",
        text(&out.stderr)
    );
    Ok(())
}

#[test]
fn validate_accepts_the_quickstart_config() -> Result<()> {
    let root = workspace_root();
    let out = run(&root, &["validate", "gateway.yaml"])?;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "gateway.yaml: ok (4 routes)");
    Ok(())
}

#[test]
fn validate_accepts_json_configs() -> Result<()> {
    let dir = TempDir::new()?;
    let cfg = r#"{"version": 1, "upstreams": {"m": {"mock": {"body": "x"}}}, "routes": [{"path": "/m", "upstream": "m"}]}"#;
    std::fs::write(dir.path().join("gw.json"), cfg)?;
    let out = run(dir.path(), &["validate", "gw.json"])?;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "gw.json: ok (1 routes)");
    Ok(())
}

#[test]
fn routes_lists_the_quickstart_routes() -> Result<()> {
    let out = run(&workspace_root(), &["routes", "gateway.yaml"])?;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(lines[0].starts_with("ROUTE"));
    let echo = lines
        .iter()
        .find(|l| l.starts_with("echo "))
        .context("echo route listed")?;
    assert!(
        echo.contains("deny, request_size, rewrite, headers"),
        "{echo}"
    );
    let dashboard = lines
        .iter()
        .find(|l| l.starts_with("dashboard "))
        .context("dashboard route listed")?;
    assert!(
        dashboard.contains("aggregate(greeting, users, profile)"),
        "{dashboard}"
    );
    Ok(())
}

#[test]
fn schema_prints_a_json_schema() -> Result<()> {
    let out = run(&workspace_root(), &["schema"])?;
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert!(
        schema
            .get("properties")
            .and_then(|p| p.get("routes"))
            .is_some(),
        "{schema}"
    );
    Ok(())
}

#[test]
fn variables_come_from_the_environment_and_are_never_printed() -> Result<()> {
    let dir = TempDir::new()?;
    std::fs::write(
        dir.path().join("vars.yaml"),
        "version: 1\nupstreams:\n  a: { url: \"http://${UP_HOST}:9\" }\njwt_issuers:\n  hs: { algorithms: [HS256], keys: [{ secret: \"${GW_TEST_HS}\" }] }\n",
    )?;
    let secret = "0123456789abcdef0123456789abcdef-from-env";
    let validate = |vars: &[(&str, &str)]| -> Result<Output> {
        Ok(Command::new(local_bin()?)
            .args(["validate", "vars.yaml"])
            .current_dir(dir.path())
            .env_remove("UP_HOST")
            .env_remove("GW_TEST_HS")
            .envs(vars.iter().copied())
            .output()?)
    };
    let out = validate(&[("UP_HOST", "127.0.0.1"), ("GW_TEST_HS", secret)])?;
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Set but too short: the problem names the field, not the value.
    let out = validate(&[("UP_HOST", "127.0.0.1"), ("GW_TEST_HS", "short-secret")])?;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("jwt_issuers.hs.keys[0]"), "{stderr}");
    assert!(!stderr.contains("short-secret"), "{stderr}");

    let out = validate(&[("UP_HOST", "127.0.0.1")])?;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .contains("vars.yaml: jwt_issuers.hs.keys[0].secret: variable `GW_TEST_HS` is not set"),
        "{stderr}"
    );
    Ok(())
}
