# Sets SPIN_KV_HOST to the test host in tools/spin-kv-host (wasmtime plus
# Spin key-value), building it when absent. Source it from the repository
# root; needs the pinned Rust toolchain.
#
# The binary is cached under
#   ${GATEWAY_TOOLS:-$HOME/.cache/gateway-tools}/spin-kv-host/<hash>/spin-kv-host
# where <hash> covers the crate's Cargo.toml, Cargo.lock, wit/ and src/, so
# a fresh clone of an unchanged host reuses it. Builds share one
# CARGO_TARGET_DIR (spin-kv-host/target) so an edit rebuilds incrementally;
# only the <hash> directories need to be kept (e.g. in a CI cache).

# spin_kv_host_hash: prints the hash of the host's sources.
spin_kv_host_hash() {
  local dir=tools/spin-kv-host
  (
    cd "$dir" &&
      find Cargo.toml Cargo.lock wit src -type f -print0 | LC_ALL=C sort -z |
      xargs -0 sha256sum
  ) | sha256sum | cut -c1-16
}

ensure_spin_kv_host() {
  local base="${GATEWAY_TOOLS:-$HOME/.cache/gateway-tools}/spin-kv-host"
  local dir bin
  dir="$base/$(spin_kv_host_hash)"
  bin="$dir/spin-kv-host"
  if [ ! -x "$bin" ]; then
    echo "building spin-kv-host into $dir"
    mkdir -p "$dir"
    CARGO_TARGET_DIR="$base/target" \
      cargo build --release --locked --manifest-path tools/spin-kv-host/Cargo.toml
    # Copy then rename, so an interrupted install leaves no half binary.
    cp "$base/target/release/spin-kv-host" "$bin.tmp"
    mv -f "$bin.tmp" "$bin"
  fi
  SPIN_KV_HOST=$bin
  export SPIN_KV_HOST
}
