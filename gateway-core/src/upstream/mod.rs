//! Upstreams: where a route's requests go. Either an HTTP(S) base URL or a
//! mock that answers from config.

mod mock;

use std::time::Duration;

use http::{HeaderValue, Uri, uri};

pub(crate) use mock::Mock;

/// How an upstream answers.
#[derive(Debug)]
pub(crate) enum UpstreamKind {
    /// Proxy to a base URL.
    Http {
        scheme: uri::Scheme,
        authority: uri::Authority,
        /// Base path without trailing slash ("" for none).
        base_path: String,
        /// `Host` header value for the upstream.
        host: HeaderValue,
    },
    /// Answer from config.
    Mock(Mock),
}

/// A validated upstream.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) name: String,
    pub(crate) kind: UpstreamKind,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) preserve_host: bool,
    pub(crate) ca_file: Option<std::sync::Arc<str>>,
}

impl Upstream {
    /// Parses and checks a base URL.
    pub(crate) fn parse_url(url: &str) -> Result<UpstreamKind, String> {
        let u: Uri = url
            .parse()
            .map_err(|_| format!("`{url}` is not a valid URL"))?;
        let scheme = u
            .scheme()
            .cloned()
            .ok_or("the URL needs a scheme (http:// or https://)")?;
        if scheme != uri::Scheme::HTTP && scheme != uri::Scheme::HTTPS {
            return Err(format!("unsupported scheme `{scheme}`: use http or https"));
        }
        let authority = u.authority().cloned().ok_or("the URL needs a host")?;
        if authority.as_str().contains('@') {
            return Err("credentials in upstream URLs are not allowed".to_owned());
        }
        if u.query().is_some() {
            return Err("an upstream URL cannot have a query".to_owned());
        }
        let host =
            HeaderValue::from_str(authority.as_str()).map_err(|_| "invalid host".to_owned())?;
        Ok(UpstreamKind::Http {
            scheme,
            authority,
            base_path: u.path().trim_end_matches('/').to_owned(),
            host,
        })
    }

    /// The absolute URI for a request path and query.
    pub(crate) fn target_uri(&self, request: &Uri) -> Option<Uri> {
        let UpstreamKind::Http {
            scheme,
            authority,
            base_path,
            ..
        } = &self.kind
        else {
            return None;
        };
        let pq = match request.path_and_query() {
            Some(pq) if base_path.is_empty() => pq.clone(),
            Some(pq) => format!("{base_path}{pq}").parse().ok()?,
            None if base_path.is_empty() => uri::PathAndQuery::from_static("/"),
            None => base_path.parse().ok()?,
        };
        let mut parts = uri::Parts::default();
        parts.scheme = Some(scheme.clone());
        parts.authority = Some(authority.clone());
        parts.path_and_query = Some(pq);
        Uri::from_parts(parts).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(url: &str) -> Upstream {
        Upstream {
            name: "u".into(),
            kind: Upstream::parse_url(url).expect("valid"),
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            preserve_host: false,
            ca_file: None,
        }
    }

    #[test]
    fn joins_base_path() {
        assert_eq!(
            up("http://127.0.0.1:9/svc/")
                .target_uri(&Uri::from_static("/a?b=1"))
                .expect("uri"),
            "http://127.0.0.1:9/svc/a?b=1"
        );
        assert_eq!(
            up("https://x.test")
                .target_uri(&Uri::from_static("/a"))
                .expect("uri"),
            "https://x.test/a"
        );
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "ftp://x",
            "127.0.0.1:80",
            "http://u:p@x/",
            "http://x/?q=1",
            "not a url",
        ] {
            assert!(Upstream::parse_url(bad).is_err(), "{bad}");
        }
    }
}
