//! The protocol between the worker and the `GatewayCounters` object.
//! Platform-free, tested natively.
//!
//! # Wire format
//!
//! The worker POSTs one [`Op`] as JSON (`{"op":"incr","key":"k","delta":1,
//! "ttl_ms":300}`; byte values in standard base64) and the object answers
//! one [`Reply`] as JSON (`{"reply":"counted","value":3}`). The object
//! stores each entry as the JSON of an [`Entry`](super::apply::Entry): the
//! value and its Unix-ms deadline.

use std::time::Duration;

use gateway_core::ratelimit::{LimitState, LimitStep};
use gateway_core::store::StorageError;
use serde::{Deserialize, Serialize};

/// Bytes as a standard base64 string.
pub(super) mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Optional bytes as a standard base64 string or `null`.
pub(super) mod b64_opt {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&STANDARD.encode(v)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| STANDARD.decode(text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// One store operation, as the worker sends it to the key's object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// The live value under `key`.
    Get {
        /// The key.
        key: String,
    },
    /// Stores `value`, expiring `ttl_ms` from now when given.
    Put {
        /// The key.
        key: String,
        /// The new value.
        #[serde(with = "b64")]
        value: Vec<u8>,
        /// Lifetime in milliseconds.
        #[serde(default)]
        ttl_ms: Option<u64>,
    },
    /// Removes the key.
    Delete {
        /// The key.
        key: String,
    },
    /// Adds `delta` to the decimal integer under `key`.
    Incr {
        /// The key.
        key: String,
        /// What to add.
        delta: i64,
        /// Lifetime in milliseconds of a counter this creates.
        #[serde(default)]
        ttl_ms: Option<u64>,
    },
    /// Writes `value` only if the live value equals `expected`.
    Cas {
        /// The key.
        key: String,
        /// The value expected (`None`: absent).
        #[serde(with = "b64_opt", default)]
        expected: Option<Vec<u8>>,
        /// The new value.
        #[serde(with = "b64")]
        value: Vec<u8>,
        /// Lifetime in milliseconds of the new value.
        #[serde(default)]
        ttl_ms: Option<u64>,
    },
    /// Takes one rate-limit decision inside the object (exact: the object
    /// handles one operation at a time).
    RateLimit {
        /// The key.
        key: String,
        /// The algorithm and its parameters.
        step: LimitStep,
        /// The gateway's clock, so every store agrees on windows.
        now_ms: u64,
    },
}

impl Op {
    /// The key the operation is about (it names the object).
    pub fn key(&self) -> &str {
        match self {
            Op::Get { key }
            | Op::Put { key, .. }
            | Op::Delete { key }
            | Op::Incr { key, .. }
            | Op::Cas { key, .. }
            | Op::RateLimit { key, .. } => key,
        }
    }

    /// The request body.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("an op always serialises")
    }

    /// Parses a request body.
    pub fn decode(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("bad counter operation: {e}"))
    }
}

/// The object's answer to one [`Op`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// For `get`: the live value, if any.
    Value {
        /// The value.
        #[serde(with = "b64_opt", default)]
        value: Option<Vec<u8>>,
    },
    /// For `put`: written.
    Stored,
    /// For `delete`: whether a live value was there.
    Deleted {
        /// Whether it was present.
        present: bool,
    },
    /// For `incr`: the new value.
    Counted {
        /// The counter after the increment.
        value: i64,
    },
    /// For `cas`: whether the write happened.
    Swapped {
        /// Whether it was written.
        swapped: bool,
    },
    /// For `rate_limit`: the decision and the state after it.
    Limited {
        /// Whether the request passes.
        allowed: bool,
        /// The state, as `LimitState::encode` writes it.
        state: String,
    },
    /// For `incr`: the value is not a decimal integer.
    WrongType,
    /// The object could not do the operation.
    Failed {
        /// What went wrong.
        message: String,
    },
}

fn unexpected(reply: Reply) -> StorageError {
    match reply {
        Reply::Failed { message } => {
            StorageError::Unavailable(format!("Durable Object `GatewayCounters`: {message}"))
        }
        other => StorageError::Unavailable(format!(
            "Durable Object `GatewayCounters`: unexpected reply {other:?}"
        )),
    }
}

