//! `validate`: checks requests (and optionally responses) against JSON
//! Schemas or an OpenAPI document; see [`crate::validate`].

use std::collections::HashMap;
use std::sync::Arc;

use http::{Request, Response};
use serde_json::Value;

use super::registry::{BuildCx, PolicyFactory};
use super::{Cx, Flow, Policy};
use crate::body::Body;
use crate::config::ConfigProblem;
use crate::error::GatewayError;
use crate::validate::config::{DEFAULT_MAX_DEPTH, FILE_KEYS, MAX_MAX_DEPTH};
use crate::validate::openapi::{Lookup, OpenApi, Operation};
use crate::validate::params::Coerce;
use crate::validate::rules::{BodyRule, ObjectParams, RequestRules, RequestView, ResponseRules};
use crate::validate::schema::CompiledSchema;
use crate::validate::{ResponseMode, ResponseValidationReport, ValidateSpec, ValidationFailure};

#[derive(Debug)]
enum Contract {
    Schemas {
        request: RequestRules,
        responses: ResponseRules,
    },
    OpenApi {
        doc: OpenApi,
        strip_prefix: Option<String>,
    },
}

#[derive(Debug)]
struct Validate {
    contract: Contract,
    max_depth: usize,
    response: Option<ResponseMode>,
}

/// The operation each `validate` policy of a route matched, for its response hook.
#[derive(Default, Clone)]
struct Matched(Vec<(usize, Arc<Operation>)>);

impl Validate {
    fn id(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Policy for Validate {
    fn name(&self) -> &'static str {
        "validate"
    }

    fn needs_request_body(&self) -> bool {
        match &self.contract {
            Contract::Schemas { request, .. } => request.needs_body(),
            Contract::OpenApi { doc, .. } => doc.any_body(),
        }
    }

    fn needs_response_body(&self) -> bool {
        self.response.is_some()
    }

    async fn on_request(
        &self,
        req: &mut Request<Body>,
        cx: &mut Cx<'_>,
    ) -> Result<Flow, GatewayError> {
        let body = req.body().as_bytes().unwrap_or_default();
        let (rules, path_params) = match &self.contract {
            Contract::Schemas { request, .. } => (request, Vec::new()),
            Contract::OpenApi { doc, strip_prefix } => {
                let path = req.uri().path();
                let path = match strip_prefix {
                    Some(p) => match path.strip_prefix(p.as_str()) {
                        Some("") => "/",
                        Some(rest) if rest.starts_with('/') => rest,
                        _ => return Err(ValidationFailure::not_described(false).into()),
                    },
                    None => path,
                };
                match doc.lookup(req.method(), path) {
                    Lookup::Found(op, params) => {
                        if self.response.is_some() {
                            let mut m = cx.extensions.get::<Matched>().cloned().unwrap_or_default();
                            m.0.push((self.id(), op.clone()));
                            cx.extensions.insert(m);
                        }
                        // The operation lives as long as the config; the
                        // borrow below ends with this call.
                        let view = RequestView {
                            path_params: &params,
                            query: req.uri().query(),
                            headers: req.headers(),
                            body,
                        };
                        op.request.check(&view, self.max_depth)?;
                        return Ok(Flow::Continue);
                    }
                    Lookup::NoPath => return Err(ValidationFailure::not_described(false).into()),
                    Lookup::NoMethod => return Err(ValidationFailure::not_described(true).into()),
                }
            }
        };
        let view = RequestView {
            path_params: &path_params,
            query: req.uri().query(),
            headers: req.headers(),
            body,
        };
        rules.check(&view, self.max_depth)?;
        Ok(Flow::Continue)
    }

    async fn on_response(
        &self,
        resp: &mut Response<Body>,
        cx: &mut Cx<'_>,
    ) -> Result<(), GatewayError> {
        let Some(mode) = self.response else {
            return Ok(());
        };
        let op;
        let rules = match &self.contract {
            Contract::Schemas { responses, .. } => responses,
            Contract::OpenApi { .. } => {
                let found = cx.extensions.get::<Matched>().and_then(|m| {
                    m.0.iter()
                        .find(|(id, _)| *id == self.id())
                        .map(|(_, op)| op.clone())
                });
                let Some(found) = found else { return Ok(()) };
                op = found;
                &op.responses
            }
        };
        let body = resp.body().as_bytes().unwrap_or_default();
        let errors = rules.check(resp.status(), resp.headers(), body, self.max_depth);
        if errors.is_empty() {
            return Ok(());
        }
        let enforced = mode == ResponseMode::Enforce;
        let report = ResponseValidationReport { errors, enforced };
        if enforced {
            *resp = GatewayError::from(ValidationFailure::bad_upstream_response()).into_response();
        } else {
            cx.extensions.insert(report.clone());
        }
        resp.extensions_mut().insert(report);
        Ok(())
    }
}

fn compile(
    cx: &BuildCx,
    field: &str,
    v: &Value,
    problems: &mut Vec<ConfigProblem>,
) -> Option<CompiledSchema> {
    CompiledSchema::compile(v)
        .map_err(|e| problems.push(cx.problem(field, e)))
        .ok()
}

fn object_params(
    cx: &BuildCx,
    field: &str,
    v: &Value,
    lowercase: bool,
    problems: &mut Vec<ConfigProblem>,
) -> Option<ObjectParams> {
    let schema = compile(cx, field, v, problems)?;
    let mut coerce = HashMap::new();
    for (k, s) in v
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let name = if lowercase {
            k.to_ascii_lowercase()
        } else {
            k.clone()
        };
        coerce.insert(name, Coerce::for_schema(s, &Value::clone));
    }
    Some(ObjectParams { schema, coerce })
}

