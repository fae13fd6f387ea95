#!/usr/bin/env bash
# User-space instructions per proxied request, counted by callgrind: a
# deterministic companion to bench/run.sh, whose wall-clock CPU numbers vary
# by ±10% or more on a shared VM.
#
#   bench/callgrind.sh                         # target/release/local
#   GATEWAY_BIN=/tmp/old-local bench/callgrind.sh
#
# The gateway (one tokio worker, the same one-route config as bench/run.sh)
# runs under `valgrind --tool=callgrind` on CPU 0; an nginx upstream
# (`return 200 "ok"`) and wrk run on CPU 1. After a warm-up the counters are
# zeroed, wrk sends GET /bench for DURATION over CONNECTIONS connections,
# and the counters are dumped: instructions / requests is the result.
# Callgrind counts each byte step of `rep movsb` as an instruction, so
# large memcpy weighs more here than on the CPU. Everything listens on
# 127.0.0.1; every process is stopped on exit. The profile is kept in
# bench/results/tmp/callgrind.out for `callgrind_annotate`.
#
# Environment: GATEWAY_BIN (default target/release/local; built unless
# SKIP_BUILD=1), DURATION (default 10s), CONNECTIONS (default 8).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GATEWAY_BIN=${GATEWAY_BIN:-$ROOT/target/release/local}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-8}

log() { printf '[callgrind] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

missing=()
for tool in valgrind nginx wrk taskset; do
    command -v "$tool" >/dev/null 2>&1 || [[ -x /usr/sbin/$tool ]] || missing+=("$tool")
done
if ((${#missing[@]})); then
    [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null || die "missing ${missing[*]}"
    pkgs=("${missing[@]/taskset/util-linux}")
    log "installing ${pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if [[ ${SKIP_BUILD:-0} != 1 && $GATEWAY_BIN == "$ROOT/target/release/local" ]]; then
    log "cargo build --release -p local"
    (cd "$ROOT" && cargo build --release -q -p local)
fi
[[ -x $GATEWAY_BIN ]] || die "no gateway binary at $GATEWAY_BIN"

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP_PORT=$(free_port)
GW_PORT=$(free_port)

mkdir -p "$TMP/up"
cat >"$TMP/up/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/up/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/up/body;
    proxy_temp_path $TMP/up/proxy;
    fastcgi_temp_path $TMP/up/fastcgi;
    uwsgi_temp_path $TMP/up/uwsgi;
    scgi_temp_path $TMP/up/scgi;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$UP_PORT; location / { return 200 "ok"; } }
}
EOF
cat >"$TMP/gateway.yaml" <<EOF
version: 1
upstreams:
  origin:
    url: http://127.0.0.1:$UP_PORT
routes:
  - name: all
    path: /{*rest}
    upstream: origin
access_log: { enabled: false }
EOF

taskset -c 1 "$NGINX" -p "$TMP/up" -c "$TMP/up/nginx.conf" -e "$TMP/up/error.log" &
PIDS+=("$!")
OUT=$TMP/callgrind.out
GATEWAY_WORKERS=1 GATEWAY_LOG=warn taskset -c 0 valgrind --tool=callgrind \
    --callgrind-out-file="$OUT" "$GATEWAY_BIN" --config "$TMP/gateway.yaml" \
    --listen "127.0.0.1:$GW_PORT" --no-watch >"$TMP/gateway.log" 2>&1 &
GW_PID=$!
PIDS+=("$GW_PID")

URL=http://127.0.0.1:$GW_PORT/bench
for _ in $(seq 1 120); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$URL" || true) == 200 ]] && break
    sleep 0.5
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "$URL" || true) == 200 ]] ||
    die "the gateway under valgrind did not answer 200: $(tail -n 5 "$TMP/gateway.log")"

log "warm-up 3s"
taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d3s "$URL" >/dev/null
callgrind_control -z "$GW_PID" >/dev/null 2>&1
log "measuring $DURATION, $CONNECTIONS connections"
requests=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "$URL" | awk '/requests in/ {print $1}')
callgrind_control -d "$GW_PID" >/dev/null 2>&1
sleep 1
dump=$(ls "$OUT".* 2>/dev/null | head -n 1)
[[ -n $dump ]] || die "no callgrind dump"
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
mkdir -p "$ROOT/bench/results/tmp"
cp "$dump" "$ROOT/bench/results/tmp/callgrind.out"
printf '%s: %d requests, %d user instructions per request\n' \
    "$(basename "$GATEWAY_BIN")" "$requests" "$((total / requests))"
