//! A stored response: the RFC 9111 policy that decides its freshness, the
//! head and body served on a hit, and what purges match (time, host, path,
//! query, tags).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header, request};
use http_cache_semantics::{CacheOptions, CachePolicy};
use serde::{Deserialize, Serialize};

use super::config::{CacheSettings, RouteCache};
use super::key::CacheKey;

/// Unix milliseconds as the `SystemTime` the policy works with (never the
/// system clock: times come from `Env.clock`).
pub(crate) fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The `Cache-Control` directives of `headers`, names lower-cased.
pub(crate) fn directives(headers: &HeaderMap) -> Vec<(String, Option<String>)> {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|d| {
            let d = d.trim();
            if d.is_empty() {
                return None;
            }
            Some(match d.split_once('=') {
                Some((k, v)) => (
                    k.trim().to_ascii_lowercase(),
                    Some(v.trim().trim_matches('"').to_owned()),
                ),
                None => (d.to_ascii_lowercase(), None),
            })
        })
        .collect()
}

fn seconds(dirs: &[(String, Option<String>)], name: &str) -> Option<u64> {
    dirs.iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.as_deref()?.parse().ok())
}

fn has(dirs: &[(String, Option<String>)], name: &str) -> bool {
    dirs.iter().any(|(k, _)| k == name)
}

/// A stored response.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Decides freshness and age; its response headers carry the lifetime
    /// the route imposed (`ttl`, `max_ttl`).
    pub(crate) policy: CachePolicy,
    /// Status served.
    #[serde(with = "http_serde::status_code")]
    pub(crate) status: StatusCode,
    /// Headers served, as the upstream sent them.
    #[serde(with = "http_serde::header_map")]
    pub(crate) headers: HeaderMap,
    /// Body served (kept outside the JSON head in the stored form).
    #[serde(skip)]
    pub(crate) body: Bytes,
    /// When it was stored (Unix ms): purges issued later match it.
    pub(crate) stored_ms: u64,
    /// Fresh until then (Unix ms).
    pub(crate) fresh_until_ms: u64,
    /// May be served stale while it is refreshed until then.
    pub(crate) swr_until_ms: u64,
    /// May be served stale when the upstream fails until then.
    pub(crate) sie_until_ms: u64,
    /// Lower-case host of the request.
    pub(crate) host: String,
    /// Path of the request.
    pub(crate) path: String,
    /// Keyed query of the request.
    pub(crate) query: String,
    /// Purge tags from the tag headers.
    pub(crate) tags: Vec<String>,
}

/// What a store key holds.
#[derive(Debug, Clone)]
pub(crate) enum Record {
    /// A response.
    Entry(Arc<Entry>),
    /// The response varies on these request headers: each variant is stored
    /// under [`CacheKey::variant`].
    Variants(Vec<HeaderName>),
}

impl Record {
    /// Approximate bytes it occupies, for the memory store's bound.
    pub(crate) fn size(&self) -> u64 {
        match self {
            Record::Entry(e) => {
                let head: usize = e
                    .headers
                    .iter()
                    .map(|(k, v)| k.as_str().len() + v.len() + 4)
                    .sum();
                (e.body.len() + 2 * head + e.path.len() + e.query.len() + 512) as u64
            }
            Record::Variants(names) => {
                64 + names.iter().map(|n| n.as_str().len()).sum::<usize>() as u64
            }
        }
    }

    /// The stored form: `E` + head length (4 bytes) + JSON head + body, or
    /// `V` + JSON header names.
    pub(crate) fn encode(&self) -> Option<Bytes> {
        match self {
            Record::Entry(e) => {
                let head = serde_json::to_vec(&**e).ok()?;
                let len = u32::try_from(head.len()).ok()?;
                let mut out = BytesMut::with_capacity(5 + head.len() + e.body.len());
                out.put_u8(b'E');
                out.put_u32(len);
                out.extend_from_slice(&head);
                out.extend_from_slice(&e.body);
                Some(out.freeze())
            }
            Record::Variants(names) => {
                let names: Vec<&str> = names.iter().map(HeaderName::as_str).collect();
                let mut out = vec![b'V'];
                out.extend(serde_json::to_vec(&names).ok()?);
                Some(out.into())
            }
        }
    }

