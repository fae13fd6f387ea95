//! Small value templates: `"/v2/users/{id}"`, `"{client_ip}"`,
//! `"{header.x-tenant}"`, `"{query.page}"`, `"{method}"`, `"{route}"`,
//! `"{version}"`, and after an `auth` policy `"{consumer}"` and
//! `"{claim.email}"`.

use http::HeaderMap;
use percent_encoding::percent_decode_str;

use super::Cx;
use crate::auth::{Identity, claim_text};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Param(String),
    ClientIp,
    Route,
    Version,
    Method,
    Header(http::HeaderName),
    Query(String),
    Consumer,
    Claim(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; `params` are the route's path parameter names.
    pub(crate) fn parse(text: &str, params: &[String]) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            if start > 0 {
                parts.push(Part::Lit(rest[..start].to_owned()));
            }
            let end = rest[start..]
                .find('}')
                .map(|e| start + e)
                .ok_or_else(|| format!("unclosed `{{` in template `{text}`"))?;
            let name = rest[start + 1..end].trim_start_matches('*');
            let part = match name {
                "client_ip" => Part::ClientIp,
                "route" => Part::Route,
                "method" => Part::Method,
                "consumer" => Part::Consumer,
                _ if name.starts_with("query.") && name.len() > "query.".len() => {
                    Part::Query(name["query.".len()..].to_owned())
                }
                _ if name.starts_with("claim.") && name.len() > "claim.".len() => {
                    Part::Claim(name["claim.".len()..].to_owned())
                }
                "version" if !params.iter().any(|p| p == "version") => Part::Version,
                _ if name.starts_with("header.") => {
                    let h = http::HeaderName::from_bytes(&name.as_bytes()["header.".len()..])
                        .map_err(|_| format!("invalid header name in `{{{name}}}`"))?;
                    Part::Header(h)
                }
                _ if params.iter().any(|p| p == name) => Part::Param(name.to_owned()),
                _ => {
                    return Err(format!(
                        "unknown variable `{{{name}}}`: use a path parameter ({}), client_ip, method, route, version, header.NAME, query.NAME, consumer or claim.NAME",
                        if params.is_empty() {
                            "none on this route".to_owned()
                        } else {
                            params.join(", ")
                        }
                    ));
                }
            };
            parts.push(part);
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// Whether the template is a plain string.
    pub(crate) fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// Renders the template for one request.
    pub(crate) fn render(&self, cx: &Cx<'_>, headers: &HeaderMap) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Param(name) => out.push_str(cx.param(name).unwrap_or_default()),
                Part::ClientIp => out.push_str(&cx.client_ip.to_string()),
                Part::Route => out.push_str(cx.route),
                Part::Version => out.push_str(cx.version.unwrap_or_default()),
                Part::Method => out.push_str(cx.method.as_str()),
                Part::Header(h) => {
                    if let Some(v) = headers.get(h).and_then(|v| v.to_str().ok()) {
                        out.push_str(v);
                    }
                }
                Part::Query(name) => {
                    if let Some(v) = query_param(cx.uri.query(), name) {
                        out.push_str(&v);
                    }
                }
                Part::Consumer => {
                    if let Some(c) = identity(cx).and_then(|i| i.consumer.as_deref()) {
                        out.push_str(c);
                    }
                }
                Part::Claim(name) => {
                    if let Some(v) = identity(cx).and_then(|i| claim_text(&i.claims, name)) {
                        out.push_str(&v);
                    }
                }
            }
        }
        out
    }
}

/// The identity an earlier `auth` policy established.
fn identity<'c>(cx: &'c Cx<'_>) -> Option<&'c Identity> {
    cx.extensions.get::<Identity>()
}

/// The first value of query parameter `name`, decoded (`+` is a space);
/// empty for a parameter without `=`.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode_str(&k.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        (k == name).then(|| {
            percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_variables_and_rejects_unknown() {
        let params = vec!["id".to_owned(), "rest".to_owned()];
        let t = Template::parse("/v2/u/{id}/{*rest}", &params).expect("valid");
        assert!(!t.is_literal());
        assert!(
            Template::parse("{nope}", &params)
                .expect_err("unknown")
                .contains("unknown variable")
        );
        assert!(Template::parse("{id", &params).is_err());
        assert!(
            Template::parse("plain", &params)
                .expect("valid")
                .is_literal()
        );
        assert!(Template::parse("{query.}", &params).is_err());
        assert!(Template::parse("{claim.}", &params).is_err());
    }

    #[test]
    fn renders_request_identity_and_claims() {
        let env = crate::test_env::env();
        let params = vec![("id".to_owned(), "42".to_owned())];
        let mut cx = Cx {
            env: &env,
            route: "r",
            params: &params,
            client_ip: "203.0.113.9".parse().expect("ip"),
            version: None,
            method: http::Method::POST,
            uri: "/u/42?page=2&q=a+b%26c&flag".parse().expect("uri"),
            extensions: http::Extensions::new(),
        };
        let names = vec!["id".to_owned()];
        let t = |s: &str| Template::parse(s, &names).expect("valid");
        let headers = HeaderMap::new();
        assert_eq!(
            t("{method} {id} p={query.page} q={query.q} f=[{query.flag}] x=[{query.x}]")
                .render(&cx, &headers),
            "POST 42 p=2 q=a b&c f=[] x=[]"
        );
        // Before any `auth` policy: empty.
        assert_eq!(
            t("[{consumer}][{claim.email}]").render(&cx, &headers),
            "[][]"
        );
        let mut claims = serde_json::Map::new();
        claims.insert("email".into(), "ada@example.com".into());
        claims.insert("level".into(), 3.into());
        cx.extensions.insert(Identity {
            consumer: Some("ada".into()),
            mechanism: "jwt",
            groups: vec![],
            scopes: vec![],
            issuer: Some("corp".into()),
            claims,
        });
        assert_eq!(
            t("{consumer} {claim.email} {claim.level} [{claim.none}]").render(&cx, &headers),
            "ada ada@example.com 3 []"
        );
    }
}
