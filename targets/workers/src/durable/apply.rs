//! What one operation does to the entry the object keeps, at a given time.
//!
//! Platform-free: the object only reads the entry, calls [`apply`] and
//! writes back what it says (and [`sweep`] on its alarm), so the semantics
//! are tested natively.

use serde::{Deserialize, Serialize};

use gateway_core::ratelimit::{self, LimitState};

use super::op::{Op, Reply, ttl_ms};

/// What the object keeps under a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The value.
    #[serde(with = "super::op::b64")]
    pub value: Vec<u8>,
    /// Unix ms from which the entry is gone; `None`: never expires.
    #[serde(default)]
    pub expires_at: Option<u64>,
}

impl Entry {
    /// Whether the entry is still there at `now` (Unix ms).
    pub fn live_at(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("an entry always serialises")
    }

    /// Parses the stored form.
    pub fn decode(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("corrupt stored entry: {e}"))
    }
}

/// What to do with the stored entry after an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Leave it as it is.
    Keep,
    /// Replace it.
    Set(Entry),
    /// Delete it.
    Remove,
}

/// What to do with the object's alarm, which deletes the entry at its
/// deadline (one entry per object, so one alarm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alarm {
    /// Fire at this Unix ms.
    At(u64),
    /// No deadline any more.
    Clear,
}

/// The result of [`apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The answer to send back.
    pub reply: Reply,
    /// The storage write.
    pub write: Write,
    /// The alarm change, if the deadline changed.
    pub alarm: Option<Alarm>,
}

fn deadline(now: u64, ttl_ms: Option<u64>) -> Option<u64> {
    ttl_ms.map(|t| now.saturating_add(t))
}

/// Applies `op` to the entry stored under its key (`stored`, expired or
/// not) at `now` (Unix ms). An expired entry counts as absent and is
/// removed when the operation does not replace it (lazy clean-up; the
/// alarm removes entries nobody reads again).
pub fn apply(op: &Op, stored: Option<Entry>, now: u64) -> Outcome {
    let old_deadline = stored.as_ref().and_then(|e| e.expires_at);
    let expired = stored.as_ref().is_some_and(|e| !e.live_at(now));
    let live = stored.filter(|e| e.live_at(now));
    // Leaves a live entry alone; clears away an expired one.
    let untouched = if expired { Write::Remove } else { Write::Keep };
    let (reply, write) = match op {
        Op::Get { .. } => (
            Reply::Value {
                value: live.map(|e| e.value),
            },
            untouched,
        ),
        Op::Put { value, ttl_ms, .. } => (
            Reply::Stored,
            Write::Set(Entry {
                value: value.clone(),
                expires_at: deadline(now, *ttl_ms),
            }),
        ),
        Op::Delete { .. } => {
            let present = live.is_some();
            let write = if present || expired {
                Write::Remove
            } else {
                Write::Keep
            };
            (Reply::Deleted { present }, write)
        }
        Op::Incr { delta, ttl_ms, .. } => {
            let (current, expires_at) = match live {
                Some(e) => match std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                {
                    Some(n) => (n, e.expires_at),
                    None => {
                        return Outcome {
                            reply: Reply::WrongType,
                            write: Write::Keep,
                            alarm: None,
                        };
                    }
                },
                None => (0, deadline(now, *ttl_ms)),
            };
            let next = current.saturating_add(*delta);
            let entry = Entry {
                value: next.to_string().into_bytes(),
                expires_at,
            };
            (Reply::Counted { value: next }, Write::Set(entry))
        }
        Op::RateLimit { step, now_ms, .. } => {
            let state = live.as_ref().and_then(|e| LimitState::decode(&e.value));
            let (allowed, next) = ratelimit::apply(step, state, *now_ms);
            let write = if allowed {
                let ttl = ratelimit::ttl(step, &next, *now_ms);
                Write::Set(Entry {
                    value: next.encode().into_bytes(),
                    expires_at: deadline(now, ttl_ms(Some(ttl))),
                })
            } else {
                untouched
            };
            let reply = Reply::Limited {
                allowed,
                state: next.encode(),
            };
            (reply, write)
        }
        Op::Cas {
            expected,
            value,
            ttl_ms,
            ..
        } => {
            if live.as_ref().map(|e| &e.value) != expected.as_ref() {
                (Reply::Swapped { swapped: false }, untouched)
            } else {
                let entry = Entry {
                    value: value.clone(),
                    expires_at: deadline(now, *ttl_ms),
                };
                (Reply::Swapped { swapped: true }, Write::Set(entry))
            }
        }
    };
    let new_deadline = match &write {
        Write::Keep => old_deadline,
        Write::Set(e) => e.expires_at,
        Write::Remove => None,
    };
    let alarm = (new_deadline != old_deadline).then_some(match new_deadline {
        Some(t) => Alarm::At(t),
        None => Alarm::Clear,
    });
    Outcome {
        reply,
        write,
        alarm,
    }
}