    /// Reads the stored form; `None` for anything else (an older format).
    pub(crate) fn decode(bytes: &Bytes) -> Option<Self> {
        match bytes.first()? {
            b'E' => {
                let len = u32::from_be_bytes(bytes.get(1..5)?.try_into().ok()?) as usize;
                let head = bytes.get(5..5 + len)?;
                let mut entry: Entry = serde_json::from_slice(head).ok()?;
                entry.body = bytes.slice(5 + len..);
                Some(Record::Entry(Arc::new(entry)))
            }
            b'V' => {
                let names: Vec<String> = serde_json::from_slice(bytes.get(1..)?).ok()?;
                let names = names
                    .iter()
                    .map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
                    .collect::<Option<Vec<_>>>()?;
                Some(Record::Variants(names))
            }
            _ => None,
        }
    }
}

/// The response headers the policy sees: the route's `ttl` replaces the
/// response's lifetime when it gives none (or always with `override`), and
/// `max_ttl` caps it: `lifetime` (seconds) replaces `max-age` and `s-maxage`.
fn policy_headers(headers: &HeaderMap, lifetime: Option<u64>) -> HeaderMap {
    let mut h = headers.clone();
    let Some(secs) = lifetime else { return h };
    let mut cc: Vec<String> = directives(headers)
        .into_iter()
        .filter(|(k, _)| k != "max-age" && k != "s-maxage")
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k,
        })
        .collect();
    cc.push(format!("s-maxage={secs}"));
    if let Ok(v) = HeaderValue::from_str(&cc.join(", ")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    h.remove(header::EXPIRES);
    h
}

fn options() -> CacheOptions {
    CacheOptions {
        shared: true,
        ..CacheOptions::default()
    }
}

/// Why a response is not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotStored {
    /// `no-store`, `private`, a status or method RFC 9111 does not let a
    /// shared cache store, or no lifetime and no validator.
    Policy,
    /// `Set-Cookie` in the response.
    SetCookie,
    /// `Vary: *`.
    VaryAll,
}

/// The entry for a response to `req` (the request as sent upstream),
/// received at `now_ms`; `Err` when it must not be stored. The body is
/// filled in by the caller.
pub(crate) fn build(
    req: &request::Parts,
    status: StatusCode,
    headers: &HeaderMap,
    key: &CacheKey,
    route: &RouteCache,
    settings: &CacheSettings,
    now_ms: u64,
) -> Result<(Entry, Vec<HeaderName>), NotStored> {
    if headers.contains_key(header::SET_COOKIE) {
        return Err(NotStored::SetCookie);
    }
    let vary = vary_names(headers).ok_or(NotStored::VaryAll)?;
    let now = at(now_ms);
    // Credentials never reach the policy: a consumer-keyed entry is the
    // consumer's own.
    let mut policy_req = req.clone();
    policy_req.headers.remove(header::AUTHORIZATION);
    let dirs = directives(headers);
    let explicit =
        has(&dirs, "max-age") || has(&dirs, "s-maxage") || headers.contains_key(header::EXPIRES);
    let forced = route
        .ttl
        .filter(|_| route.override_ttl || !explicit)
        .map(|t| t.as_secs());
    let mut policy = CachePolicy::new_options(
        &policy_req,
        &ResponseHead {
            status,
            headers: &policy_headers(headers, forced),
        },
        now,
        options(),
    );
    if !policy.is_storable() {
        return Err(NotStored::Policy);
    }
    if let Some(max) = route.max_ttl
        && policy.time_to_live(now) > max
    {
        let age = policy.age(now).as_secs();
        policy = CachePolicy::new_options(
            &policy_req,
            &ResponseHead {
                status,
                headers: &policy_headers(headers, Some(age + max.as_secs())),
            },
            now,
            options(),
        );
    }
    let fresh = ms(policy.time_to_live(now));
    let revalidate =
        has(&dirs, "must-revalidate") || has(&dirs, "proxy-revalidate") || has(&dirs, "no-cache");
    let window = |name| {
        if revalidate {
            0
        } else {
            seconds(&dirs, name).unwrap_or(0).saturating_mul(1000)
        }
    };
    let (swr, sie) = (window("stale-while-revalidate"), window("stale-if-error"));
    let validators =
        headers.contains_key(header::ETAG) || headers.contains_key(header::LAST_MODIFIED);
    if fresh == 0 && swr == 0 && sie == 0 && !validators {
        return Err(NotStored::Policy);
    }
    let fresh_until_ms = now_ms.saturating_add(fresh);
    let tags = settings
        .tag_headers
        .iter()
        .flat_map(|h| headers.get_all(h))
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ' ']))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let mut served = headers.clone();
    served.remove(header::AGE);
    // The response's own age at arrival is in the policy; `Age` is
    // recomputed on every hit.
    Ok((
        Entry {
            policy,
            status,
            headers: served,
            body: Bytes::new(),
            stored_ms: now_ms,
            fresh_until_ms,
            swr_until_ms: fresh_until_ms.saturating_add(swr),
            sie_until_ms: fresh_until_ms.saturating_add(sie),
            host: key.host.clone(),
            path: key.path.clone(),
            query: key.query.clone(),
            tags,
        },
        vary,
    ))
}

