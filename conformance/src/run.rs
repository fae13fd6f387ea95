//! Sending cases to a target and judging the answers.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use gateway_core::Capabilities;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::scenario::{Case, Expect, Scenario};

/// The outcome of one case on one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The answer matched.
    Pass,
    /// It did not; why.
    Fail(String),
    /// The target lacks a capability the case needs.
    Unsupported(String),
}

/// All outcomes of one target.
#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    /// The target.
    pub target: String,
    /// `scenario / case` → outcome, in corpus order.
    pub results: Vec<(String, Outcome)>,
}

/// Whether `caps` has the capability called `name`.
pub fn has(caps: &Capabilities, name: &str) -> Result<bool> {
    Ok(match name {
        "shared_state" => caps.shared_state,
        "atomic_counters" => caps.atomic_counters,
        "background_work" => caps.background_work,
        "file_system" => caps.file_system,
        "listener" => caps.listener,
        "redis" => caps.redis,
        "active_health_checks" => caps.active_health_checks,
        "dns_discovery" => caps.dns_discovery,
        other => bail!("unknown capability `{other}`"),
    })
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
}

/// Sends one request over a fresh HTTP/1.1 connection, path exactly as given.
async fn send(authority: &str, base_path: &str, case: &Case, prefix: &str) -> Result<Answer> {
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting {authority}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let target = format!("{base_path}{prefix}{}", case.request.path);
    let mut b = http::Request::builder()
        .method(case.request.method.as_str())
        .uri(target)
        .header(http::header::HOST, authority);
    for (k, v) in &case.request.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let body = match (&case.request.body, case.request.body_size) {
        (Some(b), _) => Bytes::from(b.clone()),
        (None, Some(n)) => Bytes::from(vec![b'x'; n]),
        (None, None) => Bytes::new(),
    };
    let req = b.body(Full::new(body))?;
    let resp = tokio::time::timeout(Duration::from_secs(10), sender.send_request(req))
        .await
        .context("no answer within 10 s")??;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// Every field of `want` is in `got` with the same value; `"*"` matches any
/// value and `null` requires the field to be absent. Arrays match element
/// by element (same length), each element by the same rules.
fn json_contains(got: &Value, want: &Value, at: &str) -> Result<(), String> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w {
                match (g.get(k), wv) {
                    (None | Some(Value::Null), Value::Null) => {}
                    (Some(gv), Value::Null) => {
                        return Err(format!("{at}/{k}: got {gv}, want absent"));
                    }
                    (None, _) => return Err(format!("{at}/{k} missing")),
                    (Some(_), Value::String(s)) if s == "*" => {}
                    (Some(gv), wv) => json_contains(gv, wv, &format!("{at}/{k}"))?,
                }
            }
            Ok(())
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                match wv {
                    Value::String(s) if s == "*" => {}
                    wv => json_contains(gv, wv, &format!("{at}/{i}"))?,
                }
            }
            Ok(())
        }
        (Value::String(g), Value::String(w)) => match string_matches(g, w) {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("{at}: got {g:?}, want {w:?}")),
            Err(e) => Err(format!("{at}: {e}")),
        },
        (g, w) if g == w => Ok(()),
        (g, w) => Err(format!("{at}: got {g}, want {w}")),
    }
}

/// A string expectation: `re:REGEX` must match, `!=VALUE` must differ,
/// anything else must be equal (for values that are random per request,
/// such as a `traceparent` the gateway makes).
fn string_matches(got: &str, want: &str) -> Result<bool, String> {
    if let Some(re) = want.strip_prefix("re:") {
        let re = regex::Regex::new(re).map_err(|e| format!("bad expectation {want:?}: {e}"))?;
        Ok(re.is_match(got))
    } else if let Some(other) = want.strip_prefix("!=") {
        Ok(got != other)
    } else {
        Ok(got == want)
    }
}

