//! Backend path templates: `/users/{id}/orders?team={steps.user.body/team_id}`.
//!
//! Literal text is checked at load. Every inserted value is percent-encoded
//! as one path segment (in the path) or one query value (after `?`), so no
//! value can add segments, a query, a fragment, a scheme or an authority.
//! In the path a value must also be a plausible segment: not empty, not `.`
//! or `..`, without `/`, `\` or control characters.

use http::HeaderMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use serde_json::Value;

use crate::policy::Cx;
use crate::policy::template::Template;

/// Everything but RFC 3986 unreserved characters is encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug, Clone)]
enum Piece {
    Lit(String),
    /// A request variable (route parameter, query, header, claim...).
    /// Route parameters arrive percent-encoded and are decoded first.
    Request {
        var: Template,
        decode: bool,
    },
    /// A value from an earlier backend's answer.
    Step {
        backend: usize,
        pointer: String,
    },
}

/// Why a template could not be rendered for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RenderError {
    /// A value from the client request cannot be one path segment.
    Request,
    /// A value from an earlier answer is missing, not a scalar, or cannot be
    /// one path segment.
    Step,
}

/// A parsed backend path template.
#[derive(Debug, Clone)]
pub(crate) struct PathTemplate {
    path: Vec<Piece>,
    query: Vec<Piece>,
    has_query: bool,
}

/// What the template may refer to.
pub(crate) struct Scope<'a> {
    /// Route path parameter names.
    pub(crate) params: &'a [String],
    /// Those that are catch-alls (`{*rest}`).
    pub(crate) catch_alls: &'a [String],
    /// Names of the backends listed before this one.
    pub(crate) earlier: &'a [&'a str],
}

fn literal_ok(s: &str, query: bool) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b) || (query && b == b'?')
    })
}

impl PathTemplate {
    /// Parses `text` for a backend that may use `scope`.
    pub(crate) fn parse(text: &str, scope: &Scope<'_>) -> Result<Self, String> {
        if !text.starts_with('/') {
            return Err("the path must start with `/`".to_owned());
        }
        let mut t = Self {
            path: Vec::new(),
            query: Vec::new(),
            has_query: false,
        };
        let mut rest = text;
        loop {
            let (lit, var) = match rest.find('{') {
                Some(s) => (&rest[..s], Some(s)),
                None => (rest, None),
            };
            t.push_literal(lit)?;
            let Some(start) = var else { break };
            let end = rest[start..]
                .find('}')
                .map(|e| start + e)
                .ok_or("unclosed `{`")?;
            let name = &rest[start + 1..end];
            let piece = Self::variable(name, scope, t.has_query)?;
            t.part().push(piece);
            rest = &rest[end + 1..];
        }
        Ok(t)
    }

    fn part(&mut self) -> &mut Vec<Piece> {
        if self.has_query {
            &mut self.query
        } else {
            &mut self.path
        }
    }

    fn push_literal(&mut self, lit: &str) -> Result<(), String> {
        let (path, query) = match lit.split_once('?') {
            Some((p, q)) if !self.has_query => (p, Some(q)),
            _ => (lit, None),
        };
        if lit.contains('}') {
            return Err("`}` without `{`".to_owned());
        }
        if !literal_ok(path, self.has_query) {
            return Err(format!(
                "`{}` has characters that must be percent-encoded (or `#`)",
                path.escape_debug()
            ));
        }
        if !path.is_empty() {
            self.part().push(Piece::Lit(path.to_owned()));
        }
        if let Some(q) = query {
            self.has_query = true;
            if !literal_ok(q, true) {
                return Err(format!(
                    "`{}` has characters that must be percent-encoded (or `#`)",
                    q.escape_debug()
                ));
            }
            if !q.is_empty() {
                self.query.push(Piece::Lit(q.to_owned()));
            }
        }
        Ok(())
    }

