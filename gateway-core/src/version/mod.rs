//! API versioning: the version comes from a path parameter, a header, a
//! query parameter or the `Accept` media type; each version may pick its
//! own upstream and upstream path, be deprecated (`Deprecation`, `Sunset`,
//! `Link` headers) or retired (410).

mod date;

use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, header};

pub(crate) use date::parse_date;

use crate::error::RouteError;
use crate::policy::template::Template;

/// Where a route reads its version from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Path(String),
    Header(HeaderName),
    Query(String),
    MediaType,
}

/// One served version.
#[derive(Debug)]
pub(crate) struct VersionEntry {
    pub(crate) name: String,
    /// Index of the upstream, when it differs from the route's.
    pub(crate) upstream: Option<usize>,
    /// Upstream path template.
    pub(crate) path: Option<Template>,
    pub(crate) retired: bool,
    /// Headers added to every response of this version.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

/// A route's versioning.
#[derive(Debug)]
pub(crate) struct Versioning {
    pub(crate) source: Source,
    pub(crate) default: Option<usize>,
    pub(crate) versions: Vec<VersionEntry>,
}

impl VersionEntry {
    /// Builds the response headers of a version.
    pub(crate) fn lifecycle_headers(
        deprecated: Option<i64>,
        sunset: Option<i64>,
        link: Option<&str>,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        let mut out = Vec::new();
        if let Some(t) = deprecated {
            let v = HeaderValue::from_str(&format!("@{t}")).map_err(|e| e.to_string())?;
            out.push((HeaderName::from_static("deprecation"), v));
        }
        if let Some(t) = sunset {
            let when =
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0).unsigned_abs());
            let v =
                HeaderValue::from_str(&httpdate::fmt_http_date(when)).map_err(|e| e.to_string())?;
            out.push((HeaderName::from_static("sunset"), v));
        }
        if let Some(url) = link {
            let v =
                HeaderValue::from_str(&format!("<{url}>; rel=\"deprecation\"; type=\"text/html\""))
                    .map_err(|_| "the link is not a valid header value".to_owned())?;
            out.push((header::LINK, v));
        }
        Ok(out)
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The version named by an `Accept` header, if any.
fn from_media_type(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let mime = parts.next().unwrap_or("").trim();
            for p in parts {
                if let Some((k, v)) = p.split_once('=')
                    && k.trim().eq_ignore_ascii_case("version")
                {
                    return Some(v.trim().trim_matches('"').to_owned());
                }
            }
            // application/vnd.acme.v2+json
            let subtype = mime.split_once('/').map_or("", |(_, s)| s);
            if let Some(vnd) = subtype.strip_prefix("vnd.") {
                let stem = vnd.split('+').next().unwrap_or(vnd);
                if let Some((_, ver)) = stem.rsplit_once('.') {
                    return Some(ver.to_owned());
                }
            }
        }
    }
    None
}

impl Versioning {
    fn lookup(&self, asked: &str) -> Option<usize> {
        self.versions
            .iter()
            .position(|v| v.name == asked)
            .or_else(|| {
                // "2" finds "v2" and "v2" finds "2".
                let alt = match asked.strip_prefix('v') {
                    Some(rest) => rest.to_owned(),
                    None => format!("v{asked}"),
                };
                self.versions.iter().position(|v| v.name == alt)
            })
    }

    /// Chooses the version for a request.
    pub(crate) fn select<B>(
        &self,
        req: &Request<B>,
        params: &[(String, String)],
    ) -> Result<&VersionEntry, RouteError> {
        let (asked, unknown_status) = match &self.source {
            Source::Path(p) => (
                params.iter().find(|(k, _)| k == p).map(|(_, v)| v.clone()),
                StatusCode::NOT_FOUND,
            ),
            Source::Header(h) => (
                req.headers()
                    .get(h)
                    .and_then(|v| v.to_str().ok())
                    .map(|s| s.trim().to_owned()),
                StatusCode::BAD_REQUEST,
            ),
            Source::Query(q) => (
                req.uri()
                    .query()
                    .and_then(|qs| query_param(qs, q))
                    .map(str::to_owned),
                StatusCode::BAD_REQUEST,
            ),
            Source::MediaType => (from_media_type(req.headers()), StatusCode::NOT_ACCEPTABLE),
        };
        let idx = match asked.as_deref().filter(|s| !s.is_empty()) {
            Some(a) => self.lookup(a),
            None => self.default,
        };
        let Some(entry) = idx.map(|i| &self.versions[i]) else {
            return Err(RouteError::UnknownVersion {
                status: unknown_status,
                supported: self
                    .versions
                    .iter()
                    .filter(|v| !v.retired)
                    .map(|v| v.name.clone())
                    .collect(),
            });
        };
        if entry.retired {
            return Err(RouteError::Retired {
                version: entry.name.clone(),
            });
        }
        Ok(entry)
    }
}

#[cfg(test)]
mod tests;
