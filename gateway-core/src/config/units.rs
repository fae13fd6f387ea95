//! Human-friendly durations (`"250ms"`, `"30s"`, `"5m"`) and byte sizes
//! (`"64KiB"`, `"10MB"`) in config files. Plain numbers are milliseconds and
//! bytes.

use std::borrow::Cow;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, de};

/// A duration as written in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationSpec(pub Duration);

/// A byte count as written in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrStr {
    Num(u64),
    Str(String),
}

fn split_unit(s: &str) -> Option<(u64, &str)> {
    let s = s.trim();
    let idx = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n = s[..idx].parse().ok()?;
    Some((n, s[idx..].trim()))
}

/// Parses `"250ms"`, `"30s"`, `"5m"`, `"1h"`.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let (n, unit) = split_unit(s)?;
    let ms = match unit {
        "ms" => n,
        "s" | "" => n.checked_mul(1_000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

/// Parses `"512"`, `"64KiB"`, `"10MB"`, `"1GiB"`.
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    let (n, unit) = split_unit(s)?;
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mul)
}

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumOrStr::deserialize(d)? {
            NumOrStr::Num(ms) => Ok(Self(Duration::from_millis(ms))),
            NumOrStr::Str(s) => parse_duration(&s).map(Self).ok_or_else(|| {
                de::Error::custom(format!(
                    "invalid duration `{s}`: use a number with ms, s, m or h (e.g. \"500ms\", \"30s\")"
                ))
            }),
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumOrStr::deserialize(d)? {
            NumOrStr::Num(n) => Ok(Self(n)),
            NumOrStr::Str(s) => parse_size(&s).map(Self).ok_or_else(|| {
                de::Error::custom(format!(
                    "invalid size `{s}`: use bytes or a unit KB, KiB, MB, MiB, GB, GiB (e.g. \"10MiB\")"
                ))
            }),
        }
    }
}

impl JsonSchema for DurationSpec {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: milliseconds as a number, or a string such as \"500ms\", \"30s\", \"5m\", \"1h\".",
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^[0-9]+ *(ms|s|m|h)?$"}
            ]
        })
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A size: bytes as a number, or a string such as \"64KiB\", \"10MB\".",
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^[0-9]+ *([kKmMgG]i?[bB]?|[bB])?$"}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("3 days"), None);
        assert_eq!(parse_duration("s"), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("10MB"), Some(10_000_000));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("ten"), None);
    }
}
