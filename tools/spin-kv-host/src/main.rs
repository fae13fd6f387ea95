//! `spin-kv-host`: **test tooling**, not a Spin replacement.
//!
//! Serves a spin-sdk 5.2 HTTP component (WASI 0.2 `wasi:http/incoming-handler`)
//! the way `wasmtime serve -Scli` does: HTTP/1.1 on `--addr`, a fresh instance
//! per request, WASI CLI imports (inherited stdio, clocks, random, `--env`)
//! and outgoing HTTP. On top of that it provides Spin's key-value interface
//! (`fermyon:spin/key-value@2.0.0`) over in-process maps shared by all
//! instances, so state persists between requests until the host exits.
//! Nothing is written to disk. `scripts/targets/spin-kv.sh` drives it.
//!
//! ```text
//! spin-kv-host --addr 127.0.0.1:PORT [--kv-store default]... COMPONENT.wasm
//! ```

mod kv;
mod server;
mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use wasmtime::component::{Component, Linker};
use wasmtime::error::Context;
use wasmtime::{Config, Engine};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::kv::KvStores;
use crate::server::Server;
use crate::state::RequestState;

/// Command line.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Test host: serves a Spin (spin-sdk 5.2) HTTP component with an in-process key-value store"
)]
struct Args {
    /// Address to listen on, e.g. 127.0.0.1:3000.
    #[arg(long)]
    addr: SocketAddr,
    /// A key-value store label the component may open (repeatable).
    #[arg(long = "kv-store", value_name = "LABEL", default_values_t = ["default".to_string()])]
    kv_stores: Vec<String>,
    /// An environment variable the component sees, as NAME=VALUE (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// The component (`.wasm`) to serve.
    component: PathBuf,
}

/// Splits `NAME=VALUE`.
fn parse_env(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got `{s}`"))?;
    Ok((k.to_string(), v.to_string()))
}

#[tokio::main]
async fn main() -> wasmtime::Result<()> {
    let args = Args::parse();
    let pre = link(&args.component)?;
    let stores = Arc::new(KvStores::new(args.kv_stores));
    Server {
        pre,
        env: args.env,
        stores,
    }
    .serve(args.addr)
    .await
}

/// Compiles the component and links every import the host provides:
/// `wasi:cli` (and its clocks, random, io, ...), `wasi:http` and Spin's
/// key-value interface. Fails if the component imports anything else.
fn link(path: &PathBuf) -> wasmtime::Result<ProxyPre<RequestState>> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    let engine = Engine::new(&config)?;
    let component = Component::from_file(&engine, path)
        .with_context(|| format!("loading component {}", path.display()))?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    kv::add_to_linker(&mut linker)?;
    let pre = linker
        .instantiate_pre(&component)
        .context("linking the component's imports")?;
    ProxyPre::new(pre).context("the component must export wasi:http/incoming-handler@0.2")
}
