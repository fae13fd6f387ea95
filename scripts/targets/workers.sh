#!/usr/bin/env bash
# Builds the Cloudflare Workers adapter (targets/workers) with worker-build
# and tests it under `wrangler dev --local` (workerd, KV simulated): the
# quickstart routes of gateway.yaml, outbound fetch and response caching
# in Workers KV (miss, hit, purge). Also checks that invalid configs fail
# the build, and records the bundle size (`wrangler deploy --dry-run`) and
# the time to first response. A self-test build (`--features selftest`,
# `counters: exact`) holds Workers KV and the `GatewayCounters` Durable
# Object to the core's store contract and measures how exact each counts
# under 20 concurrent clients.
#
# Idempotent: installs into $GATEWAY_TOOLS (default ~/.cache/gateway-tools),
# in directories keyed by version, only what is missing:
#   - wasm-bindgen-cli 0.2.130 and worker-build 0.8.7 (`cargo install`,
#     ~5.5 min the first time; without --locked, see docs/PITFALLS);
#   - npm wrangler 4.86.0 (the last release that runs on Node 20), binaryen
#     132.0.0 (wasm-opt) and esbuild 0.28.2.
# worker-build is pointed at those (WASM_BINDGEN_BIN, WASM_OPT_BIN,
# ESBUILD_BIN) so it downloads nothing.
#
# Env: GATEWAY_TOOLS (tool cache), GATEWAY_WASM_DEBUG=1 keeps debug info.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CRATE=$ROOT/targets/workers


. scripts/lib/harness.sh

# --- tools ------------------------------------------------------------------
step "tools (cache: ${GATEWAY_TOOLS:-$HOME/.cache/gateway-tools})"
. scripts/lib/workers-tools.sh
ensure_workers_tools
printf 'node %s, wrangler %s, %s, %s, esbuild %s\n' "$(node --version)" \
  "$("$WRANGLER" --version | tail -n1)" "$("$WASM_BINDGEN_BIN" --version)" \
  "$("$WASM_OPT_BIN" --version)" "$("$ESBUILD_BIN" --version)"

# --- invalid configs --------------------------------------------------------
step "invalid configs fail the build, listing the problems"
# The same target and settings as worker-build, so the dependencies built
# here are the ones worker-build uses; the build script stops the build.
. scripts/lib/wasm-profile.sh
REFUSE_CMD=(cargo build --locked --release -q -p gateway-workers --target wasm32-unknown-unknown)
cat >"$TMP/invalid.yaml" <<'EOF'
version: 1
upstreams:
  a: { url: 'http://127.0.0.1:1' }
routes:
  - { name: r, path: /r, upstream: nowhere }
EOF
refuse invalid 'routes\[0\].upstream: unknown upstream'
cat >"$TMP/beyond-workers.yaml" <<'EOF'
version: 1
store: redis://127.0.0.1:6379
upstreams:
  a: { url: 'https://127.0.0.1:1', ca_file: ca.pem }
EOF
refuse beyond-workers 'store: target `workers` cannot reach Redis' 'upstreams.a.ca_file: target `workers` cannot read files'
# Exact counters need the Durable Object: refused without the feature.
cat >"$TMP/exact-without-do.yaml" <<'EOF'
version: 1
store: { backend: platform, counters: exact }
EOF
REFUSE_CMD+=(--no-default-features)
refuse exact-without-do \
  'store.counters: target `workers` cannot keep exact counters' 'atomic_counters'

# --- build ------------------------------------------------------------------
# build [WORKER-BUILD OPTIONS] [CARGO ARGS...]: worker-build into
# $CRATE/build. Test-only variants pass --no-opt: wasm-opt changes size and
# speed, not behaviour, and takes over a minute per build on two cores.
build() {
  (cd "$CRATE" && "$WB_DIR/bin/worker-build" --release "$@")
}