impl Reply {
    /// The response body.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a reply always serialises")
    }

    /// Parses a response body.
    pub fn decode(text: &str) -> Result<Self, StorageError> {
        serde_json::from_str(text).map_err(|e| {
            StorageError::Unavailable(format!("Durable Object `GatewayCounters`: bad reply ({e})"))
        })
    }

    /// The answer to `get`.
    pub fn into_value(self) -> Result<Option<Vec<u8>>, StorageError> {
        match self {
            Reply::Value { value } => Ok(value),
            other => Err(unexpected(other)),
        }
    }

    /// The answer to `put`.
    pub fn into_stored(self) -> Result<(), StorageError> {
        match self {
            Reply::Stored => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// The answer to `delete`.
    pub fn into_deleted(self) -> Result<bool, StorageError> {
        match self {
            Reply::Deleted { present } => Ok(present),
            other => Err(unexpected(other)),
        }
    }

    /// The answer to `incr` on `key`.
    pub fn into_count(self, key: &str) -> Result<i64, StorageError> {
        match self {
            Reply::Counted { value } => Ok(value),
            Reply::WrongType => Err(StorageError::WrongType {
                key: key.to_owned(),
            }),
            other => Err(unexpected(other)),
        }
    }

    /// The answer to `rate_limit` on `key`: whether it passed and the state.
    pub fn into_limited(self, key: &str) -> Result<(bool, LimitState), StorageError> {
        match self {
            Reply::Limited { allowed, state } => LimitState::decode(state.as_bytes())
                .map(|s| (allowed, s))
                .ok_or_else(|| StorageError::WrongType {
                    key: key.to_owned(),
                }),
            other => Err(unexpected(other)),
        }
    }

    /// The answer to `cas`.
    pub fn into_swapped(self) -> Result<bool, StorageError> {
        match self {
            Reply::Swapped { swapped } => Ok(swapped),
            other => Err(unexpected(other)),
        }
    }
}

/// A TTL in whole milliseconds, as [`Op`] carries it.
pub fn ttl_ms(ttl: Option<Duration>) -> Option<u64> {
    ttl.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Operations on the key `k`, for the tests of this module and `apply`.
#[cfg(test)]
pub(crate) mod sample {
    use super::Op;

    /// `incr` of `k`.
    pub(crate) fn incr(delta: i64, ttl_ms: Option<u64>) -> Op {
        Op::Incr {
            key: "k".into(),
            delta,
            ttl_ms,
        }
    }

    /// `compare_and_swap` of `k`.
    pub(crate) fn cas(expected: Option<&[u8]>, value: &[u8], ttl_ms: Option<u64>) -> Op {
        Op::Cas {
            key: "k".into(),
            expected: expected.map(<[u8]>::to_vec),
            value: value.to_vec(),
            ttl_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sample::{cas, incr};
    use super::*;

    #[test]
    fn ops_and_replies_round_trip_as_json_with_base64_bytes() {
        let ops = [
            Op::Get { key: "a".into() },
            Op::Put {
                key: "a".into(),
                value: b"\x00\xffbin".to_vec(),
                ttl_ms: Some(300),
            },
            Op::Delete { key: "a".into() },
            incr(-2, None),
            cas(None, b"n", None),
            cas(Some(b""), b"n", Some(1)),
            Op::RateLimit {
                key: "a".into(),
                step: LimitStep::Gcra {
                    interval_ms: 100,
                    burst: 5,
                },
                now_ms: 7,
            },
        ];
        for op in ops {
            assert_eq!(Op::decode(&op.encode()).expect("decodes"), op);
        }
        let put = Op::Put {
            key: "k".into(),
            value: b"hi".to_vec(),
            ttl_ms: None,
        };
        assert_eq!(
            put.encode(),
            r#"{"op":"put","key":"k","value":"aGk=","ttl_ms":null}"#
        );
        assert_eq!(
            Op::decode(r#"{"op":"incr","key":"k","delta":1}"#).expect("ttl optional"),
            incr(1, None)
        );
        assert!(Op::decode(r#"{"op":"put","key":"k","value":"%%"}"#).is_err());
        assert!(Op::decode(r#"{"op":"nope","key":"k"}"#).is_err());
        let replies = [
            Reply::Value { value: None },
            Reply::Value {
                value: Some(b"\x00".to_vec()),
            },
            Reply::Stored,
            Reply::Deleted { present: true },
            Reply::Counted { value: -3 },
            Reply::Swapped { swapped: false },
            Reply::WrongType,
            Reply::Limited {
                allowed: true,
                state: "g:1".into(),
            },
            Reply::Failed {
                message: "x".into(),
            },
        ];
        for reply in replies {
            assert_eq!(Reply::decode(&reply.encode()).expect("decodes"), reply);
        }
    }

    #[test]
    fn replies_map_to_results_and_errors() {
        assert_eq!(Reply::Counted { value: 4 }.into_count("k").ok(), Some(4));
        assert!(matches!(
            Reply::WrongType.into_count("k"),
            Err(StorageError::WrongType { key }) if key == "k"
        ));
        assert!(matches!(
            Reply::Failed { message: "disk".into() }.into_stored(),
            Err(StorageError::Unavailable(m)) if m.contains("disk")
        ));
        assert!(matches!(
            Reply::Stored.into_value(),
            Err(StorageError::Unavailable(_))
        ));
        assert!(Reply::decode("not json").is_err());
        assert_eq!(
            Reply::Deleted { present: true }.into_deleted().ok(),
            Some(true)
        );
        assert_eq!(
            Reply::Swapped { swapped: true }.into_swapped().ok(),
            Some(true)
        );
    }

    #[test]
    fn ttl_in_milliseconds() {
        assert_eq!(ttl_ms(None), None);
        assert_eq!(ttl_ms(Some(Duration::from_millis(1_500))), Some(1_500));
        assert_eq!(ttl_ms(Some(Duration::MAX)), Some(u64::MAX));
    }
}
