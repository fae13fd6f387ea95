//! `waf`: the web application firewall on a route (see [`crate::waf`]).
//!
//! A blocked request is a 403 problem that names no rule. Whatever matched
//! (blocked or detect-only) travels as a [`WafReport`] in the response
//! extensions for the adapter's access log.

use std::sync::Arc;

use http::{HeaderName, Request, Response, StatusCode};
use schemars::JsonSchema;
use serde::Deserialize;

use super::registry::{BuildCx, PolicyFactory};
use super::{Cx, Flow, Policy};
use crate::body::Body;
use crate::config::ConfigProblem;
use crate::config::units::ByteSize;
use crate::error::{GatewayError, Rejection, RequestError};
use crate::waf::{InspectConfig, Mode, Oversize, Waf, WafConfig, WafReport};

/// Settings of the `waf` policy.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WafSpec {
    /// `block` (default) refuses requests at the threshold; `detect` only reports.
    #[serde(default)]
    pub mode: WafModeSpec,
    /// 1 (default, fewest false positives) to 4 (most rules).
    pub paranoia: Option<u8>,
    /// Anomaly score at which a request is blocked. Default 5 (one critical rule).
    pub threshold: Option<u32>,
    /// Rule ids switched off on this route (false positives).
    #[serde(default)]
    pub exclude: Vec<u32>,
    /// What is inspected.
    #[serde(default)]
    pub inspect: WafInspectSpec,
}

/// Block or detect.
#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WafModeSpec {
    /// Refuse with 403.
    #[default]
    Block,
    /// Forward; report only.
    Detect,
}

/// What to do with bodies over the inspection cap.
#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WafOversizeSpec {
    /// Inspect the first `body_limit` bytes (default).
    #[default]
    InspectPrefix,
    /// Refuse with 413.
    Refuse,
}

/// Which request parts the WAF reads.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WafInspectSpec {
    /// The decoded path (default true).
    pub path: Option<bool>,
    /// Query names and values (default true).
    pub query: Option<bool>,
    /// Headers to inspect (default `User-Agent`, `Referer`, `Cookie`).
    pub headers: Option<Vec<String>>,
    /// JSON and form bodies (default true); buffers request bodies on the route.
    pub body: Option<bool>,
    /// Body bytes inspected at most (default 64KiB).
    pub body_limit: Option<ByteSize>,
    /// Larger bodies: `inspect_prefix` (default) or `refuse` (413).
    pub oversize: Option<WafOversizeSpec>,
}

#[derive(Debug)]
struct WafPolicy {
    waf: Waf,
}

