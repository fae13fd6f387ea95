//! What one operation accepts and answers, compiled: parameters, body
//! media types and schemas, and response schemas by status. Built from an
//! OpenAPI operation or from plain JSON Schemas.

use std::collections::HashMap;

use http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};

use super::error::{FieldError, MAX_ERRORS, ValidationFailure, pointer_push};
use super::json::parse_strict;
use super::params::{Coerce, essence, is_json, media_matches, parse_query};
use super::schema::CompiledSchema;

/// Where a parameter is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A path segment captured by the template.
    Path,
    /// A query parameter.
    Query,
    /// A request header.
    Header,
}

impl Location {
    /// The pointer root of this location (`/path`, `/query`, `/header`).
    pub fn root(self) -> &'static str {
        match self {
            Self::Path => "/path",
            Self::Query => "/query",
            Self::Header => "/header",
        }
    }
}

/// One named parameter (OpenAPI style).
#[derive(Debug)]
pub struct Param {
    /// Its name (header names lowercase).
    pub name: String,
    /// Where it is read from.
    pub location: Location,
    /// Whether it must be present.
    pub required: bool,
    /// How its text becomes a value.
    pub coerce: Coerce,
    /// Whether a single value of an array parameter is split at commas.
    pub split: bool,
    /// Its schema, if any.
    pub schema: Option<CompiledSchema>,
}

/// All query parameters (or chosen headers) checked as one object.
#[derive(Debug)]
pub struct ObjectParams {
    /// The object's schema.
    pub schema: CompiledSchema,
    /// Coercion per property name.
    pub coerce: HashMap<String, Coerce>,
}

/// The accepted body media types and their schemas.
#[derive(Debug, Default)]
pub struct BodyRule {
    /// Whether a body must be sent.
    pub required: bool,
    /// Media ranges with their schema (JSON bodies only are checked).
    pub content: Vec<(String, Option<CompiledSchema>)>,
}

/// What an operation accepts.
#[derive(Debug, Default)]
pub struct RequestRules {
    /// Parameters checked one by one.
    pub params: Vec<Param>,
    /// The query checked as one object.
    pub query: Option<ObjectParams>,
    /// Headers checked as one object (only those it names).
    pub headers: Option<ObjectParams>,
    /// The body, if the operation describes one.
    pub body: Option<BodyRule>,
}

/// Media ranges with the schema of their (JSON) bodies.
pub type MediaSchemas = Vec<(String, Option<CompiledSchema>)>;

/// Response schemas by status key (`200`, `2XX`, `default`).
#[derive(Debug, Default)]
pub struct ResponseRules {
    /// Status key → media ranges with their schema.
    pub by_status: Vec<(String, MediaSchemas)>,
    /// Whether a status with no entry is a failure.
    pub strict_status: bool,
}

/// The request data validation reads.
#[derive(Debug)]
pub struct RequestView<'a> {
    /// Path parameters, decoded.
    pub path_params: &'a [(String, String)],
    /// The raw query string.
    pub query: Option<&'a str>,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The buffered body.
    pub body: &'a [u8],
}

impl RequestRules {
    /// Whether the body must be buffered to check it.
    pub fn needs_body(&self) -> bool {
        self.body.is_some()
    }

    /// Checks a request: parameters (400), media type (415), JSON syntax,
    /// duplicate keys and depth (400), then the body schema (422).
    pub fn check(&self, req: &RequestView<'_>, max_depth: usize) -> Result<(), ValidationFailure> {
        let mut errors = Vec::new();
        let query = req.query.map(parse_query).unwrap_or_default();
        for p in &self.params {
            self.check_param(p, req, &query, &mut errors);
        }
        if let Some(q) = &self.query {
            let mut obj = Map::new();
            let mut names: Vec<&str> = query.iter().map(|(k, _)| k.as_str()).collect();
            names.dedup();
            for name in names {
                let values: Vec<String> = values_named(&query, name);
                let c = q.coerce.get(name).copied().unwrap_or_default();
                obj.insert(name.to_owned(), c.value(&values, false));
            }
            q.schema.check(&Value::Object(obj), "/query", &mut errors);
        }
        if let Some(h) = &self.headers {
            let mut obj = Map::new();
            for (name, c) in &h.coerce {
                let values = header_values(req.headers, name);
                if !values.is_empty() {
                    obj.insert(name.clone(), c.value(&values, true));
                }
            }
            h.schema.check(&Value::Object(obj), "/header", &mut errors);
        }
        if !errors.is_empty() {
            return Err(ValidationFailure::bad_request(errors));
        }
        match &self.body {
            Some(rule) => check_body(rule, req.headers, req.body, max_depth),
            None => Ok(()),
        }
    }

