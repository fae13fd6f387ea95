//! Merge strategies: how the backends' answers become one JSON document.

use serde_json::{Map, Value};

use crate::transform::pointer::Pointer;

/// The member of the merged document that lists failed backends.
pub(crate) const ERRORS: &str = "_errors";

/// A validated merge strategy.
#[derive(Debug, Clone)]
pub(crate) enum Merge {
    /// Each answer under its backend's name.
    Key,
    /// Objects merged recursively, later backends winning.
    Deep,
    /// Arrays concatenated at a pointer.
    Concat(Pointer),
    /// Values copied by pointer.
    Map(Vec<Mapping>),
}

/// One value copied from a backend's answer into the result.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    /// Index of the backend.
    pub(crate) backend: usize,
    /// Pointer into its answer (`""` for the whole answer).
    pub(crate) from: String,
    /// Where the value goes.
    pub(crate) to: Pointer,
}

impl Merge {
    /// Whether an answer has the shape this strategy needs.
    pub(crate) fn accepts(&self, answer: &Value) -> bool {
        match self {
            Self::Deep => answer.is_object(),
            Self::Concat(_) => answer.is_array(),
            Self::Key | Self::Map(_) => true,
        }
    }

    /// Merges the answers (by backend index; `None` for a backend that
    /// failed) into one object.
    pub(crate) fn apply(&self, names: &[&str], answers: Vec<Option<Value>>) -> Value {
        let mut out = Value::Object(Map::new());
        match self {
            Self::Key => {
                if let Value::Object(m) = &mut out {
                    for (name, answer) in names.iter().zip(answers) {
                        if let Some(a) = answer {
                            m.insert((*name).to_owned(), a);
                        }
                    }
                }
            }
            Self::Deep => {
                for a in answers.into_iter().flatten() {
                    deep_merge(&mut out, a);
                }
            }
            Self::Concat(at) => {
                let all: Vec<Value> = answers
                    .into_iter()
                    .flatten()
                    .flat_map(|a| match a {
                        Value::Array(items) => items,
                        other => vec![other],
                    })
                    .collect();
                at.insert(&mut out, Value::Array(all), true);
            }
            Self::Map(mappings) => {
                for m in mappings {
                    let value = answers
                        .get(m.backend)
                        .and_then(Option::as_ref)
                        .and_then(|a| a.pointer(&m.from));
                    if let Some(v) = value {
                        m.to.insert(&mut out, v.clone(), true);
                    }
                }
            }
        }
        out
    }
}

/// Merges `from` into `into`: objects key by key, anything else replaced.
fn deep_merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(slot) => deep_merge(slot, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Pointer {
        Pointer::parse(s).expect("pointer")
    }

    #[test]
    fn key_puts_each_answer_under_its_name_and_skips_failures() {
        let out = Merge::Key.apply(
            &["user", "orders", "stats"],
            vec![Some(json!({"id": 1})), None, Some(json!([1, 2]))],
        );
        assert_eq!(out, json!({"user": {"id": 1}, "stats": [1, 2]}));
    }

    #[test]
    fn deep_merges_objects_in_order() {
        let out = Merge::Deep.apply(
            &["a", "b"],
            vec![
                Some(json!({"user": {"id": 1, "name": "ada"}, "tags": [1], "v": 1})),
                Some(json!({"user": {"name": "grace", "team": "x"}, "tags": [2], "v": {"n": 2}})),
            ],
        );
        assert_eq!(
            out,
            json!({"user": {"id": 1, "name": "grace", "team": "x"}, "tags": [2], "v": {"n": 2}})
        );
        assert!(Merge::Deep.accepts(&json!({})));
        assert!(!Merge::Deep.accepts(&json!([])));
    }

    #[test]
    fn concat_joins_arrays_at_the_pointer() {
        let m = Merge::Concat(p("/items"));
        assert!(m.accepts(&json!([])));
        assert!(!m.accepts(&json!({"items": []})));
        let out = m.apply(
            &["a", "b", "c"],
            vec![Some(json!([1, 2])), None, Some(json!([{"x": 3}]))],
        );
        assert_eq!(out, json!({"items": [1, 2, {"x": 3}]}));
    }

    #[test]
    fn map_copies_values_by_pointer_and_leaves_out_missing_ones() {
        let m = Merge::Map(vec![
            Mapping {
                backend: 0,
                from: "/data/items".into(),
                to: p("/items"),
            },
            Mapping {
                backend: 1,
                from: "".into(),
                to: p("/meta/user"),
            },
            Mapping {
                backend: 0,
                from: "/nope".into(),
                to: p("/missing"),
            },
            Mapping {
                backend: 2,
                from: "".into(),
                to: p("/failed"),
            },
        ]);
        let out = m.apply(
            &["a", "b", "c"],
            vec![
                Some(json!({"data": {"items": [1, 2]}})),
                Some(json!("ada")),
                None,
            ],
        );
        assert_eq!(out, json!({"items": [1, 2], "meta": {"user": "ada"}}));
    }
}
