//! Routing by host, path (matchit) and method, with header conditions and
//! priorities among routes that share a path pattern.
//!
//! Hosts are tried most specific first: exact name, then wildcard suffixes
//! (longest first), then routes without hosts. A path that matches but whose
//! method does not is a 405 with `Allow`. `GET` routes also answer `HEAD`.
//! A catch-all pattern `/files/{*rest}` also matches `/files` and `/files/`.

mod table;

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::error::RouteError;
use table::HostTable;

/// What a route is matched on.
#[derive(Debug, Clone)]
pub(crate) struct RouteKey {
    /// Index into the config's routes.
    pub(crate) route: usize,
    /// Lower-case host names; `*.example.com` wildcards allowed. Empty: any host.
    pub(crate) hosts: Vec<String>,
    /// Accepted methods; empty: any.
    pub(crate) methods: Vec<Method>,
    /// matchit pattern.
    pub(crate) path: String,
    /// Required header values.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// Higher wins among routes on the same pattern.
    pub(crate) priority: i32,
}

/// A successful match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Matched {
    /// Index into the config's routes.
    pub(crate) route: usize,
    /// Path parameters (still percent-encoded).
    pub(crate) params: Vec<(String, String)>,
}

/// The compiled routing table.
#[derive(Debug, Default)]
pub(crate) struct Router {
    exact: HashMap<String, HostTable>,
    /// `(".example.com", table)`, longest suffix first.
    wildcard: Vec<(String, HostTable)>,
    any: HostTable,
}

/// A routing conflict found while building.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteConflict {
    /// The route that could not be added.
    pub(crate) route: usize,
    /// Why.
    pub(crate) message: String,
}

impl Router {
    /// Builds the table; every conflict is reported.
    pub(crate) fn build(keys: &[RouteKey]) -> Result<Self, Vec<RouteConflict>> {
        let mut router = Self::default();
        let mut conflicts = Vec::new();
        for key in keys {
            for table in router.tables_for(&key.hosts) {
                if let Err(message) = table.add(key) {
                    conflicts.push(RouteConflict {
                        route: key.route,
                        message,
                    });
                }
            }
        }
        router
            .wildcard
            .sort_by_key(|w| std::cmp::Reverse(w.0.len()));
        for table in router.all_tables() {
            table.add_implicit();
        }
        if conflicts.is_empty() {
            Ok(router)
        } else {
            conflicts.dedup();
            Err(conflicts)
        }
    }

    fn tables_for(&mut self, hosts: &[String]) -> Vec<&mut HostTable> {
        if hosts.is_empty() {
            return vec![&mut self.any];
        }
        for h in hosts {
            if let Some(suffix) = h.strip_prefix('*') {
                if !self.wildcard.iter().any(|(s, _)| s == suffix) {
                    self.wildcard
                        .push((suffix.to_owned(), HostTable::default()));
                }
            } else {
                self.exact.entry(h.clone()).or_default();
            }
        }
        let mut out: Vec<&mut HostTable> = Vec::new();
        for (name, t) in self.exact.iter_mut() {
            if hosts.contains(name) {
                out.push(t);
            }
        }
        for (suffix, t) in self.wildcard.iter_mut() {
            if hosts
                .iter()
                .any(|h| h.strip_prefix('*') == Some(suffix.as_str()))
            {
                out.push(t);
            }
        }
        out
    }

    fn all_tables(&mut self) -> impl Iterator<Item = &mut HostTable> {
        self.exact
            .values_mut()
            .chain(self.wildcard.iter_mut().map(|(_, t)| t))
            .chain(std::iter::once(&mut self.any))
    }

    /// Finds the route for a request. `host` is lower-case without port.
    pub(crate) fn find(
        &self,
        host: Option<&str>,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<Matched, RouteError> {
        let mut allow: Vec<Method> = Vec::new();
        let host_tables = host.into_iter().flat_map(|h| {
            self.exact.get(h).into_iter().chain(
                self.wildcard
                    .iter()
                    .filter(move |(suffix, _)| {
                        h.len() > suffix.len() && h.ends_with(suffix.as_str())
                    })
                    .map(|(_, t)| t),
            )
        });
        for table in host_tables.chain(std::iter::once(&self.any)) {
            match table.find(method, path, headers, &mut allow) {
                Some(m) => return Ok(m),
                None => continue,
            }
        }
        if allow.is_empty() {
            Err(RouteError::NotFound)
        } else {
            allow.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            allow.dedup();
            Err(RouteError::MethodNotAllowed { allow })
        }
    }
}

#[cfg(test)]
mod tests;
