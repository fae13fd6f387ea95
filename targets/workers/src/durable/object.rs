//! The `GatewayCounters` Durable Object class (wasm, feature
//! `durable-objects`).

// `#[durable_object]` generates the undocumented, `wasm-bindgen`-exported
// `constructor`, `fetch` and `alarm` methods the runtime calls.
#![allow(missing_docs)]

use wasm_bindgen::JsValue;
use worker::durable::ScheduledTime;
use worker::{DurableObject, Env, Request, Response, Result, State, Storage, durable_object};

use super::apply::{Alarm, Entry, Write, apply, sweep};
use super::op::{Op, Reply};

/// Keeps the entries of the keys it owns (one key per object: the worker
/// names the object after the key) in its transactional storage, and
/// applies each operation as one read-modify-write.
///
/// The runtime delivers one event at a time and its input gate holds back
/// further events while a storage call is pending; each operation makes
/// storage calls only (no outbound fetch), so nothing interleaves with it.
/// Expiry is enforced on every read against `Date.now()` in the object;
/// an expired entry is deleted when next touched, and the object's alarm,
/// set to the entry's deadline, deletes entries nobody touches again.
#[durable_object(alarm)]
pub struct GatewayCounters {
    state: State,
}

fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

fn at(unix_ms: u64) -> ScheduledTime {
    // Whole ms well below 2^53: exact as an f64.
    ScheduledTime::new(js_sys::Date::new(&JsValue::from_f64(unix_ms as f64)))
}

impl GatewayCounters {
    async fn load(storage: &Storage, key: &str) -> Result<Option<Entry>> {
        match storage.get::<String>(key).await? {
            Some(text) => Entry::decode(&text)
                .map(Some)
                .map_err(worker::Error::RustError),
            None => Ok(None),
        }
    }

    async fn store(storage: &Storage, key: &str, write: Write, alarm: Option<Alarm>) -> Result<()> {
        match write {
            Write::Keep => {}
            Write::Set(entry) => storage.put(key, entry.encode()).await?,
            Write::Remove => {
                storage.delete(key).await?;
            }
        }
        match alarm {
            Some(Alarm::At(t)) => storage.set_alarm(at(t)).await,
            Some(Alarm::Clear) => storage.delete_alarm().await,
            None => Ok(()),
        }
    }

    async fn run(&self, op: &Op) -> Result<Reply> {
        let storage = self.state.storage();
        let stored = Self::load(&storage, op.key()).await?;
        let outcome = apply(op, stored, now_ms());
        Self::store(&storage, op.key(), outcome.write, outcome.alarm).await?;
        Ok(outcome.reply)
    }
}

impl DurableObject for GatewayCounters {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    /// Answers one [`Op`] (JSON body) with one [`Reply`] (JSON, 200).
    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let reply = match req
            .text()
            .await
            .map_err(|e| e.to_string())
            .and_then(|t| Op::decode(&t))
        {
            Ok(op) => self.run(&op).await.unwrap_or_else(|e| Reply::Failed {
                message: e.to_string(),
            }),
            Err(message) => Reply::Failed { message },
        };
        let status = if matches!(reply, Reply::Failed { .. }) {
            500
        } else {
            200
        };
        Ok(Response::ok(reply.encode())?.with_status(status))
    }

    /// Deletes the entries past their deadline and waits for the next one.
    async fn alarm(&self) -> Result<Response> {
        let storage = self.state.storage();
        let now = now_ms();
        let mut entries = Vec::new();
        storage.list().await?.for_each(&mut |value, key| {
            if let (Some(key), Some(value)) = (key.as_string(), value.as_string()) {
                entries.push((key, value));
            }
        });
        let mut next: Option<u64> = None;
        for (key, text) in entries {
            let entry = Entry::decode(&text).ok();
            let (write, alarm) = sweep(entry.as_ref(), now);
            Self::store(&storage, &key, write, None).await?;
            if let Some(Alarm::At(t)) = alarm {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        if let Some(t) = next {
            storage.set_alarm(at(t)).await?;
        }
        Response::ok("swept")
    }
}
