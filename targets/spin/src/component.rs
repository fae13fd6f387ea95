//! The `wasi:http/incoming-handler` export: one gateway per instance.

// The core's `Env` holds `Arc<dyn …>` on every target; on single-threaded
// wasm those values are not `Send`/`Sync` (host handles, `?Send` futures),
// which is what the core's `MaybeSend`/`MaybeSync` allow there.
#![allow(clippy::arc_with_non_send_sync)]

use std::cell::OnceCell;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::ready;
use futures_util::{SinkExt, StreamExt, stream};
use gateway_core::config::StoreConfig;
use gateway_core::env::QueuedDeferred;
use gateway_core::{Body, BodyError, Env, Gateway, GatewayError, KvStore};
use spin_sdk::http::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam, Scheme};

use crate::EMBEDDED;
use crate::convert::{Incoming, field_entries, inbound_request};
use crate::env::{PollableSleep, WallClock, spin_rng};
use crate::http_client::SpinHttpClient;
use gateway_embed::CONFIG_TEXT_ENV;

/// Entries the per-instance memory store keeps at most.
const MEMORY_STORE_ENTRIES: usize = 10_000;

/// What one component instance keeps between requests (if the host reuses
/// instances; `wasmtime serve` does not).
struct Instance {
    gateway: Result<Gateway, String>,
    deferred: Arc<QueuedDeferred>,
}

thread_local! {
    static INSTANCE: OnceCell<Rc<Instance>> = const { OnceCell::new() };
}

/// The configured store: Spin key-value for `store: platform` (the build
/// script refused that config without the `spin-kv` feature), otherwise
/// memory per instance.
fn store(config: &StoreConfig) -> Arc<dyn KvStore> {
    #[cfg(feature = "spin-kv")]
    if *config == StoreConfig::Platform {
        return Arc::new(gateway_core::store::EnvelopeStore::new(
            crate::kv::SpinKv::open_default(),
            Arc::new(WallClock),
        ));
    }
    let _ = config;
    Arc::new(gateway_core::MemoryStore::new(
        Arc::new(WallClock),
        MEMORY_STORE_ENTRIES,
    ))
}

/// The config to serve: the text of `GATEWAY_CONFIG_TEXT` (the
/// component's environment, `environment` in spin.toml) checked against
/// this build's capabilities, else the embedded one. A bad text is not
/// replaced by the embedded config: the gateway answers 500 problems and
/// logs why, so the operator sees that the config given was not taken.
fn config() -> Result<gateway_core::GatewayConfig, gateway_core::ConfigError> {
    // `${NAME}` references in either config come from the same environment.
    let var = |name: &str| std::env::var(name).ok();
    let Ok(text) = std::env::var(CONFIG_TEXT_ENV) else {
        return EMBEDDED.load(&var);
    };
    let spin_kv = cfg!(feature = "spin-kv");
    let (config, warnings) = gateway_embed::check_text(CONFIG_TEXT_ENV, &text, &var, |c| {
        crate::capabilities::capabilities(&c.store, spin_kv)
    })?;
    for w in warnings {
        eprintln!("gateway-spin: {CONFIG_TEXT_ENV}: {}: {}", w.path, w.message);
    }
    Ok(config)
}

fn instance() -> Rc<Instance> {
    INSTANCE.with(|cell| {
        cell.get_or_init(|| {
            let deferred = Arc::new(QueuedDeferred::default());
            let gateway = config()
                .map(|config| {
                    let store = store(&config.store);
                    let env = Env {
                        clock: Arc::new(WallClock),
                        sleep: Arc::new(PollableSleep),
                        rng: Arc::new(spin_rng()),
                        counters: store.clone(),
                        store,
                        http: Arc::new(SpinHttpClient),
                        deferred: deferred.clone(),
                    };
                    let registry = Arc::new(gateway_registry::Registry::new(&env));
                    Gateway::new(config, env).with_directory(registry)
                })
                .map_err(|e| {
                    eprintln!("gateway-spin: the embedded config does not load: {e}");
                    e.to_string()
                });
            Rc::new(Instance { gateway, deferred })
        })
        .clone()
    })
}

