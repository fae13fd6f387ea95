#!/usr/bin/env bash
# End-to-end test of the Spin key-value path (`gateway-spin --features
# spin-kv`) under tools/spin-kv-host: a wasmtime-based test host that
# serves the component like `wasmtime serve -Scli` (a fresh instance per
# request) and also provides `fermyon:spin/key-value@2.0.0` over an
# in-process store shared by all instances.
#
# Checks, with the `selftest` feature of targets/spin (both builds): the store contract
# holds on Spin KV, a counter survives across per-request instances (1..5),
# and a build without spin-kv under the same host does not keep it (1 each
# time). Always: both builds serve, and outgoing HTTP reaches a loopback
# upstream. The spin-kv build embeds tools/spin-kv-host/tests/spin-kv.yaml
# (`store: platform`). The host and the store run in one process, so this
# proves the adapter and the key-value wiring, not Spin's own store
# backends.
#
# Idempotent: builds the host once per source hash (scripts/lib/
# spin-kv-host.sh, cached under $GATEWAY_TOOLS). Components are built with
# the same settings as spin.sh (scripts/lib/wasm-profile.sh), so only the
# adapter crate is recompiled, and copied out of target/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

WASM=${CARGO_TARGET_DIR:-$ROOT/target}/wasm32-wasip2/release/gateway_spin.wasm

. scripts/lib/harness.sh

# --- tools ------------------------------------------------------------------
step "tools"
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
. scripts/lib/spin-kv-host.sh
start=$(date +%s)
ensure_spin_kv_host
echo "spin-kv-host: $SPIN_KV_HOST ($(($(date +%s) - start)) s)"

. scripts/lib/wasm-profile.sh
# component OUT CONFIG [FEATURES]: builds gateway-spin embedding CONFIG
# with FEATURES and copies the component to OUT.
component() {
  local out=$1 cfg=$2 features=${3:-}
  GATEWAY_CONFIG=$cfg cargo build --locked --release -q -p gateway-spin --target wasm32-wasip2 \
    ${features:+--features "$features"}
  cp "$WASM" "$out"
}

# serve WASM LOG: starts the host on a free port; sets BASE.
serve() {
  local wasm=$1 log=$2 port t0
  port=$(free_port)
  BASE=http://127.0.0.1:$port
  start_bg "$log" "$SPIN_KV_HOST" --addr "127.0.0.1:$port" --kv-store default "$wasm"
  t0=$(date +%s%N)
  if wait_http "$BASE/" 60; then
    echo "spin-kv-host on $BASE: first answer after $((($(date +%s%N) - t0) / 1000000)) ms"
  else
    bad "spin-kv-host answers on $BASE" "$(tail -n 20 "$log")"
    return 1
  fi
}

# post PATH: POSTs to PATH; sets CODE and BODY (file).
post() {
  BODY=$TMP/body
  CODE=$(curl -s -X POST -o "$BODY" -w '%{http_code}' --max-time 60 "$BASE$1") || CODE=000
}

# counts WHAT EXPECTED...: POSTs incr/k once per EXPECTED value, in order.
counts() {
  local what=$1 got=() want
  shift
  for want in "$@"; do
    post /__gateway/selftest/incr/k
    got+=("$CODE:$(tr -d ' \r\n' <"$BODY")")
  done
  want=$(printf '200:%s ' "$@")
  if [ "${got[*]} " = "$want" ]; then
    ok "$what"
  else
    bad "$what" "want [${want% }], got [${got[*]}]"
  fi
}

# hello WHAT: GET /hello answers the quickstart route.
hello() {
  local code
  code=$(curl -s -o "$TMP/hello" -w '%{http_code}' --max-time 20 "$BASE/hello") || code=000
  if [ "$code" = 200 ] && grep -q "hello from the gateway" "$TMP/hello"; then
    ok "$1"
  else
    bad "$1" "status $code: $(head -c 300 "$TMP/hello")"
  fi
}

