# Shared helpers for the target test scripts (sourced, never run).
#
# Results: `step`, `ok`, `bad`, `finish` (prints the tally, fails on any
# FAIL). Processes: `start_bg` runs a server in its own process group, and
# the EXIT trap stops every group and removes $TMP. Ports: `free_port`,
# `wait_http`. Requests: `req` sets CODE/HDRS/BODY, `header`, `expect`.
# Config refusals: `refuse`, with the build command in REFUSE_CMD.

step() { printf '\n==> %s\n' "$*"; }

passed=0
failed=0
ok() {
  passed=$((passed + 1))
  printf '  ok    %s\n' "$1"
}
bad() {
  failed=$((failed + 1))
  printf '  FAIL  %s\n' "$1"
  [ $# -lt 2 ] || printf '        %s\n' "$2"
}
# finish: the tally; the script's status is that of this call.
finish() {
  printf '\n%d passed, %d failed\n' "$passed" "$failed"
  [ "$failed" = 0 ]
}

# --- processes we start; each runs in its own process group --------------
PGIDS=()
TMP=$(mktemp -d)
cleanup() {
  local pg
  for pg in "${PGIDS[@]}"; do
    kill -TERM -- "-$pg" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

# start_bg LOG CMD...: runs CMD in a new session; its pid is its group id.
start_bg() {
  local log=$1
  shift
  setsid "$@" >"$log" 2>&1 </dev/null &
  PGIDS+=("$!")
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL [SECONDS]: until anything answers (default 30 s).
wait_http() {
  local i
  for i in $(seq 1 $((${2:-30} * 5))); do
    if curl -s -o /dev/null --max-time 2 "$1"; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# req NAME METHOD PATH [curl args...]: a request to $BASE; sets CODE, HDRS
# (file) and BODY (file).
req() {
  local name=$1 method=$2 path=$3
  shift 3
  HDRS=$TMP/$name.h
  BODY=$TMP/$name.b
  CODE=$(curl -s -X "$method" -D "$HDRS" -o "$BODY" -w '%{http_code}' --max-time 20 \
    "$@" "$BASE$path") || CODE=000
}
# header NAME: the value of response header NAME (case-insensitive).
header() {
  grep -i "^$1:" "$HDRS" | head -n1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'
}
# expect WHAT CONDITION: ok when CONDITION (evaluated) holds, else FAIL
# with the last response.
expect() {
  local what=$1 cond=$2
  if eval "$cond"; then ok "$what"; else bad "$what" "status $CODE; $(tr -d '\r' <"$HDRS" | tr '\n' ' ' | cut -c1-300) | $(head -c 300 "$BODY")"; fi
}

# refuse NAME PATTERN...: building with GATEWAY_CONFIG=$TMP/NAME.yaml
# (command: the array REFUSE_CMD) fails, and the output matches every
# PATTERN.
refuse() {
  local name=$1 out p
  shift
  if out=$(GATEWAY_CONFIG=$TMP/$name.yaml "${REFUSE_CMD[@]}" 2>&1); then
    bad "$name: the build accepted it"
    return
  fi
  for p in "$@"; do
    if ! grep -q -- "$p" <<<"$out"; then
      bad "$name: the build failed without listing: $p" "$(tail -n 12 <<<"$out")"
      return
    fi
  done
  ok "$name: the build fails listing the problems"
}
