//! The `rate_limit` policy: checks a route's limits before the upstream,
//! answers 429 when one is exhausted, and adds the rate-limit headers to
//! every response.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::header::RETRY_AFTER;
use http::{Request, Response, StatusCode};
use schemars::JsonSchema;
use serde::Deserialize;

use super::config::{Limit, LimitSpec};
use super::headers::{self, HeaderStyle, Outcome};
use super::key::{self, Resolved};
use super::{RateLimitReport, STORE_ERRORS};
use crate::auth::Identity;
use crate::body::Body;
use crate::config::ConfigProblem;
use crate::error::{GatewayError, Rejection};
use crate::policy::{BuildCx, Cx, Flow, Policy, PolicyFactory};

/// Settings of the `rate_limit` policy.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    /// Names of top-level `rate_limits` that apply here too. Their counters
    /// are shared by every route that uses them (unless their key has `route`).
    #[serde(default, rename = "use")]
    pub uses: Vec<String>,
    /// This route's own limits, each with a `name`.
    #[serde(default)]
    pub limits: Vec<LimitSpec>,
    /// Response headers: `ietf` (default; `RateLimit` and
    /// `RateLimit-Policy`), `legacy` (`X-RateLimit-*`) or `none`.
    #[serde(default)]
    pub headers: HeaderStyle,
}

/// Registers the `rate_limit` policy.
pub(crate) const FACTORY: PolicyFactory = PolicyFactory {
    kind: "rate_limit",
    build,
    schema: |g| g.subschema_for::<RateLimitSpec>(),
};

fn build(value: &serde_json::Value, cx: &BuildCx) -> Result<Arc<dyn Policy>, Vec<ConfigProblem>> {
    let spec: RateLimitSpec = cx.settings(value)?;
    let mut problems = Vec::new();
    let mut limits = Vec::new();
    for (i, name) in spec.uses.iter().enumerate() {
        match cx.rate_limits.get(name) {
            Some(l) => limits.push(l.clone()),
            None => problems.push(cx.problem(
                &format!("use[{i}]"),
                format!("no top-level rate limit is named `{name}` (see `rate_limits`)"),
            )),
        }
    }
    for (i, l) in spec.limits.iter().enumerate() {
        if let Some(l) = Limit::build(l, None, &format!("{}.limits[{i}]", cx.path), &mut problems) {
            limits.push(Arc::new(l));
        }
    }
    let mut seen = HashSet::new();
    for l in &limits {
        if !seen.insert(l.name.as_str()) {
            problems.push(cx.problem(
                "",
                format!("the limit name `{}` is used twice on this route", l.name),
            ));
        }
    }
    if limits.is_empty() && problems.is_empty() {
        problems.push(cx.problem("", "name at least one limit in `limits` or `use`"));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Arc::new(RateLimitPolicy {
        limits,
        headers: spec.headers,
    }))
}

#[derive(Debug)]
struct RateLimitPolicy {
    limits: Vec<Arc<Limit>>,
    headers: HeaderStyle,
}

/// What a policy's request hook leaves for its response hook; a stack, so
/// several `rate_limit` policies on one route each find their own.
#[derive(Debug, Clone, Default)]
struct Pending(Vec<(Vec<Outcome>, Vec<String>)>);

/// How the request hook ended.
enum Verdict {
    Pass,
    /// A limit is exhausted (or the key is missing with `deny`).
    Limited(Option<u64>),
    /// The store failed for a limit with `on_store_error: deny`.
    Unavailable,
}

