//! Request and response transformations used by the `transform` policy:
//! query parameter edits and JSON body edits by JSON pointer (remove,
//! rename/move, set, add, wrap, unwrap), with templated values. Non-JSON
//! bodies pass untouched; a changed body gets a correct `Content-Length`.

pub mod body;
mod config;
pub mod pointer;
pub mod query;

pub use body::BodyOps;
pub use config::{BodyOpsSpec, QueryOpsSpec, TransformOpsSpec, TransformSpec};

use crate::config::ConfigProblem;
use crate::policy::BuildCx;
use crate::policy::template::Template;

use self::query::Query;

/// Compiled query edits, applied in the order remove, rename, set, add.
#[derive(Debug, Default)]
pub struct QueryOps {
    remove: Vec<String>,
    rename: Vec<(String, String)>,
    set: Vec<(String, Template)>,
    add: Vec<(String, Template)>,
}

impl QueryOps {
    /// Checks and compiles query settings (`field` names them in problems).
    pub fn build(
        spec: QueryOpsSpec,
        field: &str,
        cx: &BuildCx,
        problems: &mut Vec<ConfigProblem>,
    ) -> Self {
        let mut templated = |map: std::collections::BTreeMap<String, String>, op: &str| {
            let mut out = Vec::new();
            for (k, v) in map {
                match Template::parse(&v, &cx.params) {
                    Ok(t) => out.push((k, t)),
                    Err(e) => problems.push(cx.problem(&format!("{field}.{op}.{k}"), e)),
                }
            }
            out
        };
        let set = templated(spec.set, "set");
        let add = templated(spec.add, "add");
        Self {
            remove: spec.remove,
            rename: spec.rename.into_iter().collect(),
            set,
            add,
        }
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty()
            && self.rename.is_empty()
            && self.set.is_empty()
            && self.add.is_empty()
    }

    /// The edited query string (`None`: no query left). `render` turns a
    /// template into its value for this request.
    pub(crate) fn apply(
        &self,
        query: Option<&str>,
        render: &dyn Fn(&Template) -> String,
    ) -> Option<String> {
        let mut q = Query::parse(query);
        for name in &self.remove {
            q.remove(name);
        }
        for (from, to) in &self.rename {
            q.rename(from, to);
        }
        for (name, t) in &self.set {
            q.set(name, &render(t));
        }
        for (name, t) in &self.add {
            q.add(name, &render(t));
        }
        q.render()
    }
}
