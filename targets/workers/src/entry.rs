//! The `fetch` event handler: one gateway per isolate.

// The core's `Env` holds `Arc<dyn …>` on every target; on single-threaded
// wasm those values are not `Send`/`Sync` (JS handles, `?Send` futures),
// which is what the core's `MaybeSend`/`MaybeSync` allow there.
#![allow(clippy::arc_with_non_send_sync)]

use std::cell::OnceCell;
use std::rc::Rc;
use std::sync::Arc;

use futures_util::StreamExt;
use gateway_core::config::StoreConfig;
use gateway_core::env::QueuedDeferred;
use gateway_core::store::EnvelopeStore;
use gateway_core::{Body, BodyError, Env, Gateway, GatewayError, KvStore};
use worker::{Context, Headers, Request, Response, ResponseBuilder, event};

use crate::EMBEDDED;
use crate::convert::{inbound_request, is_null_body_status, outbound_headers};
#[cfg(feature = "durable-objects")]
use crate::durable::{COUNTERS_BINDING, DurableCounters};
use crate::env::{DateClock, DelaySleep, worker_rng};
use crate::http_client::FetchHttpClient;
use crate::kv::{KV_BINDING, WorkersKv};
use gateway_embed::CONFIG_TEXT_ENV;

/// What one isolate keeps between requests.
struct Instance {
    gateway: Result<Gateway, String>,
    deferred: Arc<QueuedDeferred>,
}

thread_local! {
    static INSTANCE: OnceCell<Rc<Instance>> = const { OnceCell::new() };
}

/// Entries the per-isolate memory store keeps at most.
const MEMORY_STORE_ENTRIES: usize = 10_000;

/// The configured stores: `(store, counters)`. `store: platform` is Workers
/// KV (missing binding: every operation fails as unavailable, logged once);
/// the counters go to the `GatewayCounters` Durable Object when built with
/// it (feature `durable-objects`), to KV otherwise. Otherwise memory per
/// isolate.
fn stores(config: &StoreConfig, env: &worker::Env) -> (Arc<dyn KvStore>, Arc<dyn KvStore>) {
    if *config != StoreConfig::Platform {
        let memory: Arc<dyn KvStore> = Arc::new(gateway_core::MemoryStore::new(
            Arc::new(DateClock),
            MEMORY_STORE_ENTRIES,
        ));
        return (memory.clone(), memory);
    }
    let kv = env
        .kv(KV_BINDING)
        .map_err(|e| format!("the KV binding `{KV_BINDING}` is missing: {e}"));
    if let Err(e) = &kv {
        worker::console_error!("gateway-workers: {e}");
    }
    let store: Arc<dyn KvStore> =
        Arc::new(EnvelopeStore::new(WorkersKv::new(kv), Arc::new(DateClock)));
    (store.clone(), counters(env, store))
}

/// The counters store: the Durable Object namespace `GATEWAY_COUNTERS`
/// (missing binding: every operation fails as unavailable, logged once).
#[cfg(feature = "durable-objects")]
fn counters(env: &worker::Env, _kv: Arc<dyn KvStore>) -> Arc<dyn KvStore> {
    let namespace = env
        .durable_object(COUNTERS_BINDING)
        .map_err(|e| format!("the Durable Object binding `{COUNTERS_BINDING}` is missing: {e}"));
    if let Err(e) = &namespace {
        worker::console_error!("gateway-workers: {e}");
    }
    Arc::new(DurableCounters::new(namespace))
}

/// The counters store without Durable Objects: KV, not exact (the build
/// refuses `counters: exact` then).
#[cfg(not(feature = "durable-objects"))]
fn counters(_env: &worker::Env, kv: Arc<dyn KvStore>) -> Arc<dyn KvStore> {
    kv
}

/// The config to serve: the text of the variable or secret
/// `GATEWAY_CONFIG_TEXT` checked against this build's capabilities, else
/// the embedded one. A bad text is not replaced by the embedded config: the
/// gateway answers 500 problems and logs why, so the operator sees that
/// the config given was not taken.
fn config(env: &worker::Env) -> Result<gateway_core::GatewayConfig, gateway_core::ConfigError> {
    let text = env
        .var(CONFIG_TEXT_ENV)
        .or_else(|_| env.secret(CONFIG_TEXT_ENV))
        .map(|v| v.to_string());
    // `${NAME}` references in either config: a secret, else a var.
    let var = |name: &str| {
        env.secret(name)
            .or_else(|_| env.var(name))
            .ok()
            .map(|v| v.to_string())
    };
    let Ok(text) = text else {
        return EMBEDDED.load(&var);
    };
    let durable_objects = cfg!(feature = "durable-objects");
    let (config, warnings) = gateway_embed::check_text(CONFIG_TEXT_ENV, &text, &var, |c| {
        crate::capabilities::capabilities(&c.store, durable_objects)
    })?;
    for w in warnings {
        worker::console_warn!(
            "gateway-workers: {CONFIG_TEXT_ENV}: {}: {}",
            w.path,
            w.message
        );
    }
    Ok(config)
}

