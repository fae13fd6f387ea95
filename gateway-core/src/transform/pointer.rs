//! Editing JSON values by JSON pointer (RFC 6901): remove, insert (creating
//! missing objects on the way) and move.

use serde_json::{Map, Value};

/// A parsed, non-root JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    tokens: Vec<String>,
}

impl Pointer {
    /// Parses `/a/b~1c`; the root pointer `""` is refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!(
                "`{text}` is not a JSON pointer below the root (e.g. `/user/name`)"
            ));
        };
        let tokens = rest
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        Ok(Self {
            text: text.to_owned(),
            tokens,
        })
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Removes and returns the value at the pointer, if there is one.
    pub fn remove(&self, root: &mut Value) -> Option<Value> {
        let (last, parents) = self.tokens.split_last()?;
        let mut cur = root;
        for t in parents {
            cur = step(cur, t)?;
        }
        match cur {
            Value::Object(m) => m.remove(last),
            Value::Array(a) => match last.parse::<usize>() {
                Ok(i) if i < a.len() => Some(a.remove(i)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Puts `value` at the pointer, creating missing objects on the way.
    /// With `overwrite` unset an existing value is kept. `-` appends to an
    /// array. Returns whether the value was placed.
    pub fn insert(&self, root: &mut Value, value: Value, overwrite: bool) -> bool {
        let Some((last, parents)) = self.tokens.split_last() else {
            return false;
        };
        let mut cur = root;
        for t in parents {
            if cur.is_null() {
                *cur = Value::Object(Map::new());
            }
            if let Value::Object(m) = cur {
                cur = m.entry(t.clone()).or_insert(Value::Null);
                continue;
            }
            match step(cur, t) {
                Some(next) => cur = next,
                None => return false,
            }
        }
        if cur.is_null() {
            *cur = Value::Object(Map::new());
        }
        match cur {
            Value::Object(m) if overwrite || !m.contains_key(last) => {
                m.insert(last.clone(), value);
                true
            }
            Value::Array(a) => match (last.as_str(), last.parse::<usize>()) {
                ("-", _) => {
                    a.push(value);
                    true
                }
                (_, Ok(i)) if i < a.len() && overwrite => {
                    a[i] = value;
                    true
                }
                (_, Ok(i)) if i == a.len() => {
                    a.push(value);
                    true
                }
                _ => false,
            },
            _ => false,
        }
    }
}

fn step<'v>(v: &'v mut Value, token: &str) -> Option<&'v mut Value> {
    match v {
        Value::Object(m) => m.get_mut(token),
        Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
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
    fn removes_and_inserts() {
        let mut v = json!({"a": {"b": 1, "c/d": 2}, "l": [1, 2, 3]});
        assert_eq!(p("/a/c~1d").remove(&mut v), Some(json!(2)));
        assert_eq!(p("/l/1").remove(&mut v), Some(json!(2)));
        assert_eq!(p("/nope/x").remove(&mut v), None);
        assert!(p("/x/y/z").insert(&mut v, json!(true), true));
        assert!(!p("/a/b").insert(&mut v, json!(9), false));
        assert!(p("/l/-").insert(&mut v, json!(4), true));
        assert!(!p("/a/b/deeper").insert(&mut v, json!(0), true));
        assert_eq!(
            v,
            json!({"a": {"b": 1}, "l": [1, 3, 4], "x": {"y": {"z": true}}})
        );
    }

    #[test]
    fn refuses_root_and_relative_pointers() {
        assert!(Pointer::parse("").is_err());
        assert!(Pointer::parse("a/b").is_err());
    }
}