/// What the alarm does at `now` with the stored entry: removes it once
/// expired, or names the deadline to wait for (an alarm that fired early).
pub fn sweep(stored: Option<&Entry>, now: u64) -> (Write, Option<Alarm>) {
    match stored {
        Some(e) if !e.live_at(now) => (Write::Remove, None),
        Some(Entry {
            expires_at: Some(t),
            ..
        }) => (Write::Keep, Some(Alarm::At(*t))),
        _ => (Write::Keep, None),
    }
}

#[cfg(test)]
mod tests {
    use super::super::op::sample::{cas, incr};
    use super::*;

    fn entry(value: &[u8], expires_at: Option<u64>) -> Entry {
        Entry {
            value: value.to_vec(),
            expires_at,
        }
    }

    #[test]
    fn get_sees_live_values_and_clears_expired_ones() {
        let get = Op::Get { key: "k".into() };
        let out = apply(&get, None, 10);
        assert_eq!(out.reply, Reply::Value { value: None });
        assert_eq!((out.write, out.alarm), (Write::Keep, None));
        let out = apply(&get, Some(entry(b"v", Some(11))), 10);
        assert_eq!(
            out.reply,
            Reply::Value {
                value: Some(b"v".to_vec())
            }
        );
        assert_eq!((out.write, out.alarm), (Write::Keep, None));
        // At the deadline the entry is gone, and removed.
        let out = apply(&get, Some(entry(b"v", Some(11))), 11);
        assert_eq!(out.reply, Reply::Value { value: None });
        assert_eq!((out.write, out.alarm), (Write::Remove, Some(Alarm::Clear)));
    }

    #[test]
    fn put_sets_a_deadline_from_now() {
        let put = |ttl_ms| Op::Put {
            key: "k".into(),
            value: b"v".to_vec(),
            ttl_ms,
        };
        let out = apply(&put(Some(300)), None, 1_000);
        assert_eq!(out.reply, Reply::Stored);
        assert_eq!(out.write, Write::Set(entry(b"v", Some(1_300))));
        assert_eq!(out.alarm, Some(Alarm::At(1_300)));
        // Overwriting without a ttl drops the deadline and the alarm.
        let out = apply(&put(None), Some(entry(b"old", Some(1_300))), 1_100);
        assert_eq!(out.write, Write::Set(entry(b"v", None)));
        assert_eq!(out.alarm, Some(Alarm::Clear));
        assert_eq!(apply(&put(None), None, 1).alarm, None);
    }

    #[test]
    fn delete_reports_only_live_values() {
        let del = Op::Delete { key: "k".into() };
        let out = apply(&del, Some(entry(b"v", None)), 5);
        assert_eq!(
            (out.reply, out.write),
            (Reply::Deleted { present: true }, Write::Remove)
        );
        let out = apply(&del, Some(entry(b"v", Some(5))), 5);
        assert_eq!(
            (out.reply, out.write),
            (Reply::Deleted { present: false }, Write::Remove)
        );
        let out = apply(&del, None, 5);
        assert_eq!(
            (out.reply, out.write),
            (Reply::Deleted { present: false }, Write::Keep)
        );
    }

    #[test]
    fn incr_counts_keeps_the_first_deadline_and_restarts_after_it() {
        let out = apply(&incr(2, Some(300)), None, 1_000);
        assert_eq!(out.reply, Reply::Counted { value: 2 });
        assert_eq!(out.write, Write::Set(entry(b"2", Some(1_300))));
        assert_eq!(out.alarm, Some(Alarm::At(1_300)));
        // Inside the window: the deadline stays, no alarm change.
        let out = apply(&incr(-5, Some(300)), Some(entry(b"2", Some(1_300))), 1_150);
        assert_eq!(out.reply, Reply::Counted { value: -3 });
        assert_eq!(out.write, Write::Set(entry(b"-3", Some(1_300))));
        assert_eq!(out.alarm, None);
        // After it: a fresh counter with a fresh deadline.
        let out = apply(&incr(1, Some(300)), Some(entry(b"9", Some(1_300))), 1_300);
        assert_eq!(out.reply, Reply::Counted { value: 1 });
        assert_eq!(out.write, Write::Set(entry(b"1", Some(1_600))));
        assert_eq!(out.alarm, Some(Alarm::At(1_600)));
        // Saturates instead of wrapping.
        let max = i64::MAX.to_string();
        let out = apply(&incr(1, None), Some(entry(max.as_bytes(), None)), 0);
        assert_eq!(out.reply, Reply::Counted { value: i64::MAX });
    }

