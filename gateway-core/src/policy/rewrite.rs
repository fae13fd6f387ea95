//! `rewrite`: change the path sent upstream, by template or prefix.

use std::sync::Arc;

use http::{Request, Uri};
use schemars::JsonSchema;
use serde::Deserialize;

use super::registry::{BuildCx, PolicyFactory};
use super::template::Template;
use super::{Cx, Flow, Policy};
use crate::body::Body;
use crate::config::ConfigProblem;
use crate::error::{GatewayError, RequestError};

/// Settings of the `rewrite` policy; give `path`, or `strip_prefix` and/or `add_prefix`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RewriteSpec {
    /// New path as a template with the route's parameters, e.g. `/v2/users/{id}`.
    pub path: Option<String>,
    /// Remove this prefix from the path (only at a segment boundary).
    pub strip_prefix: Option<String>,
    /// Put this prefix before the path.
    pub add_prefix: Option<String>,
}

#[derive(Debug)]
enum Rewrite {
    Template(Template),
    Prefix {
        strip: Option<String>,
        add: Option<String>,
    },
}

#[derive(Debug)]
struct RewritePolicy(Rewrite);

impl RewritePolicy {
    fn new_path(&self, path: &str, req: &Request<Body>, cx: &Cx<'_>) -> String {
        match &self.0 {
            Rewrite::Template(t) => t.render(cx, req.headers()),
            Rewrite::Prefix { strip, add } => {
                let mut p = path;
                if let Some(s) = strip
                    && let Some(rest) = p.strip_prefix(s.as_str())
                    && (rest.is_empty() || rest.starts_with('/'))
                {
                    p = rest;
                }
                let mut out = String::with_capacity(p.len() + 16);
                if let Some(a) = add {
                    out.push_str(a);
                }
                out.push_str(p);
                out
            }
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Policy for RewritePolicy {
    fn name(&self) -> &'static str {
        "rewrite"
    }

    async fn on_request(
        &self,
        req: &mut Request<Body>,
        cx: &mut Cx<'_>,
    ) -> Result<Flow, GatewayError> {
        let mut path = self.new_path(req.uri().path(), req, cx);
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        // Re-normalise: captured values must not smuggle dot segments in.
        let path = crate::normalize::normalize_path(
            &path,
            &crate::normalize::PathConfig {
                semicolons: crate::normalize::Semicolons::Allow,
                encoded_slash: crate::normalize::EncodedSlash::Keep,
                max_len: usize::MAX,
            },
        )?;
        let pq = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path.into_owned(),
        };
        let mut parts = req.uri().clone().into_parts();
        parts.path_and_query = Some(
            pq.parse()
                .map_err(|_| RequestError::BadPath("rewritten path is invalid"))?,
        );
        *req.uri_mut() = Uri::from_parts(parts)
            .map_err(|_| RequestError::BadPath("rewritten path is invalid"))?;
        Ok(Flow::Continue)
    }
}

fn build(value: &serde_json::Value, cx: &BuildCx) -> Result<Arc<dyn Policy>, Vec<ConfigProblem>> {
    let spec: RewriteSpec = cx.settings(value)?;
    let check_prefix = |field: &str, p: &Option<String>| -> Option<ConfigProblem> {
        match p {
            Some(p) if !p.starts_with('/') || p.len() > 1 && p.ends_with('/') => {
                Some(cx.problem(field, "a prefix starts with `/` and does not end with `/`"))
            }
            _ => None,
        }
    };
    let rewrite = match (&spec.path, &spec.strip_prefix, &spec.add_prefix) {
        (Some(p), None, None) => {
            if !p.starts_with('/') {
                return Err(vec![cx.problem("path", "the path must start with `/`")]);
            }
            Rewrite::Template(
                Template::parse(p, &cx.params).map_err(|e| vec![cx.problem("path", e)])?,
            )
        }
        (None, None, None) => {
            return Err(vec![
                cx.problem("", "give `path`, or `strip_prefix` and/or `add_prefix`"),
            ]);
        }
        (Some(_), _, _) => {
            return Err(vec![cx.problem(
                "path",
                "`path` cannot be combined with `strip_prefix` or `add_prefix`",
            )]);
        }
        (None, strip, add) => {
            let problems: Vec<_> = [
                check_prefix("strip_prefix", strip),
                check_prefix("add_prefix", add),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !problems.is_empty() {
                return Err(problems);
            }
            Rewrite::Prefix {
                strip: strip.clone(),
                add: add.clone(),
            }
        }
    };
    Ok(Arc::new(RewritePolicy(rewrite)))
}

pub(super) const FACTORY: PolicyFactory = PolicyFactory {
    kind: "rewrite",
    build,
    schema: |g| g.subschema_for::<RewriteSpec>(),
};