# A second config for the outbound checks: a loopback file server, a server
# that accepts and never answers (1 s timeout) and a port that refuses. They
# start now and hold their ports until the end.
token="workers-outbound-$RANDOM-$RANDOM"
mkdir -p "$TMP/www"
echo "$token" >"$TMP/www/hello.txt"
start_upstreams "$TMP/www"
# Its /cached route caches in Workers KV (`store: platform`, `cache.store:
# shared`), with the purge API under /cache (token `test`).
cat >"$TMP/outbound.yaml" <<YAML
version: 1
store: platform
cache:
  store: shared
  purge: { token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 }
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
          response: { set: { x-via: gateway-workers } }
  - name: cached
    path: /cached/{*rest}
    upstream: files
    cache: { ttl: 60s }
    policies:
      - rewrite: { path: "/{rest}" }
  - name: slow
    path: /slow
    upstream: slow
  - name: down
    path: /down
    upstream: down
YAML

# The variant first, copied aside, so the artefact left in build/ (the one
# infra/wrangler.toml names) is the default build embedding gateway.yaml.
step "build the outbound-test worker (config: loopback upstreams)"
if GATEWAY_CONFIG=$TMP/outbound.yaml build --no-opt >"$TMP/build-outbound.log" 2>&1; then
  rm -rf "$TMP/outbound-build"
  cp -r "$CRATE/build" "$TMP/outbound-build"
  echo "built; copied to $TMP/outbound-build"
else
  bad "the outbound-test worker builds" "$(tail -n 20 "$TMP/build-outbound.log")"
fi

# The store self-test worker: exact counters (the Durable Object) and the
# unauthenticated self-test endpoints, so never the artefact left in build/.
cat >"$TMP/counters.yaml" <<'YAML'
version: 1
store: { backend: platform, counters: exact }
upstreams:
  hello:
    mock:
      json: { message: "hello from the counters test" }
routes:
  - name: hello
    methods: [GET]
    path: /hello
    upstream: hello
  # Rate-limit accuracy: exact on the Durable Object, approximate on KV.
  - name: rl-exact
    path: /rl/exact
    upstream: hello
    policies:
      - rate_limit: { limits: [{ name: do_acc, rate: 50/d }] }
  - name: rl-kv
    path: /rl/kv
    upstream: hello
    policies:
      - rate_limit: { limits: [{ name: kv_acc, rate: 50/d, accuracy: approximate }] }
YAML
step "build the store self-test worker (counters: exact, --features selftest)"
start=$(date +%s)
if GATEWAY_CONFIG=$TMP/counters.yaml build --no-opt --features selftest >"$TMP/build-counters.log" 2>&1; then
  rm -rf "$TMP/counters-build"
  cp -r "$CRATE/build" "$TMP/counters-build"
  echo "built in $(($(date +%s) - start)) s; copied to $TMP/counters-build"
  if grep -q 'as GatewayCounters' "$TMP/counters-build/index.js"; then
    ok "the worker exports the Durable Object class GatewayCounters"
  else
    bad "the worker exports the Durable Object class GatewayCounters" "$(grep -o 'export{[^}]*}' "$TMP/counters-build/index.js" | tail -n1)"
  fi
else
  bad "the store self-test worker builds" "$(tail -n 20 "$TMP/build-counters.log")"
fi

step "build with worker-build (config: gateway.yaml)"
start=$(date +%s)
build
echo "built in $(($(date +%s) - start)) s"
SHIM=$CRATE/build/worker/shim.mjs
if [ -f "$SHIM" ]; then
  ok "worker-build wrote build/worker/shim.mjs"
else
  bad "worker-build wrote build/worker/shim.mjs" "$(ls -R "$CRATE/build" 2>&1 | head -n 20)"
fi

# The run config: infra/wrangler.toml without [build] (no rebuild on each
# start), `main` made absolute. Written under build/ (git-ignored).
RUN_CONFIG=$CRATE/build/wrangler.run.toml
if out=$(python3 scripts/lib/wrangler-run-config.py "$ROOT/infra/wrangler.toml" "$RUN_CONFIG" 2>&1); then
  ok "infra/wrangler.toml parses; main is the built shim; GATEWAY_KV and GATEWAY_COUNTERS bound"
  echo "        $out"
else
  bad "infra/wrangler.toml" "$out"
fi