    fn variable(name: &str, scope: &Scope<'_>, in_query: bool) -> Result<Piece, String> {
        if let Some(step) = name.strip_prefix("steps.") {
            let (backend, field) = step.split_once('.').unwrap_or((step, ""));
            let pointer = field.strip_prefix("body").ok_or_else(|| {
                format!("`{{{name}}}`: write `{{steps.{backend}.body/json/pointer}}`")
            })?;
            let bad_escape = pointer
                .split('~')
                .skip(1)
                .any(|rest| !(rest.starts_with('0') || rest.starts_with('1')));
            if !(pointer.is_empty() || pointer.starts_with('/')) || bad_escape {
                return Err(format!(
                    "`{{{name}}}`: after `body` comes a JSON pointer such as `/team/id` (`~0` for `~`, `~1` for `/`)"
                ));
            }
            let index = scope
                .earlier
                .iter()
                .position(|b| *b == backend)
                .ok_or_else(|| {
                    format!(
                        "`{{{name}}}`: no backend `{backend}` is listed before this one ({})",
                        if scope.earlier.is_empty() {
                            "none is".to_owned()
                        } else {
                            scope.earlier.join(", ")
                        }
                    )
                })?;
            return Ok(Piece::Step {
                backend: index,
                pointer: pointer.to_owned(),
            });
        }
        let bare = name.trim_start_matches('*');
        if !in_query && scope.catch_alls.iter().any(|c| c == bare) {
            return Err(format!(
                "`{{{name}}}` is a catch-all and may span several segments; a backend path takes one segment per value"
            ));
        }
        let var = Template::parse(&format!("{{{name}}}"), scope.params).map_err(|e| {
            e.replace(
                "use a path parameter",
                "use steps.NAME.body/POINTER, a path parameter",
            )
        })?;
        Ok(Piece::Request {
            var,
            decode: scope.params.iter().any(|p| p == bare),
        })
    }

    /// The earlier backends this template reads from.
    pub(crate) fn dependencies(&self) -> Vec<usize> {
        let mut deps: Vec<usize> = self
            .path
            .iter()
            .chain(&self.query)
            .filter_map(|p| match p {
                Piece::Step { backend, .. } => Some(*backend),
                _ => None,
            })
            .collect();
        deps.sort_unstable();
        deps.dedup();
        deps
    }

    /// Renders path and query for one request; `steps` holds the answers of
    /// earlier backends (by index) that succeeded.
    pub(crate) fn render(
        &self,
        cx: &Cx<'_>,
        headers: &HeaderMap,
        steps: &[Option<&Value>],
    ) -> Result<String, RenderError> {
        let mut out = String::new();
        render_part(&self.path, cx, headers, steps, true, &mut out)?;
        if self.has_query {
            out.push('?');
            render_part(&self.query, cx, headers, steps, false, &mut out)?;
        }
        Ok(out)
    }
}

fn render_part(
    pieces: &[Piece],
    cx: &Cx<'_>,
    headers: &HeaderMap,
    steps: &[Option<&Value>],
    in_path: bool,
    out: &mut String,
) -> Result<(), RenderError> {
    for piece in pieces {
        let (raw, err) = match piece {
            Piece::Lit(s) => {
                out.push_str(s);
                continue;
            }
            Piece::Request { var, decode } => {
                let v = var.render(cx, headers);
                let v = if *decode {
                    percent_decode_str(&v).collect::<Vec<u8>>()
                } else {
                    v.into_bytes()
                };
                (v, RenderError::Request)
            }
            Piece::Step { backend, pointer } => {
                let value = steps
                    .get(*backend)
                    .copied()
                    .flatten()
                    .and_then(|v| v.pointer(pointer));
                let text = match value {
                    Some(Value::String(s)) => s.clone(),
                    Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
                    _ => return Err(RenderError::Step),
                };
                (text.into_bytes(), RenderError::Step)
            }
        };
        if in_path && !is_segment(&raw) {
            return Err(err);
        }
        out.extend(percent_encode(&raw, COMPONENT));
    }
    Ok(())
}

