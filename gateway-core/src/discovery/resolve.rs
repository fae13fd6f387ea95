//! Server-side discovery at request time: a `service` (or `dns`) upstream
//! becomes the endpoints of its live instances, cached briefly in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{DirectoryError, DnsQuery, Instance, NameResolver, ServiceRegistry};
use crate::error::{GatewayError, UpstreamError};
use crate::upstream::Endpoint;

/// How long a cached set may still be used when a fresh lookup fails.
const STALE_IF_ERROR: Duration = Duration::from_secs(30);
/// Most cached sets; the cache starts over when it is full.
const MAX_CACHED: usize = 1024;

/// Where a discovered upstream's instances come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    /// A service registered in the gateway's registry.
    Service(String),
    /// A DNS name (self-hosted target).
    Dns(DnsQuery),
}

/// A validated `service` or `dns` upstream.
#[derive(Debug, Clone)]
pub(crate) struct Discovered {
    pub(crate) source: Source,
    /// Prepended to the request path; no trailing slash ("" for none).
    pub(crate) base_path: String,
    /// Replaces each instance's scheme when set.
    pub(crate) scheme: Option<&'static str>,
    /// How long a resolved set is reused. DNS upstreams use zero: the
    /// resolver caches answers for their records' TTLs.
    pub(crate) cache_for: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    source: Source,
    base_path: String,
    scheme: Option<&'static str>,
}

struct Cached {
    fetched_at_ms: u64,
    endpoints: Arc<[Endpoint]>,
}

/// What a gateway discovers through: the directory and resolver its target
/// wired in, and the cache of resolved endpoint sets (shared by configs
/// across reloads).
#[derive(Default)]
pub(crate) struct Discovery {
    pub(crate) registry: Option<Arc<dyn ServiceRegistry>>,
    pub(crate) resolver: Option<Arc<dyn NameResolver>>,
    cache: Mutex<HashMap<CacheKey, Cached>>,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery")
            .field("registry", &self.registry.is_some())
            .field("resolver", &self.resolver.is_some())
            .finish_non_exhaustive()
    }
}

impl Discovery {
    /// A copy with the same directory and resolver and an empty cache.
    pub(crate) fn rewired(
        &self,
        registry: Option<Arc<dyn ServiceRegistry>>,
        resolver: Option<Arc<dyn NameResolver>>,
    ) -> Self {
        Self {
            registry: registry.or_else(|| self.registry.clone()),
            resolver: resolver.or_else(|| self.resolver.clone()),
            ..Self::default()
        }
    }

    fn cached(&self, key: &CacheKey, now_ms: u64, max_age: Duration) -> Option<Arc<[Endpoint]>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let c = cache.get(key)?;
        (now_ms.saturating_sub(c.fetched_at_ms) < max_age.as_millis() as u64)
            .then(|| c.endpoints.clone())
    }

    async fn lookup(&self, source: &Source) -> Result<Vec<Instance>, GatewayError> {
        match source {
            Source::Service(name) => match &self.registry {
                Some(r) => Ok(r.healthy_instances(name).await?),
                None => Err(GatewayError::Internal(
                    "no service directory on this target",
                )),
            },
            Source::Dns(q) => match &self.resolver {
                Some(r) => Ok(r.resolve(q).await?),
                // The capability check refuses `dns` upstreams without one.
                None => Err(DirectoryError::Lookup.into()),
            },
        }
    }

    /// The endpoints of `d`'s live instances, from the cache when fresh
    /// enough. An empty set is a 503 naming only the service.
    pub(crate) async fn endpoints(
        &self,
        d: &Discovered,
        now_ms: u64,
    ) -> Result<Arc<[Endpoint]>, GatewayError> {
        let key = CacheKey {
            source: d.source.clone(),
            base_path: d.base_path.clone(),
            scheme: d.scheme,
        };
        let endpoints = match self.cached(&key, now_ms, d.cache_for) {
            Some(e) => e,
            None => match self.lookup(&d.source).await {
                Ok(instances) => {
                    let endpoints: Arc<[Endpoint]> =
                        instances.iter().filter_map(|i| to_endpoint(i, d)).collect();
                    if !d.cache_for.is_zero() {
                        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                        if cache.len() >= MAX_CACHED && !cache.contains_key(&key) {
                            cache.clear();
                        }
                        cache.insert(
                            key,
                            Cached {
                                fetched_at_ms: now_ms,
                                endpoints: endpoints.clone(),
                            },
                        );
                    }
                    endpoints
                }
                Err(e) => match self.cached(&key, now_ms, d.cache_for + STALE_IF_ERROR) {
                    Some(stale) => stale,
                    None => return Err(e),
                },
            },
        };
        if endpoints.is_empty() {
            return Err(UpstreamError::NoInstance(match &d.source {
                Source::Service(name) => Some(name.clone()),
                Source::Dns(_) => None,
            })
            .into());
        }
        Ok(endpoints)
    }
}

