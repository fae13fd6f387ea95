//! Per-request store data: WASI, WASI HTTP and Spin key-value contexts.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::kv::{KvHostView, KvStores, KvView};

/// The `T` of each request's `Store<T>`; dropped with the instance.
pub(crate) struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    stores: Arc<KvStores>,
}

impl RequestState {
    /// State for one request: inherited stdio, the given environment, and
    /// the key-value stores shared by all requests.
    pub(crate) fn new(env: &[(String, String)], stores: Arc<KvStores>) -> Self {
        let wasi = WasiCtx::builder().inherit_stdio().envs(env).build();
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            stores,
        }
    }
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

impl KvHostView for RequestState {
    fn kv(&mut self) -> KvView<'_> {
        KvView {
            stores: &self.stores,
            table: &mut self.table,
        }
    }
}
