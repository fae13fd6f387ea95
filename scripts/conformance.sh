#!/usr/bin/env bash
# Runs the conformance corpus against each target that has a runner here and
# prints the scenario x target matrix. Targets are started on free loopback
# ports with the suite's merged config and stopped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/conformance
mkdir -p "$out"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # URL
  for _ in $(seq 100); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2
  return 1
}

pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done; }
trap cleanup EXIT

cargo run --locked -q -p gateway-conformance -- config "$out/gateway.json"
cargo build --locked -q -p local
reports=()

# local: the self-hosted server.
port=$(free_port)
setsid target/debug/local --config "$out/gateway.json" --listen "127.0.0.1:$port" --no-watch \
  >"$out/local.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$port/"
cargo run --locked -q -p gateway-conformance -- run --target local \
  --base-url "http://127.0.0.1:$port" --out "$out/local.json"
reports+=("$out/local.json")

# lambda: the Lambda adapter under the `cargo lambda watch` runtime emulator,
# built with the suite's config embedded.
. scripts/lib/cargo-lambda.sh
ensure_cargo_lambda
port=$(free_port)
(cd targets/lambda && GATEWAY_CONFIG="$PWD/../../$out/gateway.json" exec setsid cargo lambda watch \
  --invoke-address 127.0.0.1 --invoke-port "$port") >"$out/lambda.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$port/lambda-url/gateway-lambda"
for _ in $(seq 600); do
  curl -s -o /dev/null --max-time 30 "$base/routing/hello" && break
  sleep 1
done
cargo run --locked -q -p gateway-conformance -- run --target lambda \
  --base-url "$base" --out "$out/lambda.json" || true
reports+=("$out/lambda.json")

# spin: the Spin component under `wasmtime serve` (WASI 0.2 HTTP), built for
# wasm32-wasip2 with the suite's config embedded.
. scripts/lib/wasmtime.sh
ensure_wasmtime
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
. scripts/lib/wasm-profile.sh
GATEWAY_CONFIG="$PWD/$out/gateway.json" \
  cargo build --locked --release -q -p gateway-spin --target wasm32-wasip2
cp target/wasm32-wasip2/release/gateway_spin.wasm "$out/gateway_spin.wasm"
port=$(free_port)
setsid "$WASMTIME" serve -Scli --addr "127.0.0.1:$port" "$out/gateway_spin.wasm" \
  >"$out/spin.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$port/"
cargo run --locked -q -p gateway-conformance -- run --target spin \
  --base-url "http://127.0.0.1:$port" --out "$out/spin.json" || true
reports+=("$out/spin.json")

# workers: the worker under `wrangler dev --local` (workerd), built with
# worker-build and the suite's config embedded (without wasm-opt, which
# changes size, not behaviour), run from a copy of the build with a config
# without [build].
. scripts/lib/workers-tools.sh
ensure_workers_tools
(cd targets/workers && GATEWAY_CONFIG="$PWD/../../$out/gateway.json" \
  "$WB_DIR/bin/worker-build" --release --no-opt) >"$out/workers-build.log" 2>&1
rm -rf "$out/workers-build" && cp -r targets/workers/build "$out/workers-build"
python3 scripts/lib/wrangler-run-config.py infra/wrangler.toml "$out/workers-build/wrangler.run.toml" \
  "$out/workers-build/worker/shim.mjs"
port=$(free_port)
inspector=$(free_port)
(cd "$out/workers-build" && exec setsid "$WRANGLER" dev --config wrangler.run.toml --local --ip 127.0.0.1 \
  --port "$port" --inspector-port "$inspector" --persist-to "$PWD/state" --log-level warn) >"$out/workers.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$port/"
cargo run --locked -q -p gateway-conformance -- run --target workers \
  --base-url "http://127.0.0.1:$port" --out "$out/workers.json" || true
reports+=("$out/workers.json")

echo
echo "Conformance matrix:"
cargo run --locked -q -p gateway-conformance -- matrix "${reports[@]}" | tee "$out/matrix.md"