impl WafPolicy {
    fn blocked(report: WafReport) -> Response<Body> {
        let rejection = Rejection::new(StatusCode::FORBIDDEN, "request-blocked", "Request blocked");
        let mut resp = GatewayError::from(rejection).into_response();
        resp.extensions_mut().insert(report);
        resp
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Policy for WafPolicy {
    fn name(&self) -> &'static str {
        "waf"
    }

    fn needs_request_body(&self) -> bool {
        self.waf.config().inspect.body
    }

    async fn on_request(
        &self,
        req: &mut Request<Body>,
        cx: &mut Cx<'_>,
    ) -> Result<Flow, GatewayError> {
        let cfg = self.waf.config();
        let body = if cfg.inspect.body {
            req.body().as_bytes()
        } else {
            None
        };
        if cfg.inspect.oversize == Oversize::Refuse
            && let Some(b) = body
            && b.len() > cfg.inspect.body_limit
        {
            return Err(RequestError::BodyTooLarge {
                limit: cfg.inspect.body_limit as u64,
            }
            .into());
        }
        let report = self.waf.inspect(req.uri(), req.headers(), body);
        if report.hits.is_empty() {
            return Ok(Flow::Continue);
        }
        if report.over_threshold && cfg.mode == Mode::Block {
            return Ok(Flow::Respond(Self::blocked(report)));
        }
        cx.extensions.insert(report);
        Ok(Flow::Continue)
    }

    async fn on_response(
        &self,
        resp: &mut Response<Body>,
        cx: &mut Cx<'_>,
    ) -> Result<(), GatewayError> {
        if let Some(report) = cx.extensions.remove::<WafReport>() {
            resp.extensions_mut().insert(report);
        }
        Ok(())
    }
}

fn build(value: &serde_json::Value, cx: &BuildCx) -> Result<Arc<dyn Policy>, Vec<ConfigProblem>> {
    let spec: WafSpec = cx.settings(value)?;
    let mut problems = Vec::new();
    let defaults = WafConfig::default();
    let paranoia = spec.paranoia.unwrap_or(defaults.paranoia);
    if !(1..=4).contains(&paranoia) {
        problems.push(cx.problem("paranoia", "must be 1, 2, 3 or 4"));
    }
    let threshold = spec.threshold.unwrap_or(defaults.threshold);
    if threshold == 0 {
        problems.push(cx.problem("threshold", "must be at least 1"));
    }
    for (i, id) in spec.exclude.iter().enumerate() {
        if !Waf::rule_exists(*id) {
            problems.push(cx.problem(&format!("exclude[{i}]"), format!("no WAF rule {id}")));
        }
    }
    let d = InspectConfig::default();
    let i = spec.inspect;
    let headers = match i.headers {
        None => d.headers,
        Some(names) => names
            .iter()
            .enumerate()
            .filter_map(|(n, h)| match HeaderName::from_bytes(h.as_bytes()) {
                Ok(h) => Some(h),
                Err(_) => {
                    problems.push(
                        cx.problem(&format!("inspect.headers[{n}]"), "not a valid header name"),
                    );
                    None
                }
            })
            .collect(),
    };
    let body_limit = match i.body_limit.map(|b| usize::try_from(b.0)) {
        None => d.body_limit,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            problems.push(cx.problem(
                "inspect.body_limit",
                "must be between 1 byte and the address space",
            ));
            d.body_limit
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let config = WafConfig {
        mode: match spec.mode {
            WafModeSpec::Block => Mode::Block,
            WafModeSpec::Detect => Mode::Detect,
        },
        paranoia,
        threshold,
        exclude: spec.exclude,
        inspect: InspectConfig {
            path: i.path.unwrap_or(d.path),
            query: i.query.unwrap_or(d.query),
            headers,
            body: i.body.unwrap_or(d.body),
            body_limit,
            oversize: match i.oversize.unwrap_or_default() {
                WafOversizeSpec::InspectPrefix => Oversize::InspectPrefix,
                WafOversizeSpec::Refuse => Oversize::Refuse,
            },
        },
    };
    Ok(Arc::new(WafPolicy {
        waf: Waf::new(config),
    }))
}

pub(super) const FACTORY: PolicyFactory = PolicyFactory {
    kind: "waf",
    build,
    schema: |g| g.subschema_for::<WafSpec>(),
};

#[cfg(test)]
mod tests {
    use futures_executor::block_on;
    use http::Request;

    use crate::body::Body;
    use crate::config::load_file_text;
    use crate::gateway::{ClientInfo, Gateway};
    use crate::policy::PolicyRegistry;
    use crate::test_env;
    use crate::waf::WafReport;

    fn gateway(waf: &str) -> Gateway {
        let yaml = format!(
            "version: 1\nupstreams: {{ m: {{ mock: {{ body: ok }} }} }}\nroutes:\n  - path: /x\n    upstream: m\n    policies:\n      - waf: {waf}\n"
        );
        let cfg = load_file_text("t.yaml", &yaml, &PolicyRegistry::builtin()).expect("config");
        Gateway::new(cfg, test_env::env())
    }

    fn streamed_json(text: &'static str) -> Request<Body> {
        let body = Body::from_stream(futures_util::stream::iter(vec![Ok(
            bytes::Bytes::from_static(text.as_bytes()),
        )]));
        Request::post("/x")
            .header("content-type", "application/json")
            .body(body)
            .expect("request")
    }

    #[test]
    fn block_and_detect_report_the_rules_in_the_response_extensions() {
        let attack = r#"{"a":"<script>alert(1)</script>"}"#;
        let resp = block_on(gateway("{}").handle(streamed_json(attack), ClientInfo::default()));
        assert_eq!(resp.status(), 403);
        let report = resp.extensions().get::<WafReport>().expect("report");
        assert!(report.over_threshold && report.rule_ids().contains("941100"));

        let resp = block_on(
            gateway("{ mode: detect }").handle(streamed_json(attack), ClientInfo::default()),
        );
        assert_eq!(resp.status(), 200);
        let report = resp.extensions().get::<WafReport>().expect("report");
        assert!(report.over_threshold);

        let resp = block_on(
            gateway("{}").handle(streamed_json(r#"{"a":"hello"}"#), ClientInfo::default()),
        );
        assert_eq!(resp.status(), 200);
        assert!(resp.extensions().get::<WafReport>().is_none());
    }

    #[test]
    fn bad_settings_are_refused_at_load() {
        let yaml = "version: 1\nupstreams: { m: { mock: { body: ok } } }\nroutes:\n  - path: /x\n    upstream: m\n    policies:\n      - waf: { paranoia: 5, threshold: 0, exclude: [1], inspect: { headers: [\"bad header\"] } }\n";
        let err = load_file_text("t.yaml", yaml, &PolicyRegistry::builtin())
            .expect_err("refused")
            .to_string();
        for field in ["paranoia", "threshold", "exclude[0]", "inspect.headers[0]"] {
            assert!(err.contains(field), "{field} in {err}");
        }
    }
}