step "bundle size (wrangler deploy --dry-run)"
if out=$(cd "$CRATE/build" && "$WRANGLER" deploy --dry-run --outdir "$TMP/dist" --config "$RUN_CONFIG" 2>&1); then
  size=$(grep -o 'Total Upload:.*' <<<"$out" | head -n1)
  ok "dry-run deploy: ${size:-size not printed}"
  # Workers limits on the compressed worker: 3 MiB on the free plan,
  # 10 MiB on paid plans. Over 10 MiB the worker cannot be deployed at all.
  gz=$(grep -o 'gzip: [0-9.]* KiB' <<<"$size" | grep -o '[0-9.]*' || true)
  if [ -z "$gz" ]; then
    bad "the compressed size is printed" "$size"
  elif awk -v k="$gz" 'BEGIN { exit !(k <= 10240) }'; then
    plan=$(awk -v k="$gz" 'BEGIN { print (k <= 3072) ? "fits the free plan (3 MiB)" : "needs a paid plan (over 3 MiB)" }')
    ok "compressed worker ${gz} KiB is within the 10 MiB limit; $plan"
  else
    bad "compressed worker within the 10 MiB Workers limit" "${gz} KiB"
  fi
else
  bad "wrangler deploy --dry-run" "$(tail -n 15 <<<"$out")"
fi

# --- quickstart routes ------------------------------------------------------
# serve BUILD_DIR CONFIG LOG [wrangler args...]: starts `wrangler dev
# --local` on a free port (BASE) and waits for the first answer, printing
# how long it took. WRANGLER_LOG_LEVEL (default warn) is wrangler's
# --log-level; `log` keeps the Worker's console.log output in LOG.
serve() {
  local dir=$1 config=$2 log=$3 port inspector t0 i out
  shift 3
  port=$(free_port)
  inspector=$(free_port)
  BASE=http://127.0.0.1:$port
  t0=$(date +%s%N)
  start_bg "$log" bash -c 'cd "$1" && exec "$2" dev --config "$3" --local --ip 127.0.0.1 \
    --port "$4" --inspector-port "$5" --persist-to "$6" --log-level "$7" "${@:8}"' _ \
    "$dir" "$WRANGLER" "$config" "$port" "$inspector" "$TMP/state" "${WRANGLER_LOG_LEVEL:-warn}" "$@"
  for i in $(seq 1 300); do
    out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 10 "$BASE/") || true
    if [ "${out%% *}" != 000 ] && [ -n "$out" ]; then
      echo "wrangler dev on $BASE: first response $((($(date +%s%N) - t0) / 1000000)) ms after start (that request: ${out#* } s)"
      return 0
    fi
    sleep 0.2
  done
  bad "wrangler dev answers on $BASE" "$(tail -n 30 "$log")"
  return 1
}

step "wrangler dev --local: quickstart routes (gateway.yaml)"
if WRANGLER_LOG_LEVEL=log serve "$CRATE/build" "$RUN_CONFIG" "$TMP/dev.log"; then
  echo "then GET /hello took $(curl -s -o /dev/null -w '%{time_total}' "$BASE/hello") s"

  quickstart_checks
  step "wrangler dev --local: request ids and the access log (console.log)"
  access_log_checks "$TMP/dev.log"
fi

# --- config given at start -------------------------------------------------
step "wrangler dev --local: GATEWAY_CONFIG_TEXT (a var) replaces the embedded config"
env_config='{"version":1,"upstreams":{"m":{"mock":{"status":200,"body":"from the environment, ${GW_GREETING}"}}},"routes":[{"path":"/from-env","upstream":"m"}]}'
if serve "$CRATE/build" "$RUN_CONFIG" "$TMP/dev-env.log" --var "GATEWAY_CONFIG_TEXT:$env_config" \
  --var GW_GREETING:hi-from-a-variable; then
  req env GET /from-env
  expect "GET /from-env -> 200 from the config in the var, \${GW_GREETING} resolved from a var" \
    '[ "$CODE" = 200 ] && grep -q "from the environment, hi-from-a-variable" "$BODY"'
  req env-hello GET /hello
  expect "GET /hello -> 404: the embedded config is not served" '[ "$CODE" = 404 ]'
