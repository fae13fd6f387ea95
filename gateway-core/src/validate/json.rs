//! Strict JSON parsing: duplicate object keys and nesting deeper than a
//! limit are refused while parsing, before any schema sees the document.
//! (`serde_json` on its own keeps the last of duplicate keys silently.)

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::error::{FieldError, pointer_push};

/// Why a body is not acceptable JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonProblem {
    /// Where, as a JSON pointer into the body (`""` for the document).
    pub pointer: String,
    /// What is wrong, without echoing the input.
    pub message: String,
}

impl From<JsonProblem> for FieldError {
    fn from(p: JsonProblem) -> Self {
        FieldError::new(p.pointer, p.message)
    }
}

/// Parses `bytes` as one JSON document, refusing duplicate keys and nesting
/// deeper than `max_depth` containers.
pub fn parse_strict(bytes: &[u8], max_depth: usize) -> Result<Value, JsonProblem> {
    let state = State {
        path: RefCell::new(Vec::new()),
        problem: RefCell::new(None),
        max_depth,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Node {
        state: &state,
        depth: 0,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(v) => Ok(v),
        Err(e) => Err(state.problem.into_inner().unwrap_or_else(|| JsonProblem {
            pointer: String::new(),
            message: syntax_message(&e),
        })),
    }
}

fn syntax_message(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of JSON",
        serde_json::error::Category::Syntax => "malformed JSON",
        serde_json::error::Category::Data | serde_json::error::Category::Io => "invalid JSON",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

struct State {
    path: RefCell<Vec<String>>,
    problem: RefCell<Option<JsonProblem>>,
    max_depth: usize,
}

impl State {
    fn fail<E: de::Error>(&self, last: Option<&str>, message: String) -> E {
        let mut pointer = String::new();
        for seg in self.path.borrow().iter().map(String::as_str).chain(last) {
            pointer_push(&mut pointer, seg);
        }
        *self.problem.borrow_mut() = Some(JsonProblem {
            pointer,
            message: message.clone(),
        });
        E::custom(message)
    }

    fn enter<E: de::Error>(&self, depth: usize) -> Result<(), E> {
        if depth > self.max_depth {
            return Err(self.fail(
                None,
                format!("nesting deeper than {} levels", self.max_depth),
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct Node<'s> {
    state: &'s State,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let depth = self.depth + 1;
        self.state.enter(depth)?;
        let mut out = Vec::new();
        loop {
            self.state.path.borrow_mut().push(out.len().to_string());
            let next = seq.next_element_seed(Node {
                state: self.state,
                depth,
            });
            self.state.path.borrow_mut().pop();
            match next? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let depth = self.depth + 1;
        self.state.enter(depth)?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(self.state.fail(Some(&key), "duplicate key".to_owned()));
            }
            self.state.path.borrow_mut().push(key.clone());
            let value = map.next_value_seed(Node {
                state: self.state,
                depth,
            });
            self.state.path.borrow_mut().pop();
            out.insert(key, value?);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ordinary_json() {
        let v = parse_strict(br#"{"a":[1,2.5,"x",null,true],"b":{"c":-3}}"#, 64).expect("valid");
        assert_eq!(v["a"][1], 2.5);
        assert_eq!(v["b"]["c"], -3);
    }

    #[test]
    fn refuses_duplicate_keys_with_their_location() {
        let e = parse_strict(br#"{"items":[{"qty":1,"qty":2}]}"#, 64).expect_err("dup");
        assert_eq!(e.pointer, "/items/0/qty");
        assert_eq!(e.message, "duplicate key");
        let e = parse_strict(br#"{"a/b":{"x~":1,"x~":1}}"#, 64).expect_err("dup");
        assert_eq!(e.pointer, "/a~1b/x~0");
    }

    #[test]
    fn refuses_deep_nesting() {
        let deep = format!("{}{}", "[".repeat(5), "]".repeat(5));
        assert!(parse_strict(deep.as_bytes(), 5).is_ok());
        let e = parse_strict(deep.as_bytes(), 4).expect_err("too deep");
        assert_eq!(e.pointer, "/0/0/0/0");
        assert!(e.message.contains("deeper than 4"));
        let deep = r#"{"a":{"b":{"c":{}}}}"#;
        assert_eq!(
            parse_strict(deep.as_bytes(), 3).expect_err("deep").pointer,
            "/a/b/c"
        );
    }

    #[test]
    fn reports_syntax_errors_without_echoing_input() {
        let e = parse_strict(b"{\"secret-token-abc\": ", 64).expect_err("eof");
        assert_eq!(e.pointer, "");
        assert!(!e.message.contains("secret"));
        assert!(parse_strict(b"{} {}", 64).is_err());
        assert!(parse_strict(b"", 64).is_err());
    }
}