/// The isolate's gateway, built on its first request (bindings and
/// `crypto` are only usable inside a request).
fn instance(env: &worker::Env) -> Rc<Instance> {
    INSTANCE.with(|cell| {
        cell.get_or_init(|| {
            let deferred = Arc::new(QueuedDeferred::default());
            let gateway = config(env)
                .map(|config| {
                    let (store, counters) = stores(&config.store, env);
                    let env = Env {
                        clock: Arc::new(DateClock),
                        sleep: Arc::new(DelaySleep),
                        rng: Arc::new(worker_rng()),
                        store,
                        counters,
                        http: Arc::new(FetchHttpClient),
                        deferred: deferred.clone(),
                    };
                    let registry = Arc::new(gateway_registry::Registry::new(&env));
                    Gateway::new(config, env).with_directory(registry)
                })
                .map_err(|e| {
                    worker::console_error!(
                        "gateway-workers: the embedded config does not load: {e}"
                    );
                    e.to_string()
                });
            Rc::new(Instance { gateway, deferred })
        })
        .clone()
    })
}

/// The worker's entry point.
#[event(fetch)]
async fn fetch(mut req: Request, env: worker::Env, ctx: Context) -> worker::Result<Response> {
    let instance = instance(&env);
    let response = match &instance.gateway {
        Ok(gateway) => match read_request(&mut req).await {
            Ok((req, client)) => {
                #[cfg(feature = "selftest")]
                if let Some(resp) = gateway_core::selftest::handle(&req, gateway.env()).await {
                    return Ok(write_response(resp));
                }
                let resp = gateway.handle(req, client).await;
                for line in gateway_core::report::log_lines(&resp) {
                    worker::console_warn!("gateway-workers: {line}");
                }
                // The access log line and the metrics event (Workers Logs
                // parse JSON messages into fields).
                for line in gateway_core::observe::edge_lines(&resp) {
                    worker::console_log!("{line}");
                }
                resp
            }
            Err(e) => e.into_response(),
        },
        Err(_) => GatewayError::Internal("the embedded config does not load").into_response(),
    };
    let deferred = instance.deferred.clone();
    if deferred.pending() > 0 {
        ctx.wait_until(async move { deferred.run_all().await });
    }
    Ok(write_response(response))
}

/// Converts the runtime's request. The body is read in full first: if the
/// core answered (e.g. 413) while the runtime's request stream was still
/// being read, workerd raises "Can't read from request stream after
/// response has been sent" and resets the isolate, failing the requests in
/// flight. The platform caps request bodies (100 MB on most plans), and the
/// config's body limits still apply to the buffered body.
async fn read_request(
    req: &mut Request,
) -> Result<(http::Request<Body>, gateway_core::ClientInfo), GatewayError> {
    let method = req.inner().method();
    let url = req.inner().url();
    let headers = http::HeaderMap::from(req.headers());
    let body = if req.inner().body().is_some() {
        let bytes = req.bytes().await.map_err(|e| {
            worker::console_error!("gateway-workers: reading the request body failed: {e}");
            GatewayError::from(BodyError::Transport)
        })?;
        Body::full(bytes)
    } else {
        // No body at all (GET, HEAD, ...).
        Body::empty()
    };
    inbound_request(&method, &url, headers, body)
}

/// Converts the core's response; a buffered body is sent as bytes, a
/// streaming one as a `ReadableStream`.
fn write_response(response: http::Response<Body>) -> Response {
    let (parts, body) = response.into_parts();
    let status = parts.status.as_u16();
    let builder = ResponseBuilder::new()
        .with_status(status)
        .with_headers(Headers::from(&outbound_headers(&parts.headers)));
    if is_null_body_status(status) {
        return builder.empty();
    }
    if let Some(bytes) = body.as_bytes() {
        return builder.fixed(bytes.to_vec());
    }
    let stream = body.map(|r| {
        r.map(|b| b.to_vec())
            .map_err(|e| worker::Error::RustError(format!("response body failed: {e}")))
    });
    builder.from_stream(stream).unwrap_or_else(|e| {
        worker::console_error!("gateway-workers: streaming the response failed: {e}");
        ResponseBuilder::new().with_status(502).empty()
    })
}
