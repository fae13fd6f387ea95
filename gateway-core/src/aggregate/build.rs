//! `aggregate:` spec → validated [`Aggregate`], every problem named by its
//! field path.

use std::time::Duration;

use http::{HeaderName, Method, header};

use super::config::{AggregateSpec, BackendSpec, MergeSpec, OnErrorSpec};
use super::merge::{ERRORS, Mapping, Merge};
use super::template::{PathTemplate, Scope};
use super::{Aggregate, Backend, DEFAULT_MAX_CONCURRENCY};
use crate::config::Problems;
use crate::transform::pointer::Pointer;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Headers the gateway sets itself or that belong to one connection.
const NOT_FORWARDABLE: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::HOST,
    header::CONTENT_LENGTH,
];

/// Catch-all parameter names (`{*rest}`) in a route pattern.
fn catch_alls(route_path: &str) -> Vec<String> {
    route_path
        .split("{*")
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && !n.starts_with('_')
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A result pointer: below the root and not inside `_errors`.
fn result_pointer(text: &str, at: &str, p: &mut Problems) -> Option<Pointer> {
    let ptr = Pointer::parse(text).map_err(|e| p.push(at, e)).ok()?;
    if ptr.as_str() == format!("/{ERRORS}") || ptr.as_str().starts_with(&format!("/{ERRORS}/")) {
        p.push(
            at,
            format!("`/{ERRORS}` is where the gateway lists failed backends"),
        );
        return None;
    }
    Some(ptr)
}

impl Aggregate {
    /// Validates `spec` (at field path `at`) for a route with pattern
    /// `route_path` and parameters `params`; `upstreams[i]` is backend i's
    /// upstream index, already resolved (and reported when unknown).
    pub(crate) fn build(
        spec: &AggregateSpec,
        at: &str,
        route_path: &str,
        params: &[String],
        upstreams: &[Option<usize>],
        p: &mut Problems,
    ) -> Option<Self> {
        let before = p.len();
        if spec.backends.is_empty() {
            p.push(format!("{at}.backends"), "list at least one backend");
        }
        let catch_alls = catch_alls(route_path);
        let mut names: Vec<&str> = Vec::new();
        let mut backends = Vec::new();
        for (i, b) in spec.backends.iter().enumerate() {
            let bat = format!("{at}.backends[{i}]");
            if !valid_name(&b.name) {
                p.push(
                    format!("{bat}.name"),
                    "use letters, digits, `-` and `_`, not starting with `_`",
                );
            } else if names.contains(&b.name.as_str()) {
                p.push(
                    format!("{bat}.name"),
                    format!("backend `{}` is listed twice", b.name),
                );
            }
            let scope = Scope {
                params,
                catch_alls: &catch_alls,
                earlier: &names,
            };
            let backend = build_backend(b, &bat, &scope, upstreams.get(i).copied().flatten(), p);
            names.push(&b.name);
            backends.extend(backend);
        }
        let merge = build_merge(&spec.merge, &format!("{at}.merge"), &names, p);
        let max_concurrency = match spec.max_concurrency {
            Some(0) => {
                p.push(format!("{at}.max_concurrency"), "must be at least 1");
                1
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            None => DEFAULT_MAX_CONCURRENCY,
        };
        let timeout = spec.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
        if timeout.is_zero() {
            p.push(format!("{at}.timeout"), "must be more than 0");
        }
        // An unknown upstream was reported where it was looked up.
        if p.len() != before || backends.len() != spec.backends.len() {
            return None;
        }
        Some(Self {
            backends,
            merge: merge?,
            max_concurrency,
            timeout,
            fail_fast: spec.on_error == OnErrorSpec::Fail,
        })
    }
}

fn build_backend(
    b: &BackendSpec,
    at: &str,
    scope: &Scope<'_>,
    upstream: Option<usize>,
    p: &mut Problems,
) -> Option<Backend> {
    let before = p.len();
    let path = PathTemplate::parse(&b.path, scope)
        .map_err(|e| p.push(format!("{at}.path"), e))
        .ok();
    let method = match &b.method {
        None => Method::GET,
        Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap_or_else(|_| {
            p.push(
                format!("{at}.method"),
                format!("`{m}` is not an HTTP method"),
            );
            Method::GET
        }),
    };
    let mut headers = Vec::new();
    for (j, h) in b.headers.iter().enumerate() {
        match HeaderName::from_bytes(h.as_bytes()) {
            Ok(name) if NOT_FORWARDABLE.contains(&name) => p.push(
                format!("{at}.headers[{j}]"),
                format!("`{name}` belongs to one connection or is set by the gateway"),
            ),
            Ok(name) if !headers.contains(&name) => headers.push(name),
            Ok(_) => p.push(
                format!("{at}.headers[{j}]"),
                format!("`{h}` is listed twice"),
            ),
            Err(_) => p.push(format!("{at}.headers[{j}]"), "not a valid header name"),
        }
    }
    let timeout = b.timeout.map(|t| t.0);
    if timeout.is_some_and(|t| t.is_zero()) {
        p.push(format!("{at}.timeout"), "must be more than 0");
    }
    if let Some(s) = &b.select
        && let Err(e) = Pointer::parse(s)
    {
        p.push(format!("{at}.select"), e);
    }
    if p.len() != before {
        return None;
    }
    let path = path?;
    Some(Backend {
        name: b.name.clone(),
        upstream: upstream?,
        method,
        deps: path.dependencies(),
        path,
        headers,
        body: b.body,
        required: b.required,
        timeout,
        select: b.select.clone(),
    })
}

fn build_merge(spec: &MergeSpec, at: &str, names: &[&str], p: &mut Problems) -> Option<Merge> {
    match spec {
        MergeSpec::Key => Some(Merge::Key),
        MergeSpec::Deep => Some(Merge::Deep),
        MergeSpec::Concat(to) => result_pointer(to, &format!("{at}.concat"), p).map(Merge::Concat),
        MergeSpec::Map(list) => {
            let before = p.len();
            if list.is_empty() {
                p.push(format!("{at}.map"), "list at least one mapping");
            }
            let mut out = Vec::new();
            for (i, m) in list.iter().enumerate() {
                let mat = format!("{at}.map[{i}]");
                let backend = names.iter().position(|n| *n == m.backend);
                if backend.is_none() {
                    p.push(
                        format!("{mat}.backend"),
                        format!("no backend `{}`; backends: {}", m.backend, names.join(", ")),
                    );
                }
                let from = m.from.clone().unwrap_or_default();
                if !from.is_empty() && !from.starts_with('/') {
                    p.push(
                        format!("{mat}.from"),
                        format!("`{from}` is not a JSON pointer (e.g. `/data/items`)"),
                    );
                }
                let to = result_pointer(&m.to, &format!("{mat}.to"), p);
                if let (Some(backend), Some(to)) = (backend, to) {
                    out.push(Mapping { backend, from, to });
                }
            }
            (p.len() == before).then_some(Merge::Map(out))
        }
    }
}