fi
if serve "$CRATE/build" "$RUN_CONFIG" "$TMP/dev-novar.log" --var "GATEWAY_CONFIG_TEXT:$env_config"; then
  req novar GET /from-env
  expect "a variable neither a secret nor a var sets -> 500 problem+json" \
    '[ "$CODE" = 500 ] && [[ "$(header content-type)" == application/problem+json* ]]'
fi
if serve "$CRATE/build" "$RUN_CONFIG" "$TMP/dev-badenv.log" --var 'GATEWAY_CONFIG_TEXT:{"version":1,"store":"redis://127.0.0.1:6379"}'; then
  req badenv GET /hello
  expect "a config text the target cannot honour -> 500 problem+json, not the embedded config" \
    '[ "$CODE" = 500 ] && [[ "$(header content-type)" == application/problem+json* ]]'
fi

# --- outbound HTTP ----------------------------------------------------------
step "wrangler dev --local: outbound fetch (loopback upstreams)"
if [ ! -f "$TMP/outbound-build/worker/shim.mjs" ]; then
  bad "outbound checks: the outbound-test worker was not built"
elif ! wait_http "http://127.0.0.1:$UP_PORT/" 60; then
  bad "the loopback upstream answers" "$(tail -n 5 "$TMP/upstream.log")"
else
  sed "s#^main = .*#main = \"$TMP/outbound-build/worker/shim.mjs\"#" "$RUN_CONFIG" \
    >"$TMP/outbound-build/wrangler.run.toml"
  if serve "$TMP/outbound-build" "$TMP/outbound-build/wrangler.run.toml" "$TMP/dev-outbound.log"; then
    req files GET /files/hello.txt
    expect "GET /files/hello.txt -> 200 proxied from the loopback server" \
      '[ "$CODE" = 200 ] && grep -q "$token" "$BODY" && [ "$(header x-via)" = gateway-workers ] && [[ "$(header server)" == SimpleHTTP* ]]'
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

    req files2 GET /files/hello.txt
    expect "GET /files/hello.txt again after the failures -> 200 (no isolate reset)" \
      '[ "$CODE" = 200 ] && grep -q "$token" "$BODY"'

    # Response caching in Workers KV: miss, hit, purge, miss.
    req cache-miss GET /cached/hello.txt
    expect "cache on Workers KV: first GET /cached/hello.txt -> 200 X-Cache: MISS" \
      '[ "$CODE" = 200 ] && grep -q "$token" "$BODY" && [ "$(header x-cache)" = MISS ]'
    req cache-hit GET /cached/hello.txt
    expect "cache on Workers KV: second GET -> 200 X-Cache: HIT with Age, same body" \
      '[ "$CODE" = 200 ] && grep -q "$token" "$BODY" && [ "$(header x-cache)" = HIT ] && [ -n "$(header age)" ]'
    req cache-purge POST /cache/purge -H 'authorization: Bearer test' --data '{"prefix": "/cached/"}'
    expect "cache on Workers KV: POST /cache/purge {prefix} -> 200 (ban stored in KV)" \
      '[ "$CODE" = 200 ] && grep -q "\"prefix\":\"/cached/\"" "$BODY"'
    req cache-purged GET /cached/hello.txt
    expect "cache on Workers KV: after the purge -> X-Cache: MISS" \
      '[ "$CODE" = 200 ] && [ "$(header x-cache)" = MISS ]'
    req cache-again GET /cached/hello.txt
    expect "cache on Workers KV: and then HIT again" '[ "$(header x-cache)" = HIT ]'
  fi
fi

