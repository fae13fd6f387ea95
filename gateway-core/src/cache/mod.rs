//! Response caching: a shared cache that follows RFC 9111 (through the
//! `http-cache-semantics` crate, always given times from `Env.clock`).
//!
//! Caching is a route stage, not a policy: it runs around the upstream call,
//! after the route's request policies (so authentication, the WAF and rate
//! limits apply to hits too) and before its response policies (which run on
//! hits too). What it does, module by module:
//!
//! - [`config`]: the top-level `cache:` section and a route's `cache:` field;
//! - `key`: the cache key, and the request sent upstream, which carries
//!   only keyed inputs (no cache poisoning);
//! - `entry`: a stored response and its stored form;
//! - `store`: the in-memory LRU store and the shared store;
//! - `bans`: purges by URL, prefix and tag;
//! - `coalesce`: one upstream request per key for concurrent misses;
//! - `serve`: the stage itself (hit, miss, stale, revalidation);
//! - `purge`: the purge API;
//! - `conditional`: `304` answers to the client's own `If-None-Match` and
//!   `If-Modified-Since`.
//!
//! Responses carry `X-Cache`: `HIT`, `MISS`, `STALE` (served stale while
//! refreshing, or because the upstream failed), `REVALIDATED` (a stored
//! response confirmed by a `304`) or `BYPASS` (a request the route does not
//! cache), and an `Age` computed for the moment they are served.

pub(crate) mod bans;
pub(crate) mod coalesce;
pub(crate) mod conditional;
pub mod config;
pub(crate) mod entry;
pub(crate) mod key;
pub(crate) mod purge;
pub(crate) mod serve;
pub(crate) mod store;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use http::{Request, Response};

pub use config::{CacheKeySpec, CacheSpec, CacheStoreSpec, PurgeSpec, RouteCacheSpec};

use crate::body::Body;
use crate::env::{BoxFuture, MaybeSend, MaybeSync};
use crate::error::GatewayError;

/// Sends a cacheable route's request to its upstream. Owned (`'static`), so
/// a stale entry can be refreshed in the background.
pub(crate) trait Origin: MaybeSend + MaybeSync {
    /// Forwards `req` as the route would.
    fn fetch(
        self: Arc<Self>,
        req: Request<Body>,
    ) -> BoxFuture<'static, Result<Response<Body>, GatewayError>>;
}

/// Cache state of one gateway, kept across config reloads: the memory
/// store, the in-flight fetches and the copy of the ban list.
#[derive(Default)]
pub(crate) struct CacheRuntime {
    pub(crate) memory: store::MemoryCache,
    pub(crate) locks: Arc<coalesce::Locks>,
    pub(crate) bans: bans::BanCache,
}

impl std::fmt::Debug for CacheRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheRuntime")
            .field("memory_bytes", &self.memory.bytes())
            .finish_non_exhaustive()
    }
}
