//! A client for the registry's HTTP API, for services that register
//! themselves and look up others (client-side discovery).
//!
//! It runs on any runtime: requests go through the core's
//! [`HttpClient`](gateway_core::HttpClient), waits through its
//! [`Sleep`](gateway_core::Sleep) and cache ages through its
//! [`Clock`](gateway_core::Clock), all taken from an [`Env`] (on tokio:
//! `gateway_tokio::tokio_env`).
//!
//! ```no_run
//! # async fn run(env: gateway_core::Env) -> Result<(), gateway_registry::client::ClientError> {
//! use std::time::Duration;
//! use gateway_core::discovery::wire::RegisterRequest;
//! use gateway_registry::client::RegistryClient;
//!
//! let client = RegistryClient::new("http://gateway:8080/registry", "TOKEN", &env)?;
//! let me = RegisterRequest { address: "10.0.0.7".into(), port: 8080, ttl_ms: Some(15_000), ..Default::default() };
//! client.register("users", "users-1", &me).await?;
//! // Heartbeat every 5 s in the background; re-registers if the registration lapsed.
//! let beats = client.clone().heartbeat_loop("users".into(), "users-1".into(), me, Duration::from_secs(5));
//! // ... spawn `beats` on the runtime; look up another service (cached):
//! let orders = client.instances("orders").await?;
//! # drop((beats, orders)); Ok(()) }
//! ```

mod error;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::{Either, select};
use gateway_core::discovery::wire::{InstancesResponse, RegisterRequest};
use gateway_core::discovery::{DirectoryError, Instance, Registration, check_names};
use gateway_core::{Body, Clock, Env, HttpClient, SendOptions, Sleep};
use http::{HeaderValue, Method, Request, StatusCode, header};
use serde::de::DeserializeOwned;

pub use error::ClientError;

/// Largest answer body the client reads.
const MAX_ANSWER: u64 = 1 << 20;

/// Looked-up instances by service, with the time they were fetched.
type Cache = Mutex<HashMap<String, (u64, Arc<[Instance]>)>>;

struct Inner {
    /// `http(s)://host:port/prefix`, without trailing slash.
    base: String,
    authorization: HeaderValue,
    http: Arc<dyn HttpClient>,
    clock: Arc<dyn Clock>,
    sleep: Arc<dyn Sleep>,
    timeout: Duration,
    cache_ttl: Duration,
    cache: Cache,
}

/// A registry client. Cheap to clone; clones share the lookup cache.
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("base", &self.inner.base)
            .finish_non_exhaustive()
    }
}

fn names(service: &str, id: Option<&str>) -> Result<(), ClientError> {
    check_names(service, id).map_err(|e| match e {
        DirectoryError::Invalid(why) => ClientError::Invalid(why),
        other => ClientError::Invalid(other.to_string()),
    })
}

