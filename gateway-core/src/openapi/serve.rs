//! Serves the document, the docs page and its assets. Everything is built
//! once when the config is loaded; requests only pick a prepared answer.
//! Answers carry a strong `ETag` (`If-None-Match` gives 304; xxHash64 of
//! the content: fast enough for a cold start on the edge, and ETags need no
//! cryptographic strength) and
//! `Cache-Control`: `no-cache` for the document and the page (they change
//! with the config), `immutable` for assets (their URL holds their hash).

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use xxhash_rust::xxh64::xxh64;

use super::assets::{self, Asset};
use super::config::DocsConfig;
use crate::body::Body;
use crate::error::{GatewayError, RouteError};

/// `Cache-Control` of the document and the page.
const REVALIDATE: &str = "no-cache";
/// `Cache-Control` of assets, whose URLs change with their content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A prepared answer.
#[derive(Debug, Clone)]
struct Prepared {
    body: Bytes,
    content_type: &'static str,
    etag: String,
    cache_control: &'static str,
}

impl Prepared {
    fn new(body: Bytes, content_type: &'static str, cache_control: &'static str) -> Self {
        let etag = format!("\"{}\"", short_hash(&body));
        Self {
            body,
            content_type,
            etag,
            cache_control,
        }
    }
}

/// The content's xxHash64 in hex.
fn short_hash(bytes: &[u8]) -> String {
    format!("{:016x}", xxh64(bytes, 0))
}

/// The embedded assets' answers, prepared once per process (they do not
/// change with the config).
fn prepared_assets() -> &'static [Prepared] {
    static ASSETS: std::sync::OnceLock<Vec<Prepared>> = std::sync::OnceLock::new();
    ASSETS.get_or_init(|| {
        assets::ALL
            .iter()
            .map(|a: &Asset| Prepared::new(Bytes::from_static(a.bytes), a.content_type, IMMUTABLE))
            .collect()
    })
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The origin (`scheme://host[:port]`) of an absolute `http(s)` URL.
fn origin(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&url[..url.len() - rest.len() + end])
}

/// The docs site: document, page and assets, with their headers.
#[derive(Debug, Clone)]
pub struct DocsSite {
    config: DocsConfig,
    document: Prepared,
    page: Prepared,
    csp: String,
    /// (URL path, answer) of each asset.
    assets: Vec<(String, Prepared)>,
}

impl DocsSite {
    /// Prepares the answers for `config` and the document's JSON text.
    pub(crate) fn new(config: DocsConfig, document_json: Bytes) -> Self {
        let document = Prepared::new(document_json, "application/json", REVALIDATE);
        let assets: Vec<(String, Prepared)> = assets::ALL
            .iter()
            .zip(prepared_assets())
            .map(|(a, p)| {
                let hash = p.etag.trim_matches('"');
                (
                    format!("{}/assets/{hash}/{}", config.path, a.name),
                    p.clone(),
                )
            })
            .collect();
        let url = |name: &str| {
            assets
                .iter()
                .find(|(p, _)| p.ends_with(&format!("/{name}")))
                .map(|(p, _)| escape_html(p))
        };
        let title = escape_html(&config.title);
        let openapi = escape_html(&config.openapi_path);
        let html = match (
            url("swagger-ui.css"),
            url("swagger-ui-bundle.js"),
            url("init.js"),
        ) {
            (Some(css), Some(bundle), Some(init)) => format!(
                "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
                 <title>{title}</title>\n<link rel=\"icon\" href=\"data:,\">\n\
                 <link rel=\"stylesheet\" href=\"{css}\">\n</head>\n<body>\n\
                 <noscript><p>The API is described by its <a href=\"{openapi}\">OpenAPI document</a>.</p></noscript>\n\
                 <div id=\"swagger-ui\" data-openapi-url=\"{openapi}\"></div>\n\
                 <script src=\"{bundle}\"></script>\n<script src=\"{init}\"></script>\n\
                 </body>\n</html>\n"
            ),
            _ => format!(
                "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
                 <title>{title}</title>\n<link rel=\"icon\" href=\"data:,\">\n</head>\n<body>\n\
                 <h1>{title}</h1>\n<p>The API is described by its <a href=\"{openapi}\">OpenAPI document</a>.</p>\n\
                 </body>\n</html>\n"
            ),
        };
        let page = Prepared::new(Bytes::from(html), "text/html; charset=utf-8", REVALIDATE);
        let mut connect = vec!["'self'".to_owned()];
        connect.extend(
            config
                .servers
                .iter()
                .filter_map(|s| origin(&s.url))
                .map(str::to_owned),
        );
        let csp = format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             font-src 'self'; connect-src {}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            connect.join(" ")
        );
        Self {
            config,
            document,
            page,
            csp,
            assets,
        }
    }

    /// The settings it serves.
    pub fn config(&self) -> &DocsConfig {
        &self.config
    }

    /// The answer for a request to a path the site owns, or `None` when
    /// the path is not the site's.
    pub(crate) fn serve<B>(&self, req: &Request<B>) -> Option<Response<Body>> {
        let path = req.uri().path();
        if !self.config.owns(path) {
            return None;
        }
        let found = if path == self.config.openapi_path {
            Some(&self.document)
        } else if path == self.config.path || path.strip_prefix(&self.config.path) == Some("/") {
            Some(&self.page)
        } else {
            self.assets.iter().find(|(p, _)| p == path).map(|(_, a)| a)
        };
        let Some(answer) = found else {
            return Some(GatewayError::from(RouteError::NotFound).into_response());
        };
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return Some(
                GatewayError::from(RouteError::MethodNotAllowed {
                    allow: vec![Method::GET, Method::HEAD],
                })
                .into_response(),
            );
        }
        let fresh = req
            .headers()
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == answer.etag || t == "*");
        let (status, body) = if fresh {
            (StatusCode::NOT_MODIFIED, Body::empty())
        } else if req.method() == Method::HEAD {
            (StatusCode::OK, Body::empty())
        } else {
            (StatusCode::OK, Body::full(answer.body.clone()))
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&answer.etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(answer.cache_control),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if !fresh {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(answer.content_type),
            );
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(answer.body.len()));
        }
        if std::ptr::eq(answer, &self.page)
            && let Ok(v) = HeaderValue::from_str(&self.csp)
        {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
        }
        Some(resp)
    }
}