impl RateLimitPolicy {
    async fn evaluate(
        &self,
        headers: &http::HeaderMap,
        cx: &Cx<'_>,
        outcomes: &mut Vec<Outcome>,
        errors: &mut Vec<String>,
    ) -> Verdict {
        let now = cx.env.clock.now_ms();
        let no_groups = Vec::new();
        let groups = cx
            .extensions
            .get::<Identity>()
            .map_or(&no_groups, |i| &i.groups);
        for limit in &self.limits {
            let (rate, tag) = limit.rate_for(groups);
            let Some(rate) = rate else { continue };
            let store_key = match key::resolve(
                &limit.name,
                tag,
                &limit.key,
                limit.missing,
                limit.ipv6_prefix,
                headers,
                cx,
            ) {
                Resolved::Key(k) => k,
                Resolved::Skip => continue,
                Resolved::Deny => return Verdict::Limited(None),
            };
            let Some((step, window_s)) = rate.step(now) else {
                continue;
            };
            let store = if limit.exact {
                &cx.env.counters
            } else {
                &cx.env.store
            };
            match store.rate_limit(&store_key, &step, now).await {
                Ok(decision) => {
                    outcomes.push(Outcome {
                        name: limit.name.clone(),
                        decision,
                        window_s,
                    });
                    // Later limits are not charged for a refused request.
                    if !decision.allowed {
                        return Verdict::Limited(decision.retry_after_s);
                    }
                }
                Err(_) => {
                    STORE_ERRORS.fetch_add(1, Ordering::Relaxed);
                    errors.push(limit.name.clone());
                    if limit.fail_closed {
                        return Verdict::Unavailable;
                    }
                }
            }
        }
        Verdict::Pass
    }
}

fn report(resp: &mut Response<Body>, errors: Vec<String>, fail_closed: bool) {
    if errors.is_empty() {
        return;
    }
    match resp.extensions_mut().get_mut::<RateLimitReport>() {
        Some(r) => {
            r.store_errors.extend(errors);
            r.fail_closed |= fail_closed;
        }
        None => {
            resp.extensions_mut().insert(RateLimitReport {
                store_errors: errors,
                fail_closed,
            });
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Policy for RateLimitPolicy {
    fn name(&self) -> &'static str {
        "rate_limit"
    }

    fn exact_counter_paths(&self) -> Vec<String> {
        self.limits
            .iter()
            .filter(|l| l.exact)
            .map(|l| l.path.clone())
            .collect()
    }

    async fn on_request(
        &self,
        req: &mut Request<Body>,
        cx: &mut Cx<'_>,
    ) -> Result<Flow, GatewayError> {
        let mut outcomes = Vec::new();
        let mut errors = Vec::new();
        let verdict = self
            .evaluate(req.headers(), cx, &mut outcomes, &mut errors)
            .await;
        let mut resp = match verdict {
            Verdict::Pass => {
                let mut pending = cx.extensions.remove::<Pending>().unwrap_or_default();
                pending.0.push((outcomes, errors));
                cx.extensions.insert(pending);
                return Ok(Flow::Continue);
            }
            Verdict::Limited(retry) => {
                let mut r = Rejection::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Too many requests",
                )
                .with_detail("A rate limit is exhausted; retry later.");
                if let Some(s) = retry {
                    r = r.with_header(RETRY_AFTER, s.into());
                }
                GatewayError::from(r).into_response()
            }
            Verdict::Unavailable => GatewayError::from(
                Rejection::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "rate-limit-unavailable",
                    "Rate limiting unavailable",
                )
                .with_detail("The request could not be checked against its rate limits."),
            )
            .into_response(),
        };
        let closed = matches!(verdict, Verdict::Unavailable);
        headers::write(self.headers, &outcomes, resp.headers_mut());
        report(&mut resp, errors, closed);
        Ok(Flow::Respond(resp))
    }

    async fn on_response(
        &self,
        resp: &mut Response<Body>,
        cx: &mut Cx<'_>,
    ) -> Result<(), GatewayError> {
        let Some((outcomes, errors)) = cx.extensions.get_mut::<Pending>().and_then(|p| p.0.pop())
        else {
            return Ok(());
        };
        headers::write(self.headers, &outcomes, resp.headers_mut());
        report(resp, errors, false);
        Ok(())
    }
}
