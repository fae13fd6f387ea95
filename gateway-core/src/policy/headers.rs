//! `headers`: add, set, remove and rename request and response headers.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use schemars::JsonSchema;
use serde::Deserialize;

use super::registry::{BuildCx, PolicyFactory};
use super::template::Template;
use super::{Cx, Flow, Policy};
use crate::body::Body;
use crate::config::ConfigProblem;
use crate::error::GatewayError;

/// Settings of the `headers` policy.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeadersSpec {
    /// Changes to the request before it goes upstream.
    #[serde(default)]
    pub request: HeaderOpsSpec,
    /// Changes to the response before it goes to the client.
    #[serde(default)]
    pub response: HeaderOpsSpec,
}

/// Header changes, applied in the order remove, rename, set, add.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderOpsSpec {
    /// Headers to drop.
    #[serde(default)]
    pub remove: Vec<String>,
    /// Old name → new name.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// Replace (or create) with this value; templates allowed (`{id}`, `{client_ip}`).
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Append this value; templates allowed.
    #[serde(default)]
    pub add: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct HeaderOps {
    remove: Vec<HeaderName>,
    rename: Vec<(HeaderName, HeaderName)>,
    set: Vec<(HeaderName, Template)>,
    add: Vec<(HeaderName, Template)>,
}

impl HeaderOps {
    fn is_empty(&self) -> bool {
        self.remove.is_empty()
            && self.rename.is_empty()
            && self.set.is_empty()
            && self.add.is_empty()
    }

    fn build(
        spec: HeaderOpsSpec,
        field: &str,
        cx: &BuildCx,
        problems: &mut Vec<ConfigProblem>,
    ) -> Self {
        let mut ops = Self::default();
        for (i, n) in spec.remove.iter().enumerate() {
            if let Some(h) = header_name(n, &format!("{field}.remove[{i}]"), cx, problems) {
                ops.remove.push(h);
            }
        }
        for (a, b) in &spec.rename {
            let at = format!("{field}.rename.{a}");
            if let (Some(a), Some(b)) = (
                header_name(a, &at, cx, problems),
                header_name(b, &at, cx, problems),
            ) {
                ops.rename.push((a, b));
            }
        }
        ops.set = templated(&spec.set, &format!("{field}.set"), cx, problems);
        ops.add = templated(&spec.add, &format!("{field}.add"), cx, problems);
        ops
    }

    fn apply(&self, headers: &mut HeaderMap, cx: &Cx<'_>, source: &HeaderMap) {
        for h in &self.remove {
            headers.remove(h);
        }
        for (from, to) in &self.rename {
            let values: Vec<HeaderValue> = match headers.entry(from) {
                http::header::Entry::Occupied(e) => e.remove_entry_mult().1.collect(),
                http::header::Entry::Vacant(_) => continue,
            };
            headers.remove(to);
            for v in values {
                headers.append(to, v);
            }
        }
        for (h, t) in &self.set {
            if let Ok(v) = HeaderValue::from_str(&t.render(cx, source)) {
                headers.insert(h, v);
            }
        }
        for (h, t) in &self.add {
            if let Ok(v) = HeaderValue::from_str(&t.render(cx, source)) {
                headers.append(h, v);
            }
        }
    }
}

fn header_name(
    n: &str,
    at: &str,
    cx: &BuildCx,
    problems: &mut Vec<ConfigProblem>,
) -> Option<HeaderName> {
    match HeaderName::from_bytes(n.as_bytes()) {
        Ok(h) => Some(h),
        Err(_) => {
            problems.push(cx.problem(at, format!("`{n}` is not a valid header name")));
            None
        }
    }
}

fn templated(
    map: &BTreeMap<String, String>,
    field: &str,
    cx: &BuildCx,
    problems: &mut Vec<ConfigProblem>,
) -> Vec<(HeaderName, Template)> {
    let mut out = Vec::new();
    for (k, v) in map {
        let at = format!("{field}.{k}");
        let Some(h) = header_name(k, &at, cx, problems) else {
            continue;
        };
        match Template::parse(v, &cx.params) {
            Ok(t) if t.is_literal() && HeaderValue::from_str(v).is_err() => {
                problems.push(cx.problem(&at, "not a valid header value"));
            }
            Ok(t) => out.push((h, t)),
            Err(e) => problems.push(cx.problem(&at, e)),
        }
    }
    out
}

#[derive(Debug)]
struct Headers {
    request: HeaderOps,
    response: HeaderOps,
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Policy for Headers {
    fn name(&self) -> &'static str {
        "headers"
    }

    async fn on_request(
        &self,
        req: &mut Request<Body>,
        cx: &mut Cx<'_>,
    ) -> Result<Flow, GatewayError> {
        if !self.request.is_empty() {
            let source = req.headers().clone();
            self.request.apply(req.headers_mut(), cx, &source);
        }
        Ok(Flow::Continue)
    }

    async fn on_response(
        &self,
        resp: &mut Response<Body>,
        cx: &mut Cx<'_>,
    ) -> Result<(), GatewayError> {
        if !self.response.is_empty() {
            let source = resp.headers().clone();
            self.response.apply(resp.headers_mut(), cx, &source);
        }
        Ok(())
    }
}

fn build(value: &serde_json::Value, cx: &BuildCx) -> Result<Arc<dyn Policy>, Vec<ConfigProblem>> {
    let spec: HeadersSpec = cx.settings(value)?;
    let mut problems = Vec::new();
    let request = HeaderOps::build(spec.request, "request", cx, &mut problems);
    let response = HeaderOps::build(spec.response, "response", cx, &mut problems);
    if problems.is_empty() {
        Ok(Arc::new(Headers { request, response }))
    } else {
        Err(problems)
    }
}

pub(super) const FACTORY: PolicyFactory = PolicyFactory {
    kind: "headers",
    build,
    schema: |g| g.subschema_for::<HeadersSpec>(),
};
