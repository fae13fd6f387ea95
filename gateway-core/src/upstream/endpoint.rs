//! One place an upstream's requests can go: scheme, authority and base
//! path, with the weight and zone the load balancer uses.
//!
//! Static upstreams list their endpoints in config (`url` or `targets`);
//! discovered upstreams turn registry instances into endpoints per request.

use std::sync::Arc;

use http::{HeaderValue, Uri, uri};

/// A destination for proxied requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// Stable identity for balancing and health state: the URL as
    /// configured, or the registry instance id.
    pub(crate) id: Arc<str>,
    pub(crate) scheme: uri::Scheme,
    pub(crate) authority: uri::Authority,
    /// Base path without trailing slash ("" for none).
    pub(crate) base_path: String,
    /// `Host` header value for this endpoint.
    pub(crate) host: HeaderValue,
    /// Relative share of traffic (weighted algorithms). At least 1.
    pub(crate) weight: u32,
    /// Zone, for zone-preferring balancing.
    pub(crate) zone: Option<Arc<str>>,
}

impl Endpoint {
    /// Parses and checks a base URL (`http://` or `https://`, no
    /// credentials, no query). Weight 1, no zone.
    pub(crate) fn parse_url(url: &str) -> Result<Self, String> {
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
        Ok(Self {
            id: url.into(),
            scheme,
            authority,
            base_path: u.path().trim_end_matches('/').to_owned(),
            host,
            weight: 1,
            zone: None,
        })
    }

    /// The endpoint for a registry instance, with the base path of the
    /// upstream that names its service.
    pub(crate) fn from_instance(
        i: &crate::discovery::Instance,
        base_path: &str,
    ) -> Result<Self, String> {
        let valid = !i.address.is_empty()
            && i.address.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
            });
        if !valid {
            return Err(format!(
                "instance address `{}` is not a host name or IP address",
                i.address.escape_debug()
            ));
        }
        if i.scheme != "http" && i.scheme != "https" {
            return Err(format!(
                "unsupported scheme `{}`: use http or https",
                i.scheme.escape_debug()
            ));
        }
        let host = if i.address.contains(':') {
            format!(
                "[{}]",
                i.address.trim_start_matches('[').trim_end_matches(']')
            )
        } else {
            i.address.clone()
        };
        let url = format!("{}://{host}:{}{base_path}", i.scheme, i.port);
        let mut e = Self::parse_url(&url)?;
        e.id = format!("{}/{}", i.service, i.id).into();
        e.weight = i.weight.max(1);
        e.zone = i.zone.as_deref().map(Into::into);
        Ok(e)
    }

    /// The absolute URI for a request path and query: the base path
    /// followed by the request's path.
    pub(crate) fn target_uri(&self, request: &Uri) -> Option<Uri> {
        let base_path = &self.base_path;
        let pq = match request.path_and_query() {
            Some(pq) if base_path.is_empty() => pq.clone(),
            Some(pq) => format!("{base_path}{pq}").parse().ok()?,
            None if base_path.is_empty() => uri::PathAndQuery::from_static("/"),
            None => base_path.parse().ok()?,
        };
        let mut parts = uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(pq);
        Uri::from_parts(parts).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_base_path() {
        let e = Endpoint::parse_url("http://127.0.0.1:9/svc/").expect("valid");
        assert_eq!(
            e.target_uri(&Uri::from_static("/a?b=1")).expect("uri"),
            "http://127.0.0.1:9/svc/a?b=1"
        );
        let e = Endpoint::parse_url("https://x.test").expect("valid");
        assert_eq!(
            e.target_uri(&Uri::from_static("/a")).expect("uri"),
            "https://x.test/a"
        );
        assert_eq!(e.host, "x.test");
        assert_eq!(&*e.id, "https://x.test");
    }

    #[test]
    fn from_registry_instance() {
        let i = crate::discovery::Instance {
            id: "a1".into(),
            service: "users".into(),
            address: "::1".into(),
            port: 8081,
            scheme: "http".into(),
            weight: 0,
            zone: Some("z1".into()),
            version: None,
            metadata: Default::default(),
        };
        let e = Endpoint::from_instance(&i, "/v1").expect("valid");
        assert_eq!(&*e.id, "users/a1");
        assert_eq!(e.weight, 1);
        assert_eq!(e.zone.as_deref(), Some("z1"));
        assert_eq!(
            e.target_uri(&Uri::from_static("/x")).expect("uri"),
            "http://[::1]:8081/v1/x"
        );
        let bad = crate::discovery::Instance {
            address: "x/y".into(),
            ..i
        };
        assert!(Endpoint::from_instance(&bad, "").is_err());
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
            assert!(Endpoint::parse_url(bad).is_err(), "{bad}");
        }
    }
}
