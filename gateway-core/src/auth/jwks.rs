//! JWKS: public keys fetched from the configured URL only (never from a
//! token's `jku`, `x5u`, `jwk` or `kid`), cached in [`Env::store`] with a
//! TTL, refreshed in the background before expiry, refetched on an unknown
//! `kid` at most once per interval. While the endpoint is down, the cached
//! keys keep working for up to `max_stale`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{Either, select};
use http::{Method, Request, Uri, header};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::api_key::hash_api_key;
use super::jwt::Key;
use crate::body::Body;
use crate::config::{ConfigProblem, DurationSpec};
use crate::env::{Env, SendOptions};

const DEFAULT_TTL: Duration = Duration::from_secs(300);
const DEFAULT_MIN_REFETCH: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_MAX_STALE: Duration = Duration::from_secs(24 * 3600);
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
const MAX_DOC_BYTES: u64 = 512 * 1024;

/// Where and how to fetch an issuer's keys.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JwksSpec {
    /// The JWKS document URL (`https://` in production).
    pub url: String,
    /// Cache lifetime when the response has no `Cache-Control: max-age`. Default 5m.
    pub cache_ttl: Option<DurationSpec>,
    /// Least time between two fetches caused by unknown `kid`s or failures. Default 30s.
    pub min_refetch_interval: Option<DurationSpec>,
    /// Longest time a fetch may take. Default 5s.
    pub timeout: Option<DurationSpec>,
    /// How long cached keys keep working past their TTL while the endpoint
    /// cannot be reached. Default 24h.
    pub max_stale: Option<DurationSpec>,
}

/// No key document can be had now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeysUnavailable;

/// A parsed key document.
#[derive(Debug)]
pub(crate) struct Doc {
    fetched_ms: u64,
    expires_ms: u64,
    pub(crate) keys: Vec<Key>,
}

/// The document as cached in the store.
#[derive(Serialize, Deserialize)]
struct Stored {
    fetched_ms: u64,
    expires_ms: u64,
    jwks: serde_json::Value,
}

#[derive(Debug, Default)]
struct State {
    doc: Option<Arc<Doc>>,
    last_fetch_ms: Option<u64>,
    last_failure_ms: Option<u64>,
    refreshing: bool,
}

/// One issuer's JWKS endpoint and its cache.
#[derive(Debug)]
pub(crate) struct Jwks {
    url: Uri,
    store_key: String,
    ttl: Duration,
    min_refetch: Duration,
    timeout: Duration,
    max_stale: Duration,
    state: Mutex<State>,
}

