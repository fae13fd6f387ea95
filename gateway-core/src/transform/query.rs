//! Query string edits: remove, rename, set and add parameters. Untouched
//! parameters keep their original encoding and order.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::validate::params::decode;

/// Characters left as they are in an encoded query component.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// One raw `name=value` pair, with its decoded name.
#[derive(Debug, Clone)]
struct Pair {
    name: String,
    raw: String,
}

/// A query being edited.
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<Pair>,
}

impl Query {
    /// Splits a raw query string.
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|raw| Pair {
                name: decode(raw.split_once('=').map_or(raw, |(k, _)| k)),
                raw: raw.to_owned(),
            })
            .collect();
        Self { pairs }
    }

    /// Drops every parameter called `name`.
    pub fn remove(&mut self, name: &str) {
        self.pairs.retain(|p| p.name != name);
    }

    /// Renames every parameter `from` to `to` (replacing any `to`).
    pub fn rename(&mut self, from: &str, to: &str) {
        if !self.pairs.iter().any(|p| p.name == from) {
            return;
        }
        self.remove(to);
        for p in self.pairs.iter_mut().filter(|p| p.name == from) {
            let value = p.raw.split_once('=').map(|(_, v)| v.to_owned());
            p.name = to.to_owned();
            p.raw = encode(to);
            if let Some(v) = value {
                p.raw.push('=');
                p.raw.push_str(&v);
            }
        }
    }

    /// Replaces every `name` with one `name=value`.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.pairs.iter().position(|p| p.name == name) {
            Some(i) => {
                self.pairs[i].raw = format!("{}={}", encode(name), encode(value));
                let mut seen = false;
                self.pairs.retain(|p| {
                    if p.name != name {
                        return true;
                    }
                    let keep = !seen;
                    seen = true;
                    keep
                });
            }
            None => self.add(name, value),
        }
    }

    /// Appends `name=value`.
    pub fn add(&mut self, name: &str, value: &str) {
        self.pairs.push(Pair {
            name: name.to_owned(),
            raw: format!("{}={}", encode(name), encode(value)),
        });
    }

    /// The query string, `None` when no parameter is left.
    pub fn render(&self) -> Option<String> {
        if self.pairs.is_empty() {
            return None;
        }
        let raw: Vec<&str> = self.pairs.iter().map(|p| p.raw.as_str()).collect();
        Some(raw.join("&"))
    }
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_other_parameters_as_sent() {
        let mut q = Query::parse(Some("a=1&b=x%20y&a=2&debug&old=v%2B"));
        q.remove("debug");
        q.rename("old", "new name");
        q.set("a", "3&4");
        q.add("c", "é");
        assert_eq!(
            q.render().as_deref(),
            Some("a=3%264&b=x%20y&new%20name=v%2B&c=%C3%A9")
        );
        let mut q = Query::parse(Some("x=1"));
        q.remove("x");
        assert_eq!(q.render(), None);
    }
}
