#!/usr/bin/env bash
# Smoke test of the Lambda target under the `cargo lambda watch` runtime
# emulator: installs cargo-lambda (PyPI, pinned) into a cached venv when
# absent, serves targets/lambda with the embedded repository gateway.yaml
# on a free loopback port, and checks a few requests through the emulator's
# Function URL endpoint (/lambda-url/gateway-lambda/...).
#
# Env: GATEWAY_TOOLS (tool cache, default ~/.cache/gateway-tools),
#      LAMBDA_WAIT_SECS (first build + start deadline, default 900).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

out="$repo/target/lambda-smoke"
mkdir -p "$out"

. scripts/lib/cargo-lambda.sh
ensure_cargo_lambda
cargo lambda --version

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
base="http://127.0.0.1:$port/lambda-url/gateway-lambda"

# The function serves the config embedded at build time (the repository's
# gateway.yaml): no overrides from the caller's environment.
unset GATEWAY_CONFIG GATEWAY_CONFIG_FILE

pgid=""
cleanup() {
  if [ -n "$pgid" ]; then
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

(cd targets/lambda && exec setsid cargo lambda watch \
  --invoke-address 127.0.0.1 --invoke-port "$port") >"$out/watch.log" 2>&1 &
pgid=$!

# The first request waits for the build; later ones are quick.
deadline=$((SECONDS + ${LAMBDA_WAIT_SECS:-900}))
until curl -s -o /dev/null --max-time 30 -f "$base/hello"; do
  if ! kill -0 "$pgid" 2>/dev/null; then
    echo "cargo lambda watch exited; log:" >&2
    tail -n 50 "$out/watch.log" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "no answer from $base/hello; log:" >&2
    tail -n 50 "$out/watch.log" >&2
    exit 1
  fi
  sleep 1
done

passed=0
failed=0
# check NAME METHOD PATH STATUS [HEADER-REGEX] [BODY-REGEX] [curl args...]
# HEADER-REGEX is matched against the lower-cased response head.
check() {
  local name=$1 method=$2 path=$3 want=$4 head_re=${5:-} body_re=${6:-}
  shift $(($# < 6 ? $# : 6))
  local status ok=1
  status=$(curl -s -X "$method" -D "$out/head" -o "$out/body" --max-time 30 \
    -w '%{http_code}' "$@" "$base$path") || status="curl-failed"
  [ "$status" = "$want" ] || ok=0
  if [ -n "$head_re" ] && ! tr 'A-Z' 'a-z' <"$out/head" | grep -Eq "$head_re"; then ok=0; fi
  if [ -n "$body_re" ] && ! grep -Eq "$body_re" "$out/body"; then ok=0; fi
  if [ "$ok" = 1 ]; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name: $method $path -> $status (want $want)"
    sed 's/^/     /' "$out/head" "$out/body"
    echo
  fi
}

check "mock route" GET /hello 200 '' '"message": ?"hello from the gateway"'
check "response header policy" GET /hello 200 '^x-powered-by: gateway'
check "404 is problem+json" GET /nowhere 404 '^content-type: application/problem\+json' '"status": ?404'
check "405 names the allowed methods" POST /hello 405 '^allow: .*get' '"status": ?405'
check "deny policy" DELETE /echo/x 403 '^content-type: application/problem\+json'
check "path parameter and rewrite" GET '/echo/a/b?x=1' 200 '' '"path": ?"/internal/a/b"'
check "request header policy sees the client" GET /echo/ip 200 '' '"x-client-ip": ?"127\.0\.0\.1"'
check "versioned route, deprecated version" GET /api/v1/users 200 '^deprecation: ' '"version": ?1'
check "retired version" GET /api/v0/users 410 '^content-type: application/problem\+json'

# Request ids, and the access log line and metrics event the function
# writes to stdout, which `cargo lambda watch` shows in its output.
rid="acc-$RANDOM$RANDOM"
check "a client's X-Request-Id is returned" GET /hello 200 "^x-request-id: $rid" '' -H "x-request-id: $rid"
if res=$(python3 scripts/lib/access_log_check.py "$out/watch.log" "$rid" 200 hello 2>&1); then
  passed=$((passed + 1))
  echo "ok   one access log line (JSON) and one metrics event for request $rid"
  echo "     ${res:0:400}"
else
  failed=$((failed + 1))
  echo "FAIL access log line for request $rid: $res"
fi
check "a generated id is in the 404 problem" GET /nowhere 404 '^x-request-id: [0-9a-f]{32}' '"request_id": ?"[0-9a-f]{32}"'

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
