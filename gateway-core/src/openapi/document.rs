//! Builds the OpenAPI 3.1 document from the config: one path item per
//! route pattern (one per served version for path versions), one operation
//! per method, with what each route's settings and policies mean for
//! clients.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Map, Value, json};

use super::config::DocsConfig;
use super::fragment::{self, ImportedOperation};
use super::operation::OperationNotes;
use super::paths;
use super::policies::describe_policy;
use super::problems;
use super::versions;
use crate::config::spec::{GatewaySpec, RouteSpec};

/// Methods documented for a route that accepts any method.
pub const ANY_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The methods a route's operations are documented for.
pub(crate) fn methods(r: &RouteSpec) -> Vec<String> {
    if !r.methods.is_empty() {
        r.methods.iter().map(|m| m.to_ascii_uppercase()).collect()
    } else if r.aggregate.is_some() {
        vec!["GET".to_owned()]
    } else {
        ANY_METHODS.iter().map(|m| (*m).to_owned()).collect()
    }
}

/// The tag grouping a route's operations: its upstream, or `aggregate`.
fn tag(r: &RouteSpec) -> String {
    r.upstream.clone().unwrap_or_else(|| "aggregate".to_owned())
}

/// Everything known about one method of a route, before any policy.
fn route_notes(spec: &GatewaySpec, r: &RouteSpec, method: &str) -> OperationNotes {
    let mut notes = OperationNotes::new(method);
    notes.errors.insert(400);
    if !r.methods.is_empty() {
        notes.errors.insert(405);
    }
    if matches!(method, "POST" | "PUT" | "PATCH") {
        notes.errors.insert(413);
    }
    let mock = r
        .upstream
        .as_ref()
        .and_then(|u| spec.upstreams.get(u))
        .is_some_and(|u| u.mock.is_some());
    if !mock {
        notes.errors.extend([502, 503, 504]);
    }
    if !r.hosts.is_empty() {
        notes.notes.push(format!(
            "Served only for the hosts: {}.",
            r.hosts
                .iter()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for (name, value) in &r.headers {
        notes.add_parameter(json!({
            "name": name,
            "in": "header",
            "required": true,
            "description": "The route serves only requests with this header value.",
            "schema": { "type": "string", "const": value },
        }));
    }
    if let Some(agg) = &r.aggregate {
        let names: Vec<String> = agg
            .backends
            .iter()
            .map(|b| format!("`{}`", b.name))
            .collect();
        notes.notes.push(format!(
            "Answered by merging the JSON responses of: {}.",
            names.join(", ")
        ));
    }
    if let Some(v) = &r.versioning {
        versions::describe(v, &mut notes);
    }
    for policy in &r.policies {
        for (kind, settings) in policy {
            describe_policy(kind, settings, &mut notes);
        }
    }
    notes
}

/// The document being assembled.
#[derive(Default)]
struct Doc {
    paths: Map<String, Value>,
    components: Map<String, Value>,
    errors: BTreeSet<u16>,
    schemes: BTreeMap<String, Value>,
    tags: BTreeSet<String>,
    operation_ids: HashSet<String>,
}

impl Doc {
    fn unique_id(&mut self, id: String) -> String {
        let mut candidate = id.clone();
        let mut n = 2;
        while !self.operation_ids.insert(candidate.clone()) {
            candidate = format!("{id}-{n}");
            n += 1;
        }
        candidate
    }

    /// Puts `op` at `path`/`method`; a second route with the same path and
    /// method (other hosts or headers) is noted on the first one.
    fn insert(&mut self, path: &str, method: &str, op: Value, route: &str) {
        let item = self
            .paths
            .entry(path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        let key = method.to_ascii_lowercase();
        match item.get_mut(&key) {
            Some(existing) => {
                let before = existing["description"].as_str().unwrap_or("").to_owned();
                let extra = format!(
                    "Route `{route}` also serves this path and method (for other hosts or headers)."
                );
                existing["description"] = json!(if before.is_empty() {
                    extra
                } else {
                    format!("{before}\n\n{extra}")
                });
            }
            None => {
                item[key] = op;
            }
        }
    }

    fn absorb(&mut self, notes: &OperationNotes, tag: &str) {
        self.errors.extend(notes.errors.iter().copied());
        self.schemes.extend(
            notes
                .security_schemes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        self.tags.insert(tag.to_owned());
    }
}

fn responses(notes: &OperationNotes) -> Map<String, Value> {
    let mut ok = json!({ "description": "The upstream's response." });
    if let Some(c) = &notes.success_content {
        ok["content"] = c.clone();
    }
    let mut out = Map::new();
    out.insert("2XX".to_owned(), ok);
    for &e in &notes.errors {
        out.insert(e.to_string(), problems::response_ref(e));
    }
    out
}

/// A generic operation from the notes.
fn operation(id: String, route: &str, tag: &str, notes: &OperationNotes, path: &[Value]) -> Value {
    let mut op = json!({
        "operationId": id,
        "summary": route,
        "tags": [tag],
        "responses": responses(notes),
    });
    let mut params: Vec<Value> = path.to_vec();
    params.extend(notes.parameters.iter().cloned());
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    if !notes.notes.is_empty() {
        op["description"] = json!(notes.notes.join("\n\n"));
    }
    if let Some(b) = &notes.request_body {
        op["requestBody"] = b.clone();
    }
    if !notes.security.is_empty() {
        op["security"] = Value::Array(notes.security.clone());
    }
    if notes.deprecated {
        op["deprecated"] = json!(true);
    }
    op
}

/// An operation of an upstream document, completed with what the gateway
/// adds (credentials, header matches, versions, error responses).
fn merged(mut imported: ImportedOperation, id: String, tag: &str, notes: &OperationNotes) -> Value {
    let op = &mut imported.operation;
    op["operationId"] = json!(id);
    if op.get("tags").is_none() {
        op["tags"] = json!([tag]);
    }
    let mut params: Vec<Value> = op["parameters"].as_array().cloned().unwrap_or_default();
    for p in &notes.parameters {
        if !params
            .iter()
            .any(|q| q.get("name") == p.get("name") && q.get("in") == p.get("in"))
        {
            params.push(p.clone());
        }
    }
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    if !notes.security.is_empty() {
        op["security"] = Value::Array(notes.security.clone());
    }
    if !notes.notes.is_empty() {
        let mut d = op["description"].as_str().unwrap_or("").to_owned();
        if !d.is_empty() {
            d.push_str("\n\n");
        }
        d.push_str(&notes.notes.join("\n\n"));
        op["description"] = json!(d);
    }
    if notes.deprecated {
        op["deprecated"] = json!(true);
    }
    if !op["responses"].is_object() {
        op["responses"] = json!({});
    }
    for &e in &notes.errors {
        let key = e.to_string();
        if op["responses"].get(&key).is_none() {
            op["responses"][key] = problems::response_ref(e);
        }
    }
    imported.operation
}

/// Whether a route with `pattern` receives requests for `path` (an
/// OpenAPI path, whose `{param}` segments match the route's parameters).
fn route_takes(pattern: &str, path: &str) -> bool {
    let mut router = matchit::Router::new();
    router.insert(pattern, ()).is_ok() && router.at(path).is_ok()
}

/// One route's operations.
fn add_route(doc: &mut Doc, spec: &GatewaySpec, r: &RouteSpec, name: &str) {
    let (path, params) = paths::convert(&r.path);
    let tag = tag(r);
    let version_param = r.versioning.as_ref().and_then(versions::path_param);
    let served = r
        .versioning
        .as_ref()
        .map(versions::served)
        .unwrap_or_default();
    let methods = methods(r);
    let single = methods.len() == 1;
    let mut imported: Option<Vec<ImportedOperation>> = None;
    for method in &methods {
        let notes = route_notes(spec, r, method);
        doc.absorb(&notes, &tag);
        if let Some(f) = &notes.fragment {
            let ops = imported
                .get_or_insert_with(|| fragment::import(f, name, &mut doc.components))
                .clone();
            for op in ops
                .into_iter()
                .filter(|o| o.method.eq_ignore_ascii_case(method) && route_takes(&r.path, &o.path))
            {
                let id = match op.operation["operationId"].as_str() {
                    Some(own) if !doc.operation_ids.contains(own) => own.to_owned(),
                    Some(own) => format!("{name}.{own}"),
                    None => format!("{name}-{}", method.to_ascii_lowercase()),
                };
                let id = doc.unique_id(id);
                let at = op.path.clone();
                let value = merged(op, id, &tag, &notes);
                doc.insert(&at, method, value, name);
            }
            continue;
        }
        let base_id = if single {
            name.to_owned()
        } else {
            format!("{name}-{}", method.to_ascii_lowercase())
        };
        match &version_param {
            Some(param) => {
                let others: Vec<Value> = params
                    .iter()
                    .filter(|p| &p.name != param)
                    .map(paths::parameter)
                    .collect();
                for v in &served {
                    let mut n = notes.clone();
                    n.deprecated = v.deprecated;
                    n.notes.extend(v.note.clone());
                    let at = path.replace(&format!("{{{param}}}"), &v.name);
                    let id = doc.unique_id(format!("{base_id}-{}", v.name));
                    let op = operation(id, name, &tag, &n, &others);
                    doc.insert(&at, method, op, name);
                }
            }
            None => {
                let path_params: Vec<Value> = params.iter().map(paths::parameter).collect();
                let id = doc.unique_id(base_id);
                let op = operation(id, name, &tag, &notes, &path_params);
                doc.insert(&path, method, op, name);
            }
        }
    }
}

/// The OpenAPI 3.1 document for `spec`, whose routes are named `names`
/// (in config order).
pub(crate) fn build(spec: &GatewaySpec, names: &[String], docs: &DocsConfig) -> Value {
    let mut doc = Doc::default();
    for (r, name) in spec.routes.iter().zip(names) {
        add_route(&mut doc, spec, r, name);
    }
    problems::add_components(&doc.errors, &mut doc.components);
    if !doc.schemes.is_empty() {
        doc.components.insert(
            "securitySchemes".to_owned(),
            Value::Object(doc.schemes.into_iter().collect()),
        );
    }
    let mut info = json!({ "title": docs.title, "version": docs.version });
    if let Some(d) = &docs.description {
        info["description"] = json!(d);
    }
    let mut out = json!({
        "openapi": "3.1.0",
        "info": info,
        "paths": doc.paths,
    });
    if !docs.servers.is_empty() {
        out["servers"] = docs
            .servers
            .iter()
            .map(|s| {
                let mut v = json!({ "url": s.url });
                if let Some(d) = &s.description {
                    v["description"] = json!(d);
                }
                v
            })
            .collect();
    }
    if !doc.components.is_empty() {
        out["components"] = Value::Object(doc.components);
    }
    out["tags"] = doc
        .tags
        .iter()
        .map(|t| {
            let what = if t == "aggregate" {
                "Routes that merge several backends' answers.".to_owned()
            } else {
                format!("Routes served by the upstream `{t}`.")
            };
            json!({ "name": t, "description": what })
        })
        .collect();
    out
}