    #[test]
    fn rate_limit_decides_inside_the_object_and_writes_only_when_allowed() {
        let op = Op::RateLimit {
            key: "k".into(),
            step: gateway_core::ratelimit::LimitStep::Gcra {
                interval_ms: 100,
                burst: 2,
            },
            now_ms: 1_000,
        };
        let first = apply(&op, None, 1_000);
        assert_eq!(
            first.reply,
            Reply::Limited {
                allowed: true,
                state: "g:1100".into()
            }
        );
        let Write::Set(e) = first.write else {
            panic!("allowed writes")
        };
        assert_eq!(e.expires_at, Some(1_100));
        assert_eq!(first.alarm, Some(Alarm::At(1_100)));
        let second = apply(&op, Some(e), 1_000);
        let Write::Set(e) = second.write else {
            panic!("allowed writes")
        };
        let third = apply(&op, Some(e), 1_000);
        assert_eq!(
            third.reply,
            Reply::Limited {
                allowed: false,
                state: "g:1200".into()
            }
        );
        assert_eq!(third.write, Write::Keep);
    }

    #[test]
    fn incr_of_text_is_wrong_type_and_writes_nothing() {
        let out = apply(&incr(1, None), Some(entry(b"abc", None)), 0);
        assert_eq!(out.reply, Reply::WrongType);
        assert_eq!((out.write, out.alarm), (Write::Keep, None));
        // Expired text no longer counts.
        let out = apply(&incr(1, None), Some(entry(b"abc", Some(5))), 5);
        assert_eq!(out.reply, Reply::Counted { value: 1 });
    }

    #[test]
    fn cas_compares_with_the_live_value() {
        let out = apply(&cas(None, b"a", None), None, 0);
        assert_eq!(out.reply, Reply::Swapped { swapped: true });
        assert_eq!(out.write, Write::Set(entry(b"a", None)));
        let out = apply(&cas(None, b"b", None), Some(entry(b"a", None)), 0);
        assert_eq!(
            (out.reply, out.write),
            (Reply::Swapped { swapped: false }, Write::Keep)
        );
        let out = apply(&cas(Some(b"x"), b"b", None), Some(entry(b"a", None)), 0);
        assert_eq!(out.reply, Reply::Swapped { swapped: false });
        let out = apply(&cas(Some(b"a"), b"b", Some(10)), Some(entry(b"a", None)), 0);
        assert_eq!(out.reply, Reply::Swapped { swapped: true });
        assert_eq!(out.write, Write::Set(entry(b"b", Some(10))));
        // An expired value counts as absent.
        let out = apply(&cas(None, b"new", None), Some(entry(b"old", Some(3))), 3);
        assert_eq!(out.reply, Reply::Swapped { swapped: true });
        assert_eq!(out.write, Write::Set(entry(b"new", None)));
        assert_eq!(out.alarm, Some(Alarm::Clear));
        let out = apply(
            &cas(Some(b"old"), b"new", None),
            Some(entry(b"old", Some(3))),
            3,
        );
        assert_eq!(
            (out.reply, out.write),
            (Reply::Swapped { swapped: false }, Write::Remove)
        );
    }

    #[test]
    fn the_alarm_removes_expired_entries_only() {
        assert_eq!(sweep(None, 5), (Write::Keep, None));
        assert_eq!(sweep(Some(&entry(b"v", Some(5))), 5), (Write::Remove, None));
        assert_eq!(
            sweep(Some(&entry(b"v", Some(9))), 5),
            (Write::Keep, Some(Alarm::At(9)))
        );
        assert_eq!(sweep(Some(&entry(b"v", None)), 5), (Write::Keep, None));
    }

    #[test]
    fn entries_round_trip_as_json() {
        let e = entry(b"7", Some(1_000));
        assert_eq!(Entry::decode(&e.encode()).expect("decodes"), e);
        assert!(Entry::decode("{}").is_err());
    }
}