# Two builds. "kv": Spin key-value (`store: platform`, config
# tools/spin-kv-host/tests/spin-kv.yaml). "mem": memory per instance, with a
# route to a loopback upstream to check the host's outgoing HTTP.
FEATURES=selftest
token="spin-kv-host-$RANDOM-$RANDOM"
mkdir -p "$TMP/www"
echo "$token" >"$TMP/www/hello.txt"
start_upstreams "$TMP/www"
cat >"$TMP/mem.yaml" <<YAML
version: 1
upstreams:
  hello:
    mock:
      json: { message: "hello from the gateway" }
  files:
    url: http://127.0.0.1:$UP_PORT
routes:
  - { name: hello, methods: [GET], path: /hello, upstream: hello }
  - name: files
    path: /files/{*rest}
    upstream: files
    policies:
      - rewrite: { path: "/{rest}" }
YAML

step "build: spin-kv${FEATURES:+,$FEATURES} and ${FEATURES:-no features} (memory per instance)"
component "$TMP/kv.wasm" "$ROOT/tools/spin-kv-host/tests/spin-kv.yaml" "spin-kv${FEATURES:+,$FEATURES}"
if grep -aq 'fermyon:spin/key-value@' "$TMP/kv.wasm"; then
  ok "the spin-kv build imports fermyon:spin/key-value"
else
  bad "the spin-kv build does not import fermyon:spin/key-value"
fi
component "$TMP/mem.wasm" "$TMP/mem.yaml" "$FEATURES"

step "spin-kv build under spin-kv-host"
if serve "$TMP/kv.wasm" "$TMP/kv.log"; then
  hello "GET /hello -> 200: the spin-kv build links and serves"
  if [ -n "$FEATURES" ]; then
    post /__gateway/selftest/store
    if [ "$CODE" = 200 ] && python3 - "$BODY" <<'PY'; then
import json, sys
d = json.load(open(sys.argv[1]))
print(f"        passed {d['passed']}, failed {d['failed']}")
assert d["failed"] == [] and d["passed"] > 0
PY
      ok "POST /__gateway/selftest/store: the store contract holds on Spin KV"
    else
      bad "POST /__gateway/selftest/store" "status $CODE: $(head -c 600 "$BODY")"
    fi
    counts "incr/k x5 -> 1..5: the counter survives across per-request instances" 1 2 3 4 5
  fi
  # Rate limit of 50 (approximate, Spin KV): 200 GETs, 64 at a time.
  if allowed=$(python3 "$ROOT/scripts/lib/count-allowed.py" "$BASE/limited" 200 64); then
    if [ "$allowed" -ge 50 ] && [ "$allowed" -le 200 ]; then
      ok "rate limit 50 on Spin KV: $allowed of 200 allowed at concurrency 64 (approximate, measured)"
    else
      bad "rate limit 50 on Spin KV" "$allowed of 200 allowed"
    fi
  else
    bad "rate limit 50 on Spin KV" "$allowed"
  fi
fi

step "memory build under the same host"
if serve "$TMP/mem.wasm" "$TMP/mem.log"; then
  if [ -n "$FEATURES" ]; then
    counts "incr/k x5 -> 1 each time: without spin-kv nothing outlives an instance" 1 1 1 1 1
  fi
  if ! wait_http "http://127.0.0.1:$UP_PORT/" 60; then
    bad "the loopback upstream answers" "$(tail -n 5 "$TMP/upstream.log")"
  else
    code=$(curl -s -o "$TMP/files" -w '%{http_code}' --max-time 20 "$BASE/files/hello.txt") || code=000
    if [ "$code" = 200 ] && grep -q "$token" "$TMP/files"; then
      ok "GET /files/hello.txt -> 200 proxied from a loopback upstream (outgoing HTTP)"
    else
      bad "GET /files/hello.txt" "status $code: $(head -c 300 "$TMP/files")"
    fi
  fi
fi

finish
