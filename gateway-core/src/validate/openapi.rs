//! OpenAPI 3.0 and 3.1 documents compiled into per-operation rules. The
//! operation is found by method and path template (matched against the
//! request path, after an optional prefix is stripped); `$ref`s resolve
//! within the document only.

use std::sync::Arc;

use http::Method;
use jsonschema::Draft;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::Value;

use super::error::pointer_push;
use super::params::Coerce;
use super::rules::{BodyRule, Location, Param, RequestRules, ResponseRules};
use super::schema::CompiledSchema;

/// One compiled operation.
#[derive(Debug)]
pub struct Operation {
    /// What it accepts.
    pub request: RequestRules,
    /// What it may answer.
    pub responses: ResponseRules,
}

/// A compiled OpenAPI document.
#[derive(Debug)]
pub struct OpenApi {
    router: matchit::Router<usize>,
    items: Vec<Vec<(Method, Arc<Operation>)>>,
}

/// The operation a request resolves to.
#[derive(Debug)]
pub enum Lookup {
    /// Found, with its decoded path parameters.
    Found(Arc<Operation>, Vec<(String, String)>),
    /// No path template matches.
    NoPath,
    /// The path matches but the method is not described.
    NoMethod,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Characters escaped in a `$ref` fragment.
const FRAGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

struct Doc {
    root: Value,
    draft: Draft,
}

impl Doc {
    /// Follows local `$ref`s from `value` at `ptr`.
    fn resolve<'a>(
        &'a self,
        mut value: &'a Value,
        mut ptr: String,
    ) -> Result<(String, &'a Value), String> {
        for _ in 0..32 {
            let Some(r) = value.get("$ref").and_then(Value::as_str) else {
                return Ok((ptr, value));
            };
            let Some(fragment) = r.strip_prefix('#') else {
                return Err(format!(
                    "{ptr}: only references within the document are supported (`{r}`)"
                ));
            };
            let decoded = percent_encoding::percent_decode_str(fragment).decode_utf8_lossy();
            value = self
                .root
                .pointer(&decoded)
                .ok_or_else(|| format!("{ptr}: unresolved reference `{r}`"))?;
            ptr = decoded.into_owned();
        }
        Err(format!("{ptr}: reference chain too long"))
    }

    /// A copy of `value` with local references followed (for reading types).
    fn resolved(&self, value: &Value) -> Value {
        self.resolve(value, String::new())
            .map_or(Value::Null, |(_, v)| v.clone())
    }

    /// Compiles the schema at `ptr` with the whole document as its root,
    /// so `$ref`s inside it resolve.
    fn schema(&self, ptr: &str) -> Result<CompiledSchema, String> {
        let mut root = self.root.clone();
        if let Some(obj) = root.as_object_mut() {
            let fragment = utf8_percent_encode(ptr, FRAGMENT).to_string();
            obj.insert("$ref".to_owned(), Value::String(format!("#{fragment}")));
        }
        CompiledSchema::compile_with(&root, Some(self.draft)).map_err(|e| format!("{ptr}: {e}"))
    }
}

