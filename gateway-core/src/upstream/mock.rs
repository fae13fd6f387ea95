//! Mock upstreams answer from config: a fixed response, or an echo of the
//! request as it would have reached an upstream.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, header};

use crate::body::Body;

/// A response defined in config.
#[derive(Debug, Clone)]
pub(crate) struct Mock {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) echo: bool,
}

impl Mock {
    /// Answers a request.
    pub(crate) fn respond(&self, req: &Request<Body>) -> Response<Body> {
        let mut resp = Response::new(if self.echo {
            Body::full(echo(req))
        } else {
            Body::full(self.body.clone())
        });
        *resp.status_mut() = self.status;
        *resp.headers_mut() = self.headers.clone();
        if self.echo {
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
        }
        resp
    }
}

fn echo(req: &Request<Body>) -> Vec<u8> {
    let mut headers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, v) in req.headers() {
        headers
            .entry(k.as_str())
            .or_default()
            .push(v.to_str().unwrap_or("<binary>"));
    }
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .into_iter()
        .map(|(k, v)| {
            let v = if v.len() == 1 { v[0].into() } else { v.into() };
            (k.to_owned(), v)
        })
        .collect();
    let doc = serde_json::json!({
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "query": req.uri().query(),
        "headers": headers,
    });
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}
