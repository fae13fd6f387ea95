//! The registry: the core's [`ServiceRegistry`] over its [`KvStore`].

use std::sync::Arc;
use std::time::Duration;

use gateway_core::discovery::{
    DirectoryError, Instance, Registration, ServiceDirectory, ServiceRegistry, ServiceSummary,
    check_names,
};
use gateway_core::{Env, KvStore};

use crate::cas::Cas;
use crate::layout::{INDEX_KEY, Index, ServiceDoc, service_key};
use crate::validate::{Limits, check_instance};

/// The service registry, kept in a [`KvStore`] (layout in [`crate::layout`]).
///
/// Cheap to clone; clones share the store.
#[derive(Clone)]
pub struct Registry {
    cas: Cas,
    limits: Limits,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A registry in `env.store`, with `env`'s clock (expiry) and sleep
    /// and randomness (retry backoff), and the default [`Limits`].
    pub fn new(env: &Env) -> Self {
        Self::with_store(env, env.store.clone())
    }

    /// Like [`Registry::new`], over another store.
    pub fn with_store(env: &Env, store: Arc<dyn KvStore>) -> Self {
        Self {
            cas: Cas {
                store,
                clock: env.clock.clone(),
                sleep: env.sleep.clone(),
                rng: env.rng.clone(),
            },
            limits: Limits::default(),
        }
    }

    /// This registry with other size bounds.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Adds `service` to the index unless it is there. When the index is
    /// full, names without a live registration are pruned first.
    async fn index(&self, service: &str) -> Result<(), DirectoryError> {
        let index: Index = self.cas.read(INDEX_KEY).await?;
        if index.services.contains(service) {
            return Ok(());
        }
        let mut dead = Vec::new();
        if index.services.len() >= self.limits.max_services {
            let now = self.cas.clock.now_ms();
            for name in &index.services {
                let doc: ServiceDoc = self.cas.read(&service_key(name)).await?;
                if doc.live(now).next().is_none() {
                    dead.push(name.clone());
                }
            }
        }
        let max = self.limits.max_services;
        self.cas
            .update(INDEX_KEY, |index: &mut Index, _now| {
                if index.services.contains(service) {
                    return Ok(((), false));
                }
                for name in &dead {
                    index.services.remove(name);
                }
                if index.services.len() >= max {
                    return Err(DirectoryError::Full(format!(
                        "at most {max} services can be registered"
                    )));
                }
                index.services.insert(service.to_owned());
                Ok(((), true))
            })
            .await
    }

    async fn document(&self, service: &str) -> Result<ServiceDoc, DirectoryError> {
        self.cas.read(&service_key(service)).await
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl ServiceDirectory for Registry {
    async fn healthy_instances(&self, service: &str) -> Result<Vec<Instance>, DirectoryError> {
        Ok(self
            .registrations(service)
            .await?
            .into_iter()
            .map(|r| r.instance)
            .collect())
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl ServiceRegistry for Registry {
    async fn register(
        &self,
        instance: Instance,
        ttl: Duration,
    ) -> Result<Registration, DirectoryError> {
        let instance = check_instance(instance, &self.limits)?;
        self.index(&instance.service).await?;
        let max = self.limits.max_instances_per_service;
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.cas
            .update(
                &service_key(&instance.service),
                |doc: &mut ServiceDoc, now| {
                    doc.prune(now);
                    if !doc.instances.contains_key(&instance.id) && doc.instances.len() >= max {
                        return Err(DirectoryError::Full(format!(
                            "at most {max} instances of a service can be registered"
                        )));
                    }
                    let reg = Registration {
                        instance: instance.clone(),
                        ttl_ms,
                        expires_at_ms: now.saturating_add(ttl_ms),
                    };
                    doc.instances.insert(instance.id.clone(), reg.clone());
                    Ok((reg, true))
                },
            )
            .await
    }

    async fn heartbeat(
        &self,
        service: &str,
        id: &str,
        ttl: Option<Duration>,
    ) -> Result<Registration, DirectoryError> {
        check_names(service, Some(id))?;
        let ttl_ms = ttl.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
        self.cas
            .update(&service_key(service), |doc: &mut ServiceDoc, now| {
                doc.prune(now);
                let reg = doc
                    .instances
                    .get_mut(id)
                    .ok_or(DirectoryError::NotRegistered)?;
                reg.ttl_ms = ttl_ms.unwrap_or(reg.ttl_ms);
                reg.expires_at_ms = now.saturating_add(reg.ttl_ms);
                Ok((reg.clone(), true))
            })
            .await
    }

    async fn deregister(&self, service: &str, id: &str) -> Result<bool, DirectoryError> {
        check_names(service, Some(id))?;
        self.cas
            .update(&service_key(service), |doc: &mut ServiceDoc, now| {
                let pruned = doc.prune(now);
                let removed = doc.instances.remove(id).is_some();
                Ok((removed, removed || pruned))
            })
            .await
    }

    async fn registrations(&self, service: &str) -> Result<Vec<Registration>, DirectoryError> {
        check_names(service, None)?;
        let doc = self.document(service).await?;
        let now = self.cas.clock.now_ms();
        Ok(doc.live(now).cloned().collect())
    }

    async fn services(&self) -> Result<Vec<ServiceSummary>, DirectoryError> {
        let index: Index = self.cas.read(INDEX_KEY).await?;
        let mut out = Vec::new();
        for name in index.services {
            let doc = self.document(&name).await?;
            let instances = doc.live(self.cas.clock.now_ms()).count();
            if instances > 0 {
                out.push(ServiceSummary { name, instances });
            }
        }
        Ok(out)
    }
}
