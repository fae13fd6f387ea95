//! Compiled JSON body edits.

use serde_json::{Map, Value};

use super::config::BodyOpsSpec;
use super::pointer::Pointer;
use crate::config::ConfigProblem;
use crate::policy::BuildCx;
use crate::policy::template::Template;

#[derive(Debug)]
enum NewValue {
    Literal(Value),
    Template(Template),
}

/// JSON body edits, applied in the order unwrap, remove, rename, set, add, wrap.
#[derive(Debug, Default)]
pub struct BodyOps {
    unwrap: Option<Pointer>,
    remove: Vec<Pointer>,
    rename: Vec<(Pointer, Pointer)>,
    set: Vec<(Pointer, NewValue)>,
    add: Vec<(Pointer, NewValue)>,
    wrap: Option<String>,
}

impl BodyOps {
    /// Checks and compiles body settings (`field` names them in problems).
    pub fn build(
        spec: BodyOpsSpec,
        field: &str,
        cx: &BuildCx,
        problems: &mut Vec<ConfigProblem>,
    ) -> Self {
        let pointer =
            |p: &str, at: String, problems: &mut Vec<ConfigProblem>| match Pointer::parse(p) {
                Ok(p) => Some(p),
                Err(e) => {
                    problems.push(cx.problem(&at, e));
                    None
                }
            };
        let unwrap = spec
            .unwrap
            .as_deref()
            .and_then(|p| pointer(p, format!("{field}.unwrap"), problems));
        let mut remove = Vec::new();
        for (i, p) in spec.remove.iter().enumerate() {
            remove.extend(pointer(p, format!("{field}.remove[{i}]"), problems));
        }
        let mut rename = Vec::new();
        for (a, b) in &spec.rename {
            let at = format!("{field}.rename.{a}");
            if let (Some(a), Some(b)) = (pointer(a, at.clone(), problems), pointer(b, at, problems))
            {
                rename.push((a, b));
            }
        }
        let values = |map: std::collections::BTreeMap<String, Value>,
                      op: &str,
                      problems: &mut Vec<ConfigProblem>| {
            let mut out = Vec::new();
            for (k, v) in map {
                let at = format!("{field}.{op}.{k}");
                let Some(p) = pointer(&k, at.clone(), problems) else {
                    continue;
                };
                match v {
                    Value::String(s) => match Template::parse(&s, &cx.params) {
                        Ok(t) => out.push((p, NewValue::Template(t))),
                        Err(e) => problems.push(cx.problem(&at, e)),
                    },
                    other => out.push((p, NewValue::Literal(other))),
                }
            }
            out
        };
        let set = values(spec.set, "set", problems);
        let add = values(spec.add, "add", problems);
        if spec.wrap.as_deref() == Some("") {
            problems.push(cx.problem(&format!("{field}.wrap"), "the key must not be empty"));
        }
        Self {
            unwrap,
            remove,
            rename,
            set,
            add,
            wrap: spec.wrap,
        }
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.unwrap.is_none()
            && self.remove.is_empty()
            && self.rename.is_empty()
            && self.set.is_empty()
            && self.add.is_empty()
            && self.wrap.is_none()
    }

    /// Edits a parsed body; `render` gives a template's value for this message.
    pub(crate) fn apply(&self, mut body: Value, render: &dyn Fn(&Template) -> String) -> Value {
        if let Some(inner) = self.unwrap.as_ref().and_then(|p| p.remove(&mut body)) {
            body = inner;
        }
        for p in &self.remove {
            p.remove(&mut body);
        }
        for (from, to) in &self.rename {
            if let Some(v) = from.remove(&mut body) {
                to.insert(&mut body, v, true);
            }
        }
        let value = |v: &NewValue| match v {
            NewValue::Literal(v) => v.clone(),
            NewValue::Template(t) => Value::String(render(t)),
        };
        for (p, v) in &self.set {
            p.insert(&mut body, value(v), true);
        }
        for (p, v) in &self.add {
            p.insert(&mut body, value(v), false);
        }
        if let Some(key) = &self.wrap {
            let mut m = Map::new();
            m.insert(key.clone(), body);
            body = Value::Object(m);
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(spec: serde_json::Value) -> BodyOps {
        let cx = BuildCx {
            path: "t".into(),
            params: vec!["id".into()],
            auth: Default::default(),
            rate_limits: Default::default(),
        };
        let spec: BodyOpsSpec = serde_json::from_value(spec).expect("spec");
        let mut problems = Vec::new();
        let ops = BodyOps::build(spec, "body", &cx, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        ops
    }

    #[test]
    fn applies_in_order() {
        let o = ops(json!({
            "unwrap": "/data",
            "remove": ["/password"],
            "rename": {"/userName": "/user/name"},
            "set": {"/user/id": "{id}", "/n": 3},
            "add": {"/n": 4, "/tag": "new"},
            "wrap": "payload"
        }));
        let out = o.apply(
            json!({"data": {"userName": "ada", "password": "x", "n": 1}}),
            &|_| "42".to_owned(),
        );
        assert_eq!(
            out,
            json!({"payload": {"user": {"name": "ada", "id": "42"}, "n": 3, "tag": "42"}})
        );
    }

    #[test]
    fn refuses_bad_pointers() {
        let cx = BuildCx {
            path: "t".into(),
            params: vec![],
            auth: Default::default(),
            rate_limits: Default::default(),
        };
        let spec: BodyOpsSpec =
            serde_json::from_value(json!({"remove": ["password"], "set": {"/a": "{nope}"}}))
                .expect("spec");
        let mut problems = Vec::new();
        BodyOps::build(spec, "body", &cx, &mut problems);
        assert_eq!(problems.len(), 2);
    }
}