fn to_endpoint(i: &Instance, d: &Discovered) -> Option<Endpoint> {
    match d.scheme {
        Some(s) if s != i.scheme => Endpoint::from_instance(
            &Instance {
                scheme: s.to_owned(),
                ..i.clone()
            },
            &d.base_path,
        ),
        _ => Endpoint::from_instance(i, &d.base_path),
    }
    .ok()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_executor::block_on;

    use super::*;
    use crate::discovery::{Registration, ServiceDirectory, ServiceSummary};

    /// A directory answering from a list it can be told to change or fail.
    #[derive(Default)]
    struct Fixed {
        instances: Mutex<Option<Vec<Instance>>>,
        calls: AtomicUsize,
    }

    impl Fixed {
        fn set(&self, v: Option<Vec<Instance>>) {
            *self.instances.lock().expect("lock") = v;
        }
    }

    #[async_trait::async_trait]
    impl ServiceDirectory for Fixed {
        async fn healthy_instances(&self, _s: &str) -> Result<Vec<Instance>, DirectoryError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.instances
                .lock()
                .expect("lock")
                .clone()
                .ok_or(DirectoryError::Storage(
                    crate::store::StorageError::Unavailable("down".into()),
                ))
        }
    }

    #[async_trait::async_trait]
    impl ServiceRegistry for Fixed {
        async fn register(
            &self,
            _i: Instance,
            _t: Duration,
        ) -> Result<Registration, DirectoryError> {
            Err(DirectoryError::Contended)
        }
        async fn heartbeat(
            &self,
            _s: &str,
            _i: &str,
            _t: Option<Duration>,
        ) -> Result<Registration, DirectoryError> {
            Err(DirectoryError::NotRegistered)
        }
        async fn deregister(&self, _s: &str, _i: &str) -> Result<bool, DirectoryError> {
            Ok(false)
        }
        async fn registrations(&self, _s: &str) -> Result<Vec<Registration>, DirectoryError> {
            Ok(Vec::new())
        }
        async fn services(&self) -> Result<Vec<ServiceSummary>, DirectoryError> {
            Ok(Vec::new())
        }
    }

    fn instance(id: &str, port: u16) -> Instance {
        Instance {
            id: id.into(),
            service: "users".into(),
            address: "10.0.0.1".into(),
            port,
            scheme: "http".into(),
            weight: 1,
            zone: None,
            version: None,
            metadata: Default::default(),
        }
    }

    fn discovered(cache_ms: u64) -> Discovered {
        Discovered {
            source: Source::Service("users".into()),
            base_path: "/api".into(),
            scheme: Some("https"),
            cache_for: Duration::from_millis(cache_ms),
        }
    }

    #[test]
    fn resolves_caches_and_serves_stale_on_error() {
        let dir = Arc::new(Fixed::default());
        dir.set(Some(vec![instance("a", 1), instance("b", 2)]));
        let disc = Discovery::default().rewired(Some(dir.clone()), None);
        let d = discovered(1000);
        let e = block_on(disc.endpoints(&d, 0)).expect("endpoints");
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[0].target_uri(&http::Uri::from_static("/x")).expect("uri"),
            "https://10.0.0.1:1/api/x",
            "scheme override and base path"
        );
        dir.set(Some(vec![instance("c", 3)]));
        assert_eq!(block_on(disc.endpoints(&d, 999)).expect("cached").len(), 2);
        assert_eq!(dir.calls.load(Ordering::SeqCst), 1);
        assert_eq!(block_on(disc.endpoints(&d, 1000)).expect("fresh").len(), 1);
        dir.set(None);
        assert_eq!(
            block_on(disc.endpoints(&d, 2500)).expect("stale").len(),
            1,
            "stale set while the directory fails"
        );
        let err = block_on(disc.endpoints(&d, 1000 + 1000 + 30_000)).expect_err("too stale");
        assert_eq!(err.status(), 503);
    }

    #[test]
    fn empty_set_is_503_naming_the_service() {
        let dir = Arc::new(Fixed::default());
        dir.set(Some(Vec::new()));
        let disc = Discovery::default().rewired(Some(dir), None);
        let err = block_on(disc.endpoints(&discovered(0), 0)).expect_err("empty");
        let resp = err.into_response();
        assert_eq!(resp.status(), 503);
        let body = block_on(resp.into_body().collect(1 << 16)).expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["type"], "urn:gateway:problem:no-instance");
        assert_eq!(v["detail"], "No instance of service `users` is available.");
    }
}