fn build(value: &Value, cx: &BuildCx) -> Result<Arc<dyn Policy>, Vec<ConfigProblem>> {
    let spec: ValidateSpec = cx.settings(value)?;
    let mut problems = Vec::new();
    for (file_key, inline_key) in FILE_KEYS {
        if value.get(file_key).is_some() {
            problems.push(cx.problem(
                file_key,
                format!(
                    "files are read only by the self-hosted gateway's loader; this config was loaded without a file system: put the document inline as `{inline_key}`"
                ),
            ));
        }
    }
    let max_depth = spec.max_depth.unwrap_or(DEFAULT_MAX_DEPTH);
    if !(1..=MAX_MAX_DEPTH).contains(&max_depth) {
        problems.push(cx.problem(
            "max_depth",
            format!("must be between 1 and {MAX_MAX_DEPTH}"),
        ));
    }
    let schemas_given = spec.body.is_some()
        || spec.query.is_some()
        || spec.headers.is_some()
        || spec.response_body.is_some();
    let contract = match (&spec.openapi, schemas_given) {
        (Some(_), true) => {
            problems.push(cx.problem("openapi", "give `openapi` or JSON Schemas (`body`, `query`, `headers`, `response_body`), not both"));
            None
        }
        (Some(doc), false) => match OpenApi::build(doc) {
            Ok(doc) => {
                if let Some(p) = &spec.strip_prefix
                    && (!p.starts_with('/') || p.ends_with('/'))
                {
                    problems.push(cx.problem(
                        "strip_prefix",
                        "a prefix starts with `/` and does not end with `/`",
                    ));
                }
                Some(Contract::OpenApi {
                    doc,
                    strip_prefix: spec.strip_prefix.clone(),
                })
            }
            Err(ps) => {
                problems.extend(ps.into_iter().map(|p| cx.problem("openapi", p)));
                None
            }
        },
        (None, false) if problems.is_empty() => {
            problems.push(cx.problem(
                "",
                "give `openapi`, or at least one of `body`, `query`, `headers`, `response_body`",
            ));
            None
        }
        (None, _) => {
            let mut request = RequestRules::default();
            if let Some(b) = &spec.body {
                let schema = compile(cx, "body", b, &mut problems);
                let types = spec
                    .content_types
                    .clone()
                    .unwrap_or_else(|| vec!["application/json".to_owned()]);
                request.body = Some(BodyRule {
                    required: spec.body_required.unwrap_or(true),
                    content: types.into_iter().map(|t| (t, None)).collect(),
                });
                if let (Some(rule), Some(schema)) = (&mut request.body, schema) {
                    // One schema for every accepted JSON media type.
                    let first_json = rule.content.iter().position(|(t, _)| {
                        crate::validate::params::is_json(&crate::validate::params::essence(t))
                    });
                    match first_json {
                        Some(i) => rule.content[i].1 = Some(schema),
                        None => problems.push(cx.problem(
                            "content_types",
                            "a body schema needs a JSON media type among `content_types`",
                        )),
                    }
                }
            }
            if let Some(q) = &spec.query {
                request.query = object_params(cx, "query", q, false, &mut problems);
            }
            if let Some(h) = &spec.headers {
                request.headers = object_params(cx, "headers", h, true, &mut problems);
            }
            let mut responses = ResponseRules::default();
            if let Some(r) = &spec.response_body
                && let Some(s) = compile(cx, "response_body", r, &mut problems)
            {
                responses.by_status.push((
                    "2XX".to_owned(),
                    vec![("application/json".to_owned(), Some(s))],
                ));
            }
            Some(Contract::Schemas { request, responses })
        }
    };
    if spec.response.is_some()
        && matches!(&contract, Some(Contract::Schemas { responses, .. }) if responses.is_empty())
    {
        problems.push(cx.problem(
            "response",
            "response checks need `response_body` or `openapi`",
        ));
    }
    match contract {
        Some(contract) if problems.is_empty() => Ok(Arc::new(Validate {
            contract,
            max_depth,
            response: spec.response,
        })),
        _ => Err(problems),
    }
}

pub(super) const FACTORY: PolicyFactory = PolicyFactory {
    kind: "validate",
    build,
    schema: |g| g.subschema_for::<ValidateSpec>(),
};
