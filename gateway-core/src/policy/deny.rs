//! `deny`: refuse requests that match all given conditions (methods, client
//! networks, headers, path prefixes). With no condition, every request is refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{HeaderName, Method, Request, StatusCode};
use ipnet::IpNet;
use schemars::JsonSchema;
use serde::Deserialize;

use super::registry::{BuildCx, PolicyFactory};
use super::{Cx, Flow, Policy};
use crate::body::Body;
use crate::config::ConfigProblem;
use crate::error::{GatewayError, Rejection};
use crate::proxy::parse_net;

/// Settings of the `deny` policy.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DenySpec {
    /// Refuse only these methods.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Refuse only clients in these networks (IP or CIDR).
    #[serde(default)]
    pub ips: Vec<String>,
    /// Refuse only clients outside these networks (IP or CIDR): an allow list.
    #[serde(default)]
    pub except_ips: Vec<String>,
    /// Refuse only requests with these headers; `"*"` means any value.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Refuse only paths under these prefixes (segment boundary).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Status to answer with (4xx). Default 403.
    pub status: Option<u16>,
}

#[derive(Debug)]
struct Deny {
    methods: Vec<Method>,
    nets: Vec<IpNet>,
    except: Vec<IpNet>,
    headers: Vec<(HeaderName, Option<String>)>,
    paths: Vec<String>,
    status: StatusCode,
}

impl Deny {
    fn matches(&self, req: &Request<Body>, cx: &Cx<'_>) -> bool {
        (self.methods.is_empty() || self.methods.contains(req.method()))
            && (self.nets.is_empty() || self.nets.iter().any(|n| n.contains(&cx.client_ip)))
            && !self.except.iter().any(|n| n.contains(&cx.client_ip))
            && self
                .headers
                .iter()
                .all(|(h, want)| match (req.headers().get(h), want) {
                    (Some(_), None) => true,
                    (Some(v), Some(w)) => v.as_bytes() == w.as_bytes(),
                    (None, _) => false,
                })
            && (self.paths.is_empty()
                || self.paths.iter().any(|p| {
                    req.uri()
                        .path()
                        .strip_prefix(p.as_str())
                        .is_some_and(|rest| {
                            rest.is_empty() || rest.starts_with('/') || p.ends_with('/')
                        })
                }))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Policy for Deny {
    fn name(&self) -> &'static str {
        "deny"
    }

    async fn on_request(
        &self,
        req: &mut Request<Body>,
        cx: &mut Cx<'_>,
    ) -> Result<Flow, GatewayError> {
        if self.matches(req, cx) {
            return Err(Rejection::new(self.status, "access-denied", "Access denied").into());
        }
        Ok(Flow::Continue)
    }
}

fn build(value: &serde_json::Value, cx: &BuildCx) -> Result<Arc<dyn Policy>, Vec<ConfigProblem>> {
    let spec: DenySpec = cx.settings(value)?;
    let mut problems = Vec::new();
    let methods = spec
        .methods
        .iter()
        .enumerate()
        .filter_map(
            |(i, m)| match Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
                Ok(m) => Some(m),
                Err(_) => {
                    problems.push(
                        cx.problem(&format!("methods[{i}]"), format!("`{m}` is not a method")),
                    );
                    None
                }
            },
        )
        .collect();
    let mut nets_of = |field: &str, list: &[String]| -> Vec<IpNet> {
        list.iter()
            .enumerate()
            .filter_map(|(i, s)| match parse_net(s) {
                Ok(n) => Some(n),
                Err(e) => {
                    problems.push(cx.problem(&format!("{field}[{i}]"), e));
                    None
                }
            })
            .collect()
    };
    let nets = nets_of("ips", &spec.ips);
    let except = nets_of("except_ips", &spec.except_ips);
    let headers = spec
        .headers
        .iter()
        .filter_map(|(k, v)| match HeaderName::from_bytes(k.as_bytes()) {
            Ok(h) => Some((h, (v != "*").then(|| v.clone()))),
            Err(_) => {
                problems.push(cx.problem(&format!("headers.{k}"), "not a valid header name"));
                None
            }
        })
        .collect();
    for (i, p) in spec.paths.iter().enumerate() {
        if !p.starts_with('/') {
            problems.push(cx.problem(&format!("paths[{i}]"), "a path prefix starts with `/`"));
        }
    }
    let status = match spec.status.map(StatusCode::from_u16) {
        None => StatusCode::FORBIDDEN,
        Some(Ok(s)) if s.is_client_error() => s,
        Some(_) => {
            problems.push(cx.problem("status", "must be a 4xx status"));
            StatusCode::FORBIDDEN
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Arc::new(Deny {
        methods,
        nets,
        except,
        headers,
        paths: spec.paths,
        status,
    }))
}

pub(super) const FACTORY: PolicyFactory = PolicyFactory {
    kind: "deny",
    build,
    schema: |g| g.subschema_for::<DenySpec>(),
};