impl Entry {
    /// How long the store keeps it: fresh and stale windows, plus as long
    /// again (at least a minute) for revalidation when it has validators;
    /// never past `max_lifetime`.
    pub(crate) fn keep_for(&self, now_ms: u64, max_lifetime: Duration) -> Duration {
        let until = self.swr_until_ms.max(self.sie_until_ms);
        let mut keep = until.saturating_sub(now_ms);
        if self.headers.contains_key(header::ETAG)
            || self.headers.contains_key(header::LAST_MODIFIED)
        {
            let fresh = self.fresh_until_ms.saturating_sub(now_ms);
            keep = keep.saturating_add(fresh.max(60_000));
        }
        Duration::from_millis(keep).min(max_lifetime)
    }

    /// The `Age` to send at `now_ms`, in seconds.
    pub(crate) fn age_secs(&self, now_ms: u64) -> u64 {
        self.policy.age(at(now_ms)).as_secs()
    }

    /// The conditional headers that revalidate it.
    pub(crate) fn validators(&self) -> Vec<(HeaderName, HeaderValue)> {
        let mut out = Vec::new();
        if let Some(v) = self.headers.get(header::ETAG) {
            out.push((header::IF_NONE_MATCH, v.clone()));
        }
        if let Some(v) = self.headers.get(header::LAST_MODIFIED) {
            out.push((header::IF_MODIFIED_SINCE, v.clone()));
        }
        out
    }

    /// The stored headers updated with those of a `304 Not Modified`
    /// (RFC 9111 §4.3.4), except the framing ones.
    pub(crate) fn merged_headers(&self, not_modified: &HeaderMap) -> HeaderMap {
        let mut merged = self.headers.clone();
        for name in not_modified.keys() {
            if matches!(
                name.as_str(),
                "content-length" | "content-encoding" | "transfer-encoding" | "content-range"
            ) {
                continue;
            }
            merged.remove(name);
            for v in not_modified.get_all(name) {
                merged.append(name.clone(), v.clone());
            }
        }
        merged
    }
}

/// The `Vary` header names, lower-case and sorted; `None` for `Vary: *`.
pub(crate) fn vary_names(headers: &HeaderMap) -> Option<Vec<HeaderName>> {
    let mut names = Vec::new();
    for v in headers.get_all(header::VARY) {
        for n in v.to_str().unwrap_or("*").split(',') {
            let n = n.trim();
            if n == "*" {
                return None;
            }
            if n.is_empty() {
                continue;
            }
            names.push(HeaderName::from_bytes(n.as_bytes()).ok()?);
        }
    }
    names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    names.dedup();
    Some(names)
}

struct ResponseHead<'a> {
    status: StatusCode,
    headers: &'a HeaderMap,
}

impl http_cache_semantics::ResponseLike for ResponseHead<'_> {
    fn status(&self) -> StatusCode {
        self.status
    }
    fn headers(&self) -> &HeaderMap {
        self.headers
    }
}