impl Jwks {
    /// Validates `jwks` settings.
    pub(crate) fn build(
        issuer: &str,
        spec: &JwksSpec,
        at: &str,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<Self> {
        let url = match spec.url.parse::<Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => u,
            _ => {
                problems.push(ConfigProblem::new(
                    format!("{at}.url"),
                    "an absolute http:// or https:// URL",
                ));
                return None;
            }
        };
        let digest = hash_api_key(&spec.url);
        Some(Self {
            url,
            store_key: format!("jwks:v1:{issuer}:{}", &digest[..16]),
            ttl: spec.cache_ttl.map_or(DEFAULT_TTL, |d| d.0),
            min_refetch: spec
                .min_refetch_interval
                .map_or(DEFAULT_MIN_REFETCH, |d| d.0),
            timeout: spec.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0),
            max_stale: spec.max_stale.map_or(DEFAULT_MAX_STALE, |d| d.0),
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds a client should wait before trying again when keys are missing.
    pub(crate) fn retry_after_s(&self) -> u64 {
        self.min_refetch.as_secs().max(1)
    }

    /// The current document: cached, from the store, or fetched now.
    pub(crate) async fn keys(self: &Arc<Self>, env: &Env) -> Result<Arc<Doc>, KeysUnavailable> {
        let now = env.clock.now_ms();
        let mut doc = self.state().doc.clone();
        if doc.as_ref().is_none_or(|d| now >= d.expires_ms)
            && let Some(stored) = self.load(env).await
            && doc
                .as_ref()
                .is_none_or(|d| stored.fetched_ms > d.fetched_ms)
        {
            self.state().doc = Some(stored.clone());
            doc = Some(stored);
        }
        match doc {
            Some(d) if now < d.expires_ms => {
                let refresh_at = d.fetched_ms + (d.expires_ms - d.fetched_ms) * 4 / 5;
                if now >= refresh_at {
                    self.refresh_in_background(env, now);
                }
                Ok(d)
            }
            Some(d) if now < d.expires_ms + self.max_stale.as_millis() as u64 => {
                self.refresh_in_background(env, now);
                Ok(d)
            }
            _ => {
                let failed_recently = self
                    .state()
                    .last_failure_ms
                    .is_some_and(|t| now < t + self.min_refetch.as_millis() as u64);
                if failed_recently {
                    return Err(KeysUnavailable);
                }
                self.fetch(env).await
            }
        }
    }

    /// Fetches again for an unknown `kid`, unless a fetch happened within
    /// `min_refetch_interval` (then `Ok(None)`).
    pub(crate) async fn refetch(
        self: &Arc<Self>,
        env: &Env,
    ) -> Result<Option<Arc<Doc>>, KeysUnavailable> {
        let now = env.clock.now_ms();
        {
            let mut s = self.state();
            if s.last_fetch_ms
                .is_some_and(|t| now < t + self.min_refetch.as_millis() as u64)
            {
                return Ok(None);
            }
            s.last_fetch_ms = Some(now);
        }
        self.fetch(env).await.map(Some)
    }

    fn refresh_in_background(self: &Arc<Self>, env: &Env, now: u64) {
        {
            let mut s = self.state();
            let failed_recently = s
                .last_failure_ms
                .is_some_and(|t| now < t + self.min_refetch.as_millis() as u64);
            if s.refreshing || failed_recently {
                return;
            }
            s.refreshing = true;
        }
        let this = self.clone();
        let env2 = env.clone();
        env.deferred.defer(Box::pin(async move {
            let _ = this.fetch(&env2).await;
            this.state().refreshing = false;
        }));
    }

    async fn load(&self, env: &Env) -> Option<Arc<Doc>> {
        let bytes = env.store.get(&self.store_key).await.ok()??;
        let stored: Stored = serde_json::from_slice(&bytes).ok()?;
        Some(Arc::new(Doc {
            fetched_ms: stored.fetched_ms,
            expires_ms: stored.expires_ms,
            keys: parse_keys(&stored.jwks)?,
        }))
    }

    /// Fetches the document, caches it in memory and in the store.
    async fn fetch(&self, env: &Env) -> Result<Arc<Doc>, KeysUnavailable> {
        let started = env.clock.now_ms();
        self.state().last_fetch_ms = Some(started);
        let result = self.download(env).await;
        let now = env.clock.now_ms();
        let Some((jwks, keys, ttl)) = result else {
            self.state().last_failure_ms = Some(now);
            return Err(KeysUnavailable);
        };
        let doc = Arc::new(Doc {
            fetched_ms: now,
            expires_ms: now + ttl.as_millis() as u64,
            keys,
        });
        {
            let mut s = self.state();
            s.doc = Some(doc.clone());
            s.last_failure_ms = None;
        }
        let stored = Stored {
            fetched_ms: doc.fetched_ms,
            expires_ms: doc.expires_ms,
            jwks,
        };
        if let Ok(bytes) = serde_json::to_vec(&stored) {
            // The store is a shared cache; failing to write it is not fatal.
            let _ = env
                .store
                .put(
                    &self.store_key,
                    Bytes::from(bytes),
                    Some(ttl + self.max_stale),
                )
                .await;
        }
        Ok(doc)
    }

    async fn download(&self, env: &Env) -> Option<(serde_json::Value, Vec<Key>, Duration)> {
        let req = Request::builder()
            .method(Method::GET)
            .uri(self.url.clone())
            .header(header::ACCEPT, "application/jwk-set+json, application/json")
            .body(Body::empty())
            .ok()?;
        let options = SendOptions {
            connect_timeout: self.timeout,
            ..SendOptions::default()
        };
        let work = async {
            let resp = env.http.send(req, options).await.ok()?;
            if !resp.status().is_success() {
                return None;
            }
            let ttl = resp
                .headers()
                .get(header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .and_then(max_age)
                .map_or(self.ttl, |age| age.clamp(self.min_refetch, MAX_TTL));
            let body = resp.into_body().collect(MAX_DOC_BYTES).await.ok()?;
            let jwks: serde_json::Value = serde_json::from_slice(&body).ok()?;
            let keys = parse_keys(&jwks)?;
            Some((jwks, keys, ttl))
        };
        let deadline = env.sleep.sleep(self.timeout);
        match select(Box::pin(work), deadline).await {
            Either::Left((r, _)) => r,
            Either::Right(((), _)) => None,
        }
    }
}

/// The usable public signing keys of a JWKS document; `None` if it is not one.
fn parse_keys(jwks: &serde_json::Value) -> Option<Vec<Key>> {
    let list = jwks.get("keys")?.as_array()?;
    Some(list.iter().filter_map(Key::from_jwk).collect())
}

/// `max-age` of a `Cache-Control` value; `no-store`/`no-cache` count as 0.
fn max_age(v: &str) -> Option<Duration> {
    let mut age = None;
    for d in v.split(',').map(str::trim) {
        let lower = d.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(n) = lower.strip_prefix("max-age=") {
            age = n
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read() {
        assert_eq!(
            max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
    }

    #[test]
    fn symmetric_and_private_keys_are_ignored() {
        let doc = serde_json::json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "kid": "h"},
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", "kid": "p"},
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "ok"},
        ]});
        let keys = parse_keys(&doc).expect("a jwks");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("ok"));
        assert!(parse_keys(&serde_json::json!({"nope": 1})).is_none());
    }
}
