//! One host's routes: a matchit tree of patterns, each with its candidates.

use std::collections::HashMap;

use http::{HeaderMap, Method};

use super::{Matched, RouteKey};

#[derive(Debug, Clone)]
struct Candidate {
    route: usize,
    methods: Vec<Method>,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    priority: i32,
}

impl Candidate {
    fn accepts(&self, m: &Method) -> bool {
        self.methods.is_empty()
            || self.methods.contains(m)
            || (*m == Method::HEAD && self.methods.contains(&Method::GET))
    }

    fn overlaps(&self, other: &Candidate) -> Option<String> {
        if self.priority != other.priority || self.headers != other.headers {
            return None;
        }
        if self.methods.is_empty() || other.methods.is_empty() {
            return Some("any method".to_owned());
        }
        self.methods
            .iter()
            .find(|m| other.methods.contains(m))
            .map(|m| format!("method {m}"))
    }

    fn headers_match(&self, headers: &HeaderMap) -> bool {
        self.headers.iter().all(|(k, v)| headers.get(k) == Some(v))
    }
}

/// A host's routing table.
#[derive(Debug, Default)]
pub(super) struct HostTable {
    paths: matchit::Router<usize>,
    /// Candidates per pattern, best first.
    slots: Vec<Vec<Candidate>>,
    /// Pattern text → slot.
    patterns: HashMap<String, usize>,
}

impl HostTable {
    pub(super) fn add(&mut self, key: &RouteKey) -> Result<(), String> {
        let slot = match self.patterns.get(&key.path) {
            Some(&s) => s,
            None => {
                let s = self.slots.len();
                self.paths
                    .insert(key.path.clone(), s)
                    .map_err(|e| format!("{e}"))?;
                self.patterns.insert(key.path.clone(), s);
                self.slots.push(Vec::new());
                s
            }
        };
        let cand = Candidate {
            route: key.route,
            methods: key.methods.clone(),
            headers: {
                let mut h = key.headers.clone();
                h.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
                h
            },
            priority: key.priority,
        };
        let list = &mut self.slots[slot];
        if let Some((other, what)) = list
            .iter()
            .find_map(|c| c.overlaps(&cand).map(|w| (c.route, w)))
        {
            return Err(format!(
                "duplicate route: routes[{other}] already serves `{}` for {what} on the same host with the same conditions",
                key.path
            ));
        }
        list.push(cand);
        // Higher priority first, then more header conditions, then config order.
        list.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(b.headers.len().cmp(&a.headers.len()))
                .then(a.route.cmp(&b.route))
        });
        Ok(())
    }

    /// Lets `/x/{*rest}` also match `/x` and `/x/` unless a route claims them.
    pub(super) fn add_implicit(&mut self) {
        let catch_alls: Vec<(String, usize)> = self
            .patterns
            .iter()
            .filter_map(|(p, &s)| {
                let idx = p.rfind("/{*")?;
                p.ends_with('}').then(|| (p[..idx].to_owned(), s))
            })
            .collect();
        for (prefix, slot) in catch_alls {
            let with_slash = format!("{prefix}/");
            for p in [with_slash, prefix] {
                if !p.is_empty()
                    && !self.patterns.contains_key(&p)
                    && self.paths.insert(p.clone(), slot).is_ok()
                {
                    self.patterns.insert(p, slot);
                }
            }
        }
    }

    pub(super) fn find(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        allow: &mut Vec<Method>,
    ) -> Option<Matched> {
        let m = self.paths.at(path).ok()?;
        let candidates = &self.slots[*m.value];
        for c in candidates {
            if !c.headers_match(headers) {
                continue;
            }
            if c.accepts(method) {
                let params = m
                    .params
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                return Some(Matched {
                    route: c.route,
                    params,
                });
            }
            if c.methods.is_empty() {
                continue;
            }
            allow.extend(c.methods.iter().cloned());
            if c.methods.contains(&Method::GET) {
                allow.push(Method::HEAD);
            }
        }
        None
    }
}
