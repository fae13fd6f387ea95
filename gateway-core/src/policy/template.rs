//! Small value templates: `"/v2/users/{id}"`, `"{client_ip}"`,
//! `"{header.x-tenant}"`, `"{route}"`, `"{version}"`.

use http::HeaderMap;

use super::Cx;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Param(String),
    ClientIp,
    Route,
    Version,
    Header(http::HeaderName),
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
                "version" if !params.iter().any(|p| p == "version") => Part::Version,
                _ if name.starts_with("header.") => {
                    let h = http::HeaderName::from_bytes(&name.as_bytes()["header.".len()..])
                        .map_err(|_| format!("invalid header name in `{{{name}}}`"))?;
                    Part::Header(h)
                }
                _ if params.iter().any(|p| p == name) => Part::Param(name.to_owned()),
                _ => {
                    return Err(format!(
                        "unknown variable `{{{name}}}`: use a path parameter ({}), client_ip, route, version or header.NAME",
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
                Part::Header(h) => {
                    if let Some(v) = headers.get(h).and_then(|v| v.to_str().ok()) {
                        out.push_str(v);
                    }
                }
            }
        }
        out
    }
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
    }
}