# --- store self-test: KV and the Durable Object -----------------------------
# count.py BASE PATH N CONCURRENCY: POSTs BASE/PATH N times from CONCURRENCY
# threads and prints the answers, one per line ("ERR ..." for failures).
cat >"$TMP/count.py" <<'PY'
import sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, path, n, conc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def one(_):
    try:
        req = urllib.request.Request(base + path, method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode().strip()
    except Exception as e:
        return "ERR " + " ".join(str(e).split())
with ThreadPoolExecutor(conc) as pool:
    for answer in pool.map(one, range(n)):
        print(answer)
PY
# integers FILE CHECK: every line of FILE is an integer, 200 lines, and the
# Python expression CHECK holds for the list `a` of them.
integers() {
  python3 -c 'import sys
lines = open(sys.argv[1]).read().split()
a = [int(x) for x in lines if x.lstrip("-").isdigit()]
assert len(lines) == 200 and len(a) == 200, open(sys.argv[1]).read()[:300]
assert eval(sys.argv[2]), sorted(a)[:10]' "$1" "$2"
}
# selftest NAME: runs the store contract on NAME (store or counters).
selftest() {
  req "selftest-$1" POST "/__gateway/selftest/$1"
  expect "POST /__gateway/selftest/$1 -> contract passed: $(head -c 300 "$BODY")" \
    '[ "$CODE" = 200 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"failed\"]==[] and d[\"passed\"]>=8" "$BODY"'
}
step "wrangler dev --local: store contract and exact counters (Workers KV, Durable Object)"
if [ ! -f "$TMP/counters-build/worker/shim.mjs" ]; then
  bad "store self-test: the self-test worker was not built"
else
  sed "s#^main = .*#main = \"$TMP/counters-build/worker/shim.mjs\"#" "$RUN_CONFIG" \
    >"$TMP/counters-build/wrangler.run.toml"
  if serve "$TMP/counters-build" "$TMP/counters-build/wrangler.run.toml" "$TMP/dev-counters.log"; then
    selftest store
    selftest counters

    t0=$(date +%s%N)
    python3 "$TMP/count.py" "$BASE" /__gateway/selftest/incr/acc 200 20 >"$TMP/do.out"
    do_ms=$((($(date +%s%N) - t0) / 1000000))
    expect "Durable Object: 200 incr, 20 at a time, answer exactly 1..200, each once ($do_ms ms)" \
      'integers "$TMP/do.out" "sorted(a) == list(range(1, 201))"'

    t0=$(date +%s%N)
    python3 "$TMP/count.py" "$BASE" /__gateway/selftest/incr-store/acc 200 20 >"$TMP/kv.out"
    kv_ms=$((($(date +%s%N) - t0) / 1000000))
    # One more, alone: its answer minus one is the count the 200 left.
    req kv-final POST /__gateway/selftest/incr-store/acc
    kv_final=-1
    if [ "$CODE" = 200 ] && grep -qx '[0-9]*' "$BODY"; then
      kv_final=$(($(cat "$BODY") - 1))
    fi
    kv_distinct=$(sort -u "$TMP/kv.out" | grep -c . || true)
    expect "Workers KV: 200 incr, 20 at a time, all answer an integer; final count $kv_final <= 200 ($kv_ms ms)" \
      'integers "$TMP/kv.out" "True" && [ "$kv_final" -ge 1 ] && [ "$kv_final" -le 200 ]'
    printf '  measured: Durable Object counted 200 of 200 in %d ms; Workers KV (read-modify-write) counted %d of 200 in %d ms (%d lost updates, %d distinct answers)\n' \
      "$do_ms" "$kv_final" "$kv_ms" "$((200 - kv_final))" "$kv_distinct"

    # Rate limit of 50 per day: 200 GETs, 64 at a time.
    do_allowed=$(python3 "$ROOT/scripts/lib/count-allowed.py" "$BASE/rl/exact" 200 64) || do_allowed=-1
    expect "rate limit 50, exact (Durable Object): $do_allowed of 200 allowed at concurrency 64" \
      '[ "$do_allowed" = 50 ]'
    kv_allowed=$(python3 "$ROOT/scripts/lib/count-allowed.py" "$BASE/rl/kv" 200 64) || kv_allowed=-1
    expect "rate limit 50, approximate (Workers KV): $kv_allowed of 200 allowed at concurrency 64 (measured)" \
      '[ "$kv_allowed" -ge 50 ] && [ "$kv_allowed" -le 200 ]'
  fi
fi

finish