impl RegistryClient {
    /// A client for the API at `base_url` (the gateway's address and the
    /// registry prefix, e.g. `http://gateway:8080/registry`) presenting
    /// `token`. Lookups are cached for 2 s and requests time out after 5 s.
    pub fn new(base_url: &str, token: &str, env: &Env) -> Result<Self, ClientError> {
        let base = base_url.trim_end_matches('/');
        let uri: http::Uri = base
            .parse()
            .map_err(|_| ClientError::Invalid(format!("`{base}` is not a URL")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
            return Err(ClientError::Invalid(
                "the base URL is http:// or https:// with a host".into(),
            ));
        }
        let authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| ClientError::Invalid("the token is not a valid header value".into()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                base: base.to_owned(),
                authorization,
                http: env.http.clone(),
                clock: env.clock.clone(),
                sleep: env.sleep.clone(),
                timeout: Duration::from_secs(5),
                cache_ttl: Duration::from_secs(2),
                cache: Mutex::new(HashMap::new()),
            }),
        })
    }

    fn reconfigured(self, f: impl FnOnce(&mut Inner)) -> Self {
        let old = &self.inner;
        let mut inner = Inner {
            base: old.base.clone(),
            authorization: old.authorization.clone(),
            http: old.http.clone(),
            clock: old.clock.clone(),
            sleep: old.sleep.clone(),
            timeout: old.timeout,
            cache_ttl: old.cache_ttl,
            cache: Mutex::new(HashMap::new()),
        };
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// This client with lookups cached for `ttl` (zero: not cached).
    pub fn with_cache_ttl(self, ttl: Duration) -> Self {
        self.reconfigured(|i| i.cache_ttl = ttl)
    }

    /// This client with requests given up after `timeout`.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        self.reconfigured(|i| i.timeout = timeout)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, bytes::Bytes), ClientError> {
        let inner = &self.inner;
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", inner.base))
            .header(header::AUTHORIZATION, inner.authorization.clone());
        if body.is_some() {
            b = b.header(header::CONTENT_TYPE, "application/json");
        }
        let req = b
            .body(body.map_or_else(Body::empty, Body::full))
            .map_err(|_| ClientError::Invalid("the request could not be built".into()))?;
        let options = SendOptions {
            connect_timeout: inner.timeout,
            ca_file: None,
        };
        let send = inner.http.send(req, options);
        let deadline = inner.sleep.sleep(inner.timeout);
        let resp = match select(send, deadline).await {
            Either::Left((r, _)) => r.map_err(|_| ClientError::Unreachable)?,
            Either::Right(((), _)) => return Err(ClientError::Unreachable),
        };
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect(MAX_ANSWER)
            .await
            .map_err(|_| ClientError::Unreachable)?;
        if status.is_success() {
            Ok((status, bytes))
        } else {
            Err(ClientError::from_problem(status, &bytes))
        }
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T, ClientError> {
        let (_, bytes) = self.call(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|_| ClientError::Malformed)
    }

    /// Registers (or replaces) instance `id` of `service`.
    pub async fn register(
        &self,
        service: &str,
        id: &str,
        request: &RegisterRequest,
    ) -> Result<Registration, ClientError> {
        names(service, Some(id))?;
        let body = serde_json::to_vec(request).map_err(|_| ClientError::Malformed)?;
        self.call_json(
            Method::PUT,
            &format!("/services/{service}/instances/{id}"),
            Some(body),
        )
        .await
    }

    /// Renews the registration for the TTL it was registered with.
    /// [`ClientError::NotRegistered`] when it lapsed: register again.
    pub async fn heartbeat(&self, service: &str, id: &str) -> Result<Registration, ClientError> {
        names(service, Some(id))?;
        self.call_json(
            Method::POST,
            &format!("/services/{service}/instances/{id}/heartbeat"),
            None,
        )
        .await
    }

    /// Removes the registration; tells whether it was still live.
    pub async fn deregister(&self, service: &str, id: &str) -> Result<bool, ClientError> {
        names(service, Some(id))?;
        match self
            .call(
                Method::DELETE,
                &format!("/services/{service}/instances/{id}"),
                None,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(ClientError::NotRegistered) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The live instances of `service`, from the cache while it is fresh.
    pub async fn instances(&self, service: &str) -> Result<Arc<[Instance]>, ClientError> {
        names(service, None)?;
        let inner = &self.inner;
        let now = inner.clock.now_ms();
        let ttl_ms = u64::try_from(inner.cache_ttl.as_millis()).unwrap_or(u64::MAX);
        if let Some((at, set)) = inner
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(service)
            && now.saturating_sub(*at) < ttl_ms
        {
            return Ok(set.clone());
        }
        let answer: InstancesResponse = self
            .call_json(Method::GET, &format!("/services/{service}/instances"), None)
            .await?;
        let set: Arc<[Instance]> = answer.instances.into_iter().map(|r| r.instance).collect();
        if ttl_ms > 0 {
            inner
                .cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(service.to_owned(), (now, set.clone()));
        }
        Ok(set)
    }

    /// Heartbeats `id` of `service` every `every`, for as long as the
    /// future runs (drop or abort it to stop; the registration then lapses
    /// after its TTL). A lapsed registration is made again from `request`;
    /// unreachable registries and busy answers are retried at the next
    /// beat. Ends only on an error that retrying cannot fix (refused token,
    /// invalid registration), which it returns.
    pub async fn heartbeat_loop(
        self,
        service: String,
        id: String,
        request: RegisterRequest,
        every: Duration,
    ) -> ClientError {
        loop {
            self.inner.sleep.sleep(every).await;
            let beat = match self.heartbeat(&service, &id).await {
                Err(ClientError::NotRegistered) => {
                    self.register(&service, &id, &request).await.map(drop)
                }
                other => other.map(drop),
            };
            match beat {
                Ok(()) => {}
                Err(e) if e.is_transient() => {}
                Err(e) => return e,
            }
        }
    }
}

#[cfg(test)]
mod tests;