fn judge(a: &Answer, e: &Expect) -> Result<(), String> {
    if a.status != e.status {
        return Err(format!(
            "status {} (want {}): {}",
            a.status,
            e.status,
            String::from_utf8_lossy(&a.body)
        ));
    }
    for (name, want) in &e.headers {
        let got = a.headers.get(name.as_str()).and_then(|v| v.to_str().ok());
        match (want.as_deref(), got) {
            (None, None) => {}
            (None, Some(g)) => return Err(format!("header {name}: `{g}`, want absent")),
            (Some("*"), Some(_)) => {}
            (Some(w), Some(g)) if string_matches(g, w)? => {}
            (Some(w), g) => return Err(format!("header {name}: {g:?}, want `{w}`")),
        }
    }
    if let Some(b) = &e.body
        && a.body != b.as_bytes()
    {
        return Err(format!(
            "body `{}`, want `{b}`",
            String::from_utf8_lossy(&a.body)
        ));
    }
    let parsed =
        || serde_json::from_slice::<Value>(&a.body).map_err(|_| "body is not JSON".to_owned());
    if let Some(kind) = &e.problem {
        let ct = a
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if ct != Some("application/problem+json") {
            return Err(format!(
                "content-type {ct:?}, want application/problem+json"
            ));
        }
        let v = parsed()?;
        let want = format!("urn:gateway:problem:{kind}");
        if v["type"] != want.as_str() || v["status"] != e.status {
            return Err(format!("problem {v}, want type {want}"));
        }
    }
    if let Some(want) = &e.json {
        json_contains(&parsed()?, &with_headers(want, &a.headers)?, "")?;
    }
    Ok(())
}