impl OpenApi {
    /// Compiles a document; problems name the JSON pointer they are at.
    pub fn build(doc: &Value) -> Result<Self, Vec<String>> {
        let version = doc
            .get("openapi")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let draft = if version.starts_with("3.0") {
            Draft::Draft4
        } else if version.starts_with("3.1") {
            Draft::Draft202012
        } else {
            return Err(vec![
                "`openapi` must be a 3.0.x or 3.1.x version".to_owned(),
            ]);
        };
        let mut root = doc.clone();
        if draft == Draft::Draft4 {
            nullable_to_type(&mut root);
        }
        let doc = Doc { root, draft };
        let mut problems = Vec::new();
        let mut router = matchit::Router::new();
        let mut items = Vec::new();
        let Some(paths) = doc.root.get("paths").and_then(Value::as_object) else {
            return Err(vec!["the document has no `paths`".to_owned()]);
        };
        for (template, item) in paths {
            let mut at = "/paths".to_owned();
            pointer_push(&mut at, template);
            let ops = match doc.resolve(item, at.clone()) {
                Ok((at, item)) => path_item(&doc, &at, item, &mut problems),
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            if let Err(e) = router.insert(template.as_str(), items.len()) {
                problems.push(format!("{at}: path template not supported: {e}"));
            }
            items.push(ops);
        }
        if problems.is_empty() {
            Ok(Self { router, items })
        } else {
            Err(problems)
        }
    }

    /// The operation for `method` and `path`.
    pub fn lookup(&self, method: &Method, path: &str) -> Lookup {
        let Ok(m) = self.router.at(path) else {
            return Lookup::NoPath;
        };
        let ops = &self.items[*m.value];
        let op = ops.iter().find(|(k, _)| k == method).or_else(|| {
            (method == Method::HEAD)
                .then(|| ops.iter().find(|(k, _)| k == Method::GET))
                .flatten()
        });
        match op {
            Some((_, op)) => {
                let params = m
                    .params
                    .iter()
                    .map(|(k, v)| {
                        let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                        (k.to_owned(), v.into_owned())
                    })
                    .collect();
                Lookup::Found(op.clone(), params)
            }
            None => Lookup::NoMethod,
        }
    }

    /// Whether any operation has a request body to check.
    pub fn any_body(&self) -> bool {
        self.items
            .iter()
            .flatten()
            .any(|(_, op)| op.request.needs_body())
    }
}

fn path_item(
    doc: &Doc,
    at: &str,
    item: &Value,
    problems: &mut Vec<String>,
) -> Vec<(Method, Arc<Operation>)> {
    let shared = item.get("parameters");
    let mut ops = Vec::new();
    for m in METHODS {
        let Some(op) = item.get(m) else { continue };
        let op_at = format!("{at}/{m}");
        let mut request = RequestRules::default();
        let mut seen: Vec<(String, Location)> = Vec::new();
        // Operation parameters override path-item ones with the same name and place.
        for (list, list_at) in [
            (op.get("parameters"), format!("{op_at}/parameters")),
            (shared, format!("{at}/parameters")),
        ] {
            let Some(list) = list.and_then(Value::as_array) else {
                continue;
            };
            for (i, p) in list.iter().enumerate() {
                match param(doc, &format!("{list_at}/{i}"), p) {
                    Ok(Some(p)) if !seen.contains(&(p.name.clone(), p.location)) => {
                        seen.push((p.name.clone(), p.location));
                        request.params.push(p);
                    }
                    Ok(_) => {}
                    Err(e) => problems.push(e),
                }
            }
        }
        if let Some(body) = op.get("requestBody") {
            match request_body(doc, &format!("{op_at}/requestBody"), body) {
                Ok(b) => request.body = Some(b),
                Err(e) => problems.push(e),
            }
        }
        let responses = match responses(doc, &format!("{op_at}/responses"), op.get("responses")) {
            Ok(r) => r,
            Err(e) => {
                problems.push(e);
                ResponseRules::default()
            }
        };
        let method = Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap_or(Method::GET);
        ops.push((method, Arc::new(Operation { request, responses })));
    }
    ops
}

fn param(doc: &Doc, at: &str, p: &Value) -> Result<Option<Param>, String> {
    let (at, p) = doc.resolve(p, at.to_owned())?;
    let name = p
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}: a parameter needs a `name`"))?;
    let location = match p.get("in").and_then(Value::as_str) {
        Some("path") => Location::Path,
        Some("query") => Location::Query,
        Some("header") => Location::Header,
        Some("cookie") => return Ok(None),
        _ => return Err(format!("{at}: `in` must be path, query, header or cookie")),
    };
    let schema_value = p.get("schema");
    let schema = match schema_value {
        Some(_) => Some(doc.schema(&format!("{at}/schema"))?),
        None => None,
    };
    let coerce = schema_value.map_or(Coerce::String, |s| {
        Coerce::for_schema(s, &|v| doc.resolved(v))
    });
    let style = p.get("style").and_then(Value::as_str).unwrap_or("");
    let explode = p
        .get("explode")
        .and_then(Value::as_bool)
        .unwrap_or(location == Location::Query && style != "simple");
    Ok(Some(Param {
        name: if location == Location::Header {
            name.to_ascii_lowercase()
        } else {
            name.to_owned()
        },
        location,
        required: location == Location::Path
            || p.get("required").and_then(Value::as_bool).unwrap_or(false),
        coerce,
        split: location != Location::Query || !explode,
        schema,
    }))
}

fn content(
    doc: &Doc,
    at: &str,
    content: Option<&Value>,
) -> Result<Vec<(String, Option<CompiledSchema>)>, String> {
    let mut out = Vec::new();
    for (media, m) in content.and_then(Value::as_object).into_iter().flatten() {
        let mut m_at = format!("{at}/content");
        pointer_push(&mut m_at, media);
        let schema = match m.get("schema") {
            Some(_) => Some(doc.schema(&format!("{m_at}/schema"))?),
            None => None,
        };
        out.push((media.clone(), schema));
    }
    Ok(out)
}

fn request_body(doc: &Doc, at: &str, body: &Value) -> Result<BodyRule, String> {
    let (at, body) = doc.resolve(body, at.to_owned())?;
    Ok(BodyRule {
        required: body
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        content: content(doc, &at, body.get("content"))?,
    })
}

fn responses(doc: &Doc, at: &str, responses: Option<&Value>) -> Result<ResponseRules, String> {
    let mut rules = ResponseRules {
        by_status: Vec::new(),
        strict_status: true,
    };
    for (status, r) in responses.and_then(Value::as_object).into_iter().flatten() {
        let mut r_at = at.to_owned();
        pointer_push(&mut r_at, status);
        let (r_at, r) = doc.resolve(r, r_at)?;
        rules
            .by_status
            .push((status.clone(), content(doc, &r_at, r.get("content"))?));
    }
    Ok(rules)
}

/// OpenAPI 3.0's `nullable: true` as a JSON Schema type list.
fn nullable_to_type(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".to_owned(), serde_json::json!([t, "null"]));
                }
                if let Some(Value::Array(e)) = map.get_mut("enum")
                    && !e.contains(&Value::Null)
                {
                    e.push(Value::Null);
                }
            }
            map.values_mut().for_each(nullable_to_type);
        }
        Value::Array(a) => a.iter_mut().for_each(nullable_to_type),
        _ => {}
    }
}