/// Whether `v` can stand as (part of) one path segment.
fn is_segment(v: &[u8]) -> bool {
    !v.is_empty()
        && v != b"."
        && v != b".."
        && !v
            .iter()
            .any(|&b| b == b'/' || b == b'\\' || b.is_ascii_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope<'a>(earlier: &'a [&'a str], params: &'a [String]) -> Scope<'a> {
        Scope {
            params,
            catch_alls: &[],
            earlier,
        }
    }

    fn cx<'a>(env: &'a crate::Env, params: &'a [(String, String)], uri: &str) -> Cx<'a> {
        Cx {
            env,
            route: "r",
            params,
            client_ip: "203.0.113.9".parse().expect("ip"),
            version: None,
            method: http::Method::GET,
            uri: uri.parse().expect("uri"),
            extensions: http::Extensions::new(),
        }
    }

    #[test]
    fn load_time_checks_name_the_problem() {
        let params = vec!["id".to_owned(), "rest".to_owned()];
        let s = Scope {
            params: &params,
            catch_alls: &["rest".to_owned()],
            earlier: &["user"],
        };
        let err = |t: &str| PathTemplate::parse(t, &s).expect_err(t);
        assert!(err("users/{id}").contains("start with `/`"));
        assert!(err("/u/{id").contains("unclosed"));
        assert!(err("/u/{nope}").contains("unknown variable"));
        assert!(err("/u/{steps.orders.body/x}").contains("no backend `orders`"));
        assert!(err("/u/{steps.user.status}").contains("steps.user.body"));
        assert!(err("/u/{steps.user.bodyx}").contains("JSON pointer"));
        assert!(err("/u/{steps.user.body/a~2b}").contains("JSON pointer"));
        assert!(PathTemplate::parse("/u/{steps.user.body/a~1b~0c}", &s).is_ok());
        assert!(err("/files/{rest}").contains("catch-all"));
        assert!(err("/a b").contains("percent-encoded"));
        assert!(err("/a#frag").contains("percent-encoded"));
        assert!(err("/a}").contains("`}`"));
        // A catch-all is fine as a query value.
        let t = PathTemplate::parse("/f?p={rest}&u={steps.user.body/id}", &s).expect("valid");
        assert_eq!(t.dependencies(), vec![0]);
    }

    #[test]
    fn values_are_encoded_as_one_segment_or_one_query_value() {
        let env = crate::test_env::env();
        let params = vec![("id".to_owned(), "a%20b".to_owned())];
        let names = vec!["id".to_owned()];
        let cx = cx(&env, &params, "/x?q=1%262%3D3&h=%2Fetc");
        let t = PathTemplate::parse(
            "/u/{id}/t/{steps.user.body/team/id}?q={query.q}&n={steps.user.body/n}&h={query.h}",
            &scope(&["user"], &names),
        )
        .expect("valid");
        let user = json!({"team": {"id": "t:1@x"}, "n": 7});
        let out = t
            .render(&cx, &HeaderMap::new(), &[Some(&user)])
            .expect("renders");
        assert_eq!(out, "/u/a%20b/t/t%3A1%40x?q=1%262%3D3&n=7&h=%2Fetc");
        out.parse::<http::uri::PathAndQuery>().expect("valid URI");
    }

    #[test]
    fn hostile_values_cannot_change_the_target() {
        let env = crate::test_env::env();
        let names = vec!["id".to_owned()];
        let t = PathTemplate::parse("/users/{id}/x", &scope(&[], &names)).expect("valid");
        let render = |raw: &str| {
            let params = vec![("id".to_owned(), raw.to_owned())];
            t.render(&cx(&env, &params, "/"), &HeaderMap::new(), &[])
        };
        // Encoded so that they stay inside the one segment.
        for (raw, want) in [
            ("a%3Fadmin=1", "/users/a%3Fadmin%3D1/x"),
            ("a%23frag", "/users/a%23frag/x"),
            ("http:", "/users/http%3A/x"),
            ("@evil.test:80", "/users/%40evil.test%3A80/x"),
            ("%252e%252e", "/users/%252e%252e/x"),
        ] {
            assert_eq!(render(raw).as_deref(), Ok(want), "{raw}");
        }
        // Refused: they would add or remove segments.
        for raw in [
            "..",
            ".",
            "%2E%2E",
            "a%2Fb",
            "a%5Cb",
            "http:%2F%2Fevil",
            "%00",
            "a%0D%0Ab",
            "",
        ] {
            assert_eq!(render(raw), Err(RenderError::Request), "{raw}");
        }
        // From an earlier answer: the same rules, a step error.
        let t = PathTemplate::parse("/t/{steps.u.body/id}", &scope(&["u"], &names)).expect("ok");
        let params = vec![];
        let cx = cx(&env, &params, "/");
        for bad in [
            json!({"id": "../admin"}),
            json!({"id": ".."}),
            json!({"id": {"a": 1}}),
            json!({"id": null}),
            json!({}),
        ] {
            assert_eq!(
                t.render(&cx, &HeaderMap::new(), &[Some(&bad)]),
                Err(RenderError::Step),
                "{bad}"
            );
        }
        assert_eq!(
            t.render(&cx, &HeaderMap::new(), &[Some(&json!({"id": "x?y#z"}))]),
            Ok("/t/x%3Fy%23z".to_owned())
        );
        assert_eq!(
            t.render(&cx, &HeaderMap::new(), &[None]),
            Err(RenderError::Step)
        );
    }
}
