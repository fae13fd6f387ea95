//! The HTTP/1.1 front: one component instance per request, like Spin and
//! `wasmtime serve`.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use wasmtime::Store;
use wasmtime::error::Context;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::kv::KvStores;
use crate::state::RequestState;

/// The header in which Spin passes the client's address (`ip:port`).
const SPIN_CLIENT_ADDR: &str = "spin-client-addr";

/// What every request needs: the pre-linked component and the shared state.
pub(crate) struct Server {
    /// The component, linked and type-checked once.
    pub(crate) pre: ProxyPre<RequestState>,
    /// Environment variables the guest sees.
    pub(crate) env: Vec<(String, String)>,
    /// The key-value stores, shared across instances.
    pub(crate) stores: Arc<KvStores>,
}

impl Server {
    /// Accepts connections on `addr` forever, each served on its own task.
    pub(crate) async fn serve(self, addr: SocketAddr) -> wasmtime::Result<()> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        eprintln!("Serving HTTP on http://{}/", listener.local_addr()?);
        let server = Arc::new(self);
        loop {
            let (client, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                // E.g. out of file descriptors: keep serving the others.
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let server = server.clone();
            tokio::task::spawn(async move {
                let service = service_fn(move |req| {
                    let server = server.clone();
                    async move { server.respond(req, peer).await }
                });
                let mut conn = http1::Builder::new();
                conn.keep_alive(true);
                if let Err(e) = conn.serve_connection(TokioIo::new(client), service).await {
                    eprintln!("error serving {peer}: {e}");
                }
            });
        }
    }

    /// Answers `req` from `peer`, turning a failed instance into a plain 500.
    async fn respond(
        &self,
        mut req: hyper::Request<hyper::body::Incoming>,
        peer: SocketAddr,
    ) -> Result<hyper::Response<HyperOutgoingBody>, std::convert::Infallible> {
        // Spin tells the component who called in this header; a client
        // cannot set it itself.
        let addr = HeaderValue::from_str(&peer.to_string()).expect("a socket address is ASCII");
        req.headers_mut().insert(SPIN_CLIENT_ADDR, addr);
        Ok(self.handle(req).await.unwrap_or_else(|e| {
            eprintln!("error: {e:?}");
            let body = Full::new(bytes_of("component failed\n")).map_err(|never| match never {});
            let mut resp = hyper::Response::new(body.boxed_unsync());
            *resp.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            resp
        }))
    }

    /// Runs `req` through a fresh instance of the component.
    async fn handle(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> wasmtime::Result<hyper::Response<HyperOutgoingBody>> {
        let state = RequestState::new(&self.env, self.stores.clone());
        let mut store = Store::new(self.pre.engine(), state);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let pre = self.pre.clone();

        // The guest may keep running (streaming the body) after it has set
        // the response head, so it runs on its own task, which reports its
        // own failure (a trap may come after the head was sent).
        let task = tokio::task::spawn(async move {
            let done = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await
            }
            .await;
            if let Err(e) = &done {
                eprintln!("guest error: {e:?}");
            }
            done
        });

        match receiver.await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(code)) => Err(wasmtime::format_err!("guest answered with error: {code:?}")),
            // The guest dropped the response outparam without setting it.
            Err(_) => match task.await {
                Ok(Ok(())) => Err(wasmtime::format_err!(
                    "the guest returned without a response"
                )),
                Ok(Err(_)) => Err(wasmtime::format_err!("the guest failed before responding")),
                Err(e) => Err(e.into()),
            },
        }
    }
}

/// A static string as a body chunk.
fn bytes_of(s: &'static str) -> hyper::body::Bytes {
    hyper::body::Bytes::from_static(s.as_bytes())
}