/// The export. `#[http_component]` generates the `wasi:http` ABI glue here,
/// which is the crate's only `unsafe` (written by the SDK's macro).
#[allow(unsafe_code)]
mod export {
    use spin_sdk::http::{IncomingRequest, ResponseOutparam};

    #[spin_sdk::http_component]
    async fn handle(req: IncomingRequest, out: ResponseOutparam) {
        super::handle(req, out).await;
    }
}

/// Serves one request, then runs the deferred work.
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let instance = instance();
    let is_head = matches!(req.method(), spin_sdk::http::Method::Head);
    let response = match &instance.gateway {
        Ok(gateway) => match read_request(req).await {
            Ok((req, client)) => {
                #[cfg(feature = "selftest")]
                if let Some(resp) = gateway_core::selftest::handle(&req, gateway.env()).await {
                    write_response(out, resp, is_head).await;
                    return;
                }
                let started = std::time::Instant::now();
                let mut resp = gateway.handle(req, client).await;
                for line in gateway_core::report::log_lines(&resp) {
                    eprintln!("gateway-spin: {line}");
                }
                // The access log line and the metrics event: JSON lines on
                // stdout, apart from the prefixed diagnostics on stderr.
                for line in gateway_core::observe::edge_lines_timed(&mut resp, started.elapsed()) {
                    println!("{line}");
                }
                resp
            }
            Err(e) => e.into_response(),
        },
        Err(_) => GatewayError::Internal("the embedded config does not load").into_response(),
    };
    write_response(out, response, is_head).await;
    instance.deferred.run_all().await;
}

/// Reads the head and wraps the body. The first chunk is read up front so
/// that a request without a body reaches the core as an empty body (WASI
/// does not say whether a body follows), as it does on the other targets.
async fn read_request(
    req: IncomingRequest,
) -> Result<(http::Request<Body>, gateway_core::ClientInfo), GatewayError> {
    let incoming = Incoming {
        method: req.method().to_string(),
        path_with_query: req.path_with_query(),
        authority: req.authority(),
        https: matches!(req.scheme(), Some(Scheme::Https)),
        headers: req.headers().entries(),
    };
    // The body is taken exactly once, here, so the SDK's "already consumed"
    // panic cannot happen.
    let mut chunks = Box::pin(
        req.into_body_stream()
            .map(|r| r.map(Bytes::from).map_err(|_| BodyError::Transport)),
    );
    let body = match chunks.next().await {
        None => Body::empty(),
        Some(Err(e)) => return Err(e.into()),
        Some(Ok(first)) => Body::from_stream(stream::once(ready(Ok(first))).chain(chunks)),
    };
    inbound_request(incoming, body)
}

async fn write_response(out: ResponseOutparam, response: http::Response<Body>, is_head: bool) {
    let (mut parts, mut body) = response.into_parts();
    // A buffered body's length is known: say so rather than chunking, as
    // the self-hosted server does (never on 1xx, 204, 304). The host checks
    // that the bytes written match.
    if !is_head
        && !matches!(parts.status.as_u16(), 100..=199 | 204 | 304)
        && !parts.headers.contains_key(http::header::CONTENT_LENGTH)
        && let Some(len) = body.known_len()
    {
        parts
            .headers
            .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
    }
    let fields = match Fields::from_list(&field_entries(&parts.headers, is_head)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("gateway-spin: response headers refused by the host: {e:?}");
            Fields::new()
        }
    };
    let resp = OutgoingResponse::new(fields);
    if resp.set_status_code(parts.status.as_u16()).is_err() {
        eprintln!("gateway-spin: status {} refused by the host", parts.status);
    }
    let mut sink = resp.take_body();
    out.set(resp);
    if is_head {
        return;
    }
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => {
                if let Err(e) = sink.send(chunk.to_vec()).await {
                    eprintln!("gateway-spin: writing the response body failed: {e}");
                    return;
                }
            }
            Err(e) => {
                // The head is out; all that is left is to end the body early.
                eprintln!("gateway-spin: the response body failed: {e}");
                return;
            }
        }
    }
}
