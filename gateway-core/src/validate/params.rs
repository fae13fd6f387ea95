//! Request data as JSON for schema checks: query strings, path and header
//! parameters turned into typed values by the type their schema declares,
//! and media types matched against accepted ranges.

use percent_encoding::percent_decode_str;
use serde_json::Value;

/// The JSON type a parameter's schema asks for, used to turn its text
/// into a value the schema can check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Coerce {
    /// Kept as a string.
    #[default]
    String,
    /// `integer`.
    Integer,
    /// `number`.
    Number,
    /// `boolean`.
    Boolean,
    /// `array` of items of this kind.
    Array(Scalar),
}

/// The item kind of an array parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scalar {
    /// Strings.
    #[default]
    String,
    /// Integers.
    Integer,
    /// Numbers.
    Number,
    /// Booleans.
    Boolean,
}

impl Scalar {
    fn from_type(t: Option<&str>) -> Self {
        match t {
            Some("integer") => Self::Integer,
            Some("number") => Self::Number,
            Some("boolean") => Self::Boolean,
            _ => Self::String,
        }
    }

    fn value(self, text: &str) -> Value {
        let parsed = match self {
            Self::String => None,
            Self::Integer => text.parse::<i64>().ok().map(Value::from),
            Self::Number => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            Self::Boolean => match text {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            },
        };
        // Text that does not parse stays a string, so the schema reports
        // the type mismatch at the parameter's location.
        parsed.unwrap_or_else(|| Value::String(text.to_owned()))
    }
}

impl Coerce {
    /// The coercion for a (resolved) schema: its `type`, and `items.type`
    /// for arrays. `nullable`-style type lists use their first non-null type.
    pub fn for_schema(schema: &Value, resolve: &dyn Fn(&Value) -> Value) -> Self {
        let schema = resolve(schema);
        match type_of(&schema).as_deref() {
            Some("integer") => Self::Integer,
            Some("number") => Self::Number,
            Some("boolean") => Self::Boolean,
            Some("array") => {
                let items = schema.get("items").map(resolve).unwrap_or(Value::Null);
                Self::Array(Scalar::from_type(type_of(&items).as_deref()))
            }
            _ => Self::String,
        }
    }

    /// The value of a parameter given its raw values (in order). A single
    /// value for an array is split at commas when `split` is set.
    pub fn value(self, values: &[String], split: bool) -> Value {
        match self {
            Self::Array(item) => {
                let parts: Vec<&str> = if values.len() == 1 && split {
                    values[0].split(',').map(str::trim).collect()
                } else {
                    values.iter().map(String::as_str).collect()
                };
                Value::Array(parts.into_iter().map(|p| item.value(p)).collect())
            }
            Self::String => scalar(Scalar::String, values),
            Self::Integer => scalar(Scalar::Integer, values),
            Self::Number => scalar(Scalar::Number, values),
            Self::Boolean => scalar(Scalar::Boolean, values),
        }
    }
}

fn scalar(kind: Scalar, values: &[String]) -> Value {
    // A scalar given several times is the first value; the rest are not
    // what the contract describes, but a scalar schema cannot say so.
    values
        .first()
        .map_or(Value::Null, |v| kind.value(v.as_str()))
}

fn type_of(schema: &Value) -> Option<String> {
    match schema.get("type")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .map(str::to_owned),
        _ => None,
    }
}

/// Decodes an `application/x-www-form-urlencoded` query into ordered
/// name/value pairs (`+` is a space).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decodes one query component (`+` is a space).
pub fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// The media type's essence (`type/subtype`, lowercase, no parameters).
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Whether `media` (an essence) is matched by `range` (`application/json`,
/// `application/*`, `*/*`).
pub fn media_matches(range: &str, media: &str) -> bool {
    let range = essence(range);
    if range == "*/*" || range == media {
        return true;
    }
    match (range.strip_suffix("/*"), media.split_once('/')) {
        (Some(t), Some((mt, _))) => t == mt,
        _ => false,
    }
}

/// Whether a media type essence carries JSON (`application/json`, `+json`).
pub fn is_json(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn same(v: &Value) -> Value {
        v.clone()
    }

    #[test]
    fn coerces_by_declared_type() {
        let c = Coerce::for_schema(&json!({"type": "integer"}), &same);
        assert_eq!(c.value(&["12".into()], false), json!(12));
        assert_eq!(c.value(&["x".into()], false), json!("x"));
        let c = Coerce::for_schema(&json!({"type": ["null", "boolean"]}), &same);
        assert_eq!(c.value(&["true".into()], false), json!(true));
        let c = Coerce::for_schema(
            &json!({"type": "array", "items": {"type": "number"}}),
            &same,
        );
        assert_eq!(c.value(&["1,2.5".into()], true), json!([1.0, 2.5]));
        assert_eq!(c.value(&["1".into(), "2".into()], false), json!([1.0, 2.0]));
    }

    #[test]
    fn parses_queries_and_media_types() {
        assert_eq!(
            parse_query("a=1&b=x+y%21&&c"),
            [
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), String::new())
            ]
        );
        assert_eq!(
            essence("Application/JSON; charset=utf-8"),
            "application/json"
        );
        assert!(media_matches("application/*", "application/xml"));
        assert!(media_matches("*/*", "text/plain"));
        assert!(!media_matches("application/json", "text/json"));
        assert!(is_json("application/problem+json"));
    }
}