    fn check_param(
        &self,
        p: &Param,
        req: &RequestView<'_>,
        query: &[(String, String)],
        errors: &mut Vec<FieldError>,
    ) {
        let values = match p.location {
            Location::Path => req
                .path_params
                .iter()
                .filter(|(k, _)| *k == p.name)
                .map(|(_, v)| v.clone())
                .collect(),
            Location::Query => values_named(query, &p.name),
            Location::Header => header_values(req.headers, &p.name),
        };
        let mut at = p.location.root().to_owned();
        pointer_push(&mut at, &p.name);
        if values.is_empty() {
            if p.required {
                errors.push(FieldError::new(at, "is required"));
            }
            return;
        }
        if let Some(schema) = &p.schema {
            schema.check(&p.coerce.value(&values, p.split), &at, errors);
        }
    }
}

fn values_named(query: &[(String, String)], name: &str) -> Vec<String> {
    query
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

fn header_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(essence)
}

fn check_body(
    rule: &BodyRule,
    headers: &HeaderMap,
    body: &[u8],
    max_depth: usize,
) -> Result<(), ValidationFailure> {
    if body.is_empty() {
        return if rule.required {
            Err(ValidationFailure::bad_request(vec![FieldError::new(
                "/body",
                "a request body is required",
            )]))
        } else {
            Ok(())
        };
    }
    let media = content_type(headers).unwrap_or_default();
    let Some((_, schema)) = rule.content.iter().find(|(r, _)| media_matches(r, &media)) else {
        let accepted: Vec<&str> = rule.content.iter().map(|(r, _)| r.as_str()).collect();
        return Err(ValidationFailure::unsupported_media_type(vec![
            FieldError::new(
                "/header/content-type",
                format!("expected {}", accepted.join(", ")),
            ),
        ]));
    };
    if !is_json(&media) {
        return Ok(());
    }
    let value = parse_strict(body, max_depth)
        .map_err(|p| ValidationFailure::bad_request(vec![FieldError::from(p).under("/body")]))?;
    let mut errors = Vec::new();
    if let Some(s) = schema {
        s.check(&value, "/body", &mut errors);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationFailure::unprocessable(errors))
    }
}

impl ResponseRules {
    /// Whether there is anything to check.
    pub fn is_empty(&self) -> bool {
        self.by_status.is_empty()
    }

    /// The failures of a response (empty when it conforms).
    pub fn check(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        max_depth: usize,
    ) -> Vec<FieldError> {
        let code = status.as_str();
        let class = format!("{}XX", &code[..1]);
        let entry = ["exact", "class", "default"].iter().find_map(|which| {
            self.by_status.iter().find(|(k, _)| match *which {
                "exact" => k == code,
                "class" => k.eq_ignore_ascii_case(&class),
                _ => k == "default",
            })
        });
        let Some((_, content)) = entry else {
            return if self.strict_status {
                vec![FieldError::new(
                    "/status",
                    format!("status {code} is not described"),
                )]
            } else {
                Vec::new()
            };
        };
        if body.is_empty() || content.is_empty() {
            return Vec::new();
        }
        let media = content_type(headers).unwrap_or_default();
        let Some((_, schema)) = content.iter().find(|(r, _)| media_matches(r, &media)) else {
            return vec![FieldError::new(
                "/header/content-type",
                "media type is not described",
            )];
        };
        if !is_json(&media) {
            return Vec::new();
        }
        match parse_strict(body, max_depth) {
            Err(p) => vec![FieldError::from(p).under("/body")],
            Ok(v) => {
                let mut errors = Vec::with_capacity(MAX_ERRORS);
                if let Some(s) = schema {
                    s.check(&v, "/body", &mut errors);
                }
                errors
            }
        }
    }
}