/// `want` with every string `$header.NAME` replaced by the answer's `NAME`
/// header value, for fields that must equal a header (a request id).
fn with_headers(want: &Value, headers: &http::HeaderMap) -> Result<Value, String> {
    Ok(match want {
        Value::String(s) => match s.strip_prefix("$header.") {
            Some(name) => {
                let v = headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| format!("header {name} missing (wanted in the body)"))?;
                Value::String(v.to_owned())
            }
            None => want.clone(),
        },
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| with_headers(v, headers))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), with_headers(v, headers)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Runs the corpus against `base_url` (`http://host:port[/base]`).
pub async fn run(
    target: &str,
    caps: &Capabilities,
    base_url: &str,
    corpus: &[Scenario],
) -> Result<Report> {
    let rest = base_url
        .strip_prefix("http://")
        .context("the base URL starts with http://")?;
    let (authority, base_path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let mut results = Vec::new();
    for s in corpus {
        let prefix = format!("/{}", s.name);
        for case in &s.cases {
            let id = format!("{} / {}", s.name, case.name);
            let mut missing = Vec::new();
            for r in s.requires.iter().chain(&case.requires) {
                if !has(caps, r)? {
                    missing.push(r.clone());
                }
            }
            let outcome = if !missing.is_empty() {
                Outcome::Unsupported(missing.join(", "))
            } else {
                match send(authority, base_path, case, &prefix).await {
                    Ok(a) => match judge(&a, &case.expect) {
                        Ok(()) => Outcome::Pass,
                        Err(why) => Outcome::Fail(why),
                    },
                    Err(e) => Outcome::Fail(format!("{e:#}")),
                }
            };
            results.push((id, outcome));
        }
    }
    Ok(Report {
        target: target.to_owned(),
        results,
    })
}

/// The scenario x target table in Markdown.
pub fn matrix(reports: &[Report]) -> String {
    let mut rows: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for r in reports {
        for (id, o) in &r.results {
            if !rows.contains_key(id.as_str()) {
                order.push(id);
            }
            rows.entry(id).or_default().push(o);
        }
    }
    let mut out = String::from("| scenario / case |");
    for r in reports {
        out.push_str(&format!(" {} |", r.target));
    }
    out.push_str("\n| --- |");
    for _ in reports {
        out.push_str(" --- |");
    }
    out.push('\n');
    for id in order {
        out.push_str(&format!("| {id} |"));
        for o in &rows[id] {
            out.push_str(match o {
                Outcome::Pass => " pass |",
                Outcome::Fail(_) => " **FAIL** |",
                Outcome::Unsupported(_) => " not supported |",
            });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, ct: &str, body: &str) -> Answer {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, ct.parse().expect("header"));
        Answer {
            status,
            headers,
            body: Bytes::from(body.to_owned()),
        }
    }

    fn expect(yaml: &str) -> Expect {
        serde_saphyr::from_str(yaml).expect("expect")
    }

    #[test]
    fn a_body_field_can_be_required_to_equal_a_header() {
        let mut a = answer(404, "application/json", r#"{"request_id":"abc"}"#);
        a.headers
            .insert("x-request-id", "abc".parse().expect("header"));
        let e = expect("{ status: 404, json: { request_id: $header.x-request-id } }");
        assert!(judge(&a, &e).is_ok());
        a.headers
            .insert("x-request-id", "other".parse().expect("header"));
        assert!(judge(&a, &e).is_err());
        a.headers.remove("x-request-id");
        let why = judge(&a, &e).expect_err("no header");
        assert!(why.contains("x-request-id missing"), "{why}");
    }

    #[test]
    fn json_subset_wildcard_and_absent() {
        let got = json!({"a": 1, "h": {"x": "1", "y": "2"}});
        assert!(json_contains(&got, &json!({"h": {"x": "*"}}), "").is_ok());
        assert!(json_contains(&got, &json!({"h": {"z": null}}), "").is_ok());
        assert!(json_contains(&got, &json!({"h": {"x": null}}), "").is_err());
        assert!(json_contains(&got, &json!({"a": 2}), "").is_err());
        assert!(json_contains(&got, &json!({"b": "*"}), "").is_err());
        let list = json!({"l": [{"id": 1, "t": 99}, {"id": 2}]});
        assert!(json_contains(&list, &json!({"l": [{"id": 1}, "*"]}), "").is_ok());
        assert!(json_contains(&list, &json!({"l": [{"id": 2}, "*"]}), "").is_err());
        assert!(
            json_contains(&list, &json!({"l": [{"id": 1}]}), "").is_err(),
            "length counts"
        );
        assert!(json_contains(&list, &json!({"l": []}), "").is_err());
    }

    #[test]
    fn judge_checks_status_headers_and_problem() {
        let a = answer(
            404,
            "application/problem+json",
            r#"{"type":"urn:gateway:problem:route-not-found","status":404}"#,
        );
        assert!(judge(&a, &expect("{ status: 404, problem: route-not-found }")).is_ok());
        assert!(judge(&a, &expect("{ status: 404, problem: other }")).is_err());
        assert!(judge(&a, &expect("{ status: 200 }")).is_err());
        assert!(
            judge(
                &a,
                &expect("{ status: 404, headers: { content-type: text/plain } }")
            )
            .is_err()
        );
        assert!(judge(&a, &expect("{ status: 404, headers: { allow: null } }")).is_ok());
        let plain = answer(404, "text/plain", "nope");
        assert!(judge(&plain, &expect("{ status: 404, problem: route-not-found }")).is_err());
    }

    #[test]
    fn regex_and_not_equal_expectations() {
        let a = answer(200, "application/json", r#"{"tp":"00-ab-cd-01"}"#);
        let ok = |want: &str| {
            judge(
                &a,
                &expect(&format!("{{ status: 200, json: {{ tp: {want:?} }} }}")),
            )
            .is_ok()
        };
        assert!(ok("re:^00-ab-[a-z]{2}-01$"));
        assert!(!ok("re:^00-ab-[0-9]{2}-01$"));
        assert!(ok("!=00-ab-ef-01"));
        assert!(!ok("!=00-ab-cd-01"));
        assert!(ok("00-ab-cd-01"));
        assert!(!ok("re:("), "a bad regex fails the case");
        assert!(
            judge(
                &a,
                &expect("{ status: 200, headers: { content-type: \"re:^application/\" } }")
            )
            .is_ok()
        );
        assert!(
            judge(
                &a,
                &expect("{ status: 200, headers: { content-type: \"!=application/json\" } }")
            )
            .is_err()
        );
    }

    #[test]
    fn unsupported_comes_from_capabilities() {
        let caps = gateway_local::CAPABILITIES;
        assert!(has(&caps, "redis").expect("known"));
        assert!(
            has(&caps, "teleport").is_err(),
            "unknown capability names are errors, not skips"
        );
    }
}
