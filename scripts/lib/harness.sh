# Shared helpers for the target test scripts (sourced, never run).
#
# Results: `step`, `ok`, `bad`, `finish` (prints the tally, fails on any
# FAIL). Processes: `start_bg` runs a server in its own process group, and
# the EXIT trap stops every group and removes $TMP. Ports: `free_port`,
# `start_upstreams`, `wait_http`. Requests: `req` sets CODE/HDRS/BODY,
# `header`, `expect`.
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

# start_upstreams DIR: the loopback upstreams of scripts/lib/
# loopback-upstreams.py over DIR, started now and held to the end. Sets
# UP_PORT (file server), SLOW_PORT (never answers), DOWN_PORT (refuses).
# Ports are bound by the server itself, so nothing started later (builds,
# wrangler, workerd) can take one between the choice and the use.
start_upstreams() {
  local ports=$TMP/upstream-ports i
  mkdir -p "$1"
  start_bg "$TMP/upstream.log" python3 "$(dirname "${BASH_SOURCE[0]}")/loopback-upstreams.py" "$1" "$ports"
  for i in $(seq 1 150); do
    if [ -s "$ports" ]; then
      read -r UP_PORT SLOW_PORT DOWN_PORT <"$ports"
      return 0
    fi
    sleep 0.2
  done
  echo "the loopback upstreams did not start: $(tail -n 5 "$TMP/upstream.log")" >&2
  exit 1
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

# expect_log FILE TEXT WHAT: ok when FILE contains TEXT (fixed string),
# else FAIL with the end of FILE.
expect_log() {
  if grep -qF -- "$2" "$1"; then ok "$3"; else bad "$3" "$(tail -n 5 "$1")"; fi
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

# quickstart_checks: the quickstart routes of gateway.yaml against $BASE,
# the same checks on every target that serves the embedded config.
quickstart_checks() {
  req hello GET /hello
  expect "GET /hello -> 200 json, x-powered-by: gateway" \
    '[ "$CODE" = 200 ] && [[ "$(header content-type)" == application/json* ]] && [ "$(header x-powered-by)" = gateway ] && grep -q "hello from the gateway" "$BODY"'
  expect "GET /hello has content-length of its body" \
    '[ "$(header content-length)" = "$(stat -c %s "$BODY")" ]'

  # With -I curl prints the head to -o too; the body must not follow it.
  req head HEAD /hello -I
  expect "HEAD /hello -> 200 with the GET headers, no body" \
    '[ "$CODE" = 200 ] && [ "$(header x-powered-by)" = gateway ] && ! grep -q "hello from" "$BODY"'

  req echo GET '/echo/a/b?x=1' -H 'cookie: secret=1' -H 'x-legacy-id: 42'
  expect "GET /echo/a/b?x=1 -> upstream sees /internal/a/b?x=1, cookie removed, header renamed" \
    '[ "$CODE" = 200 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); h=d[\"headers\"]; assert d[\"path\"]==\"/internal/a/b\" and d[\"query\"]==\"x=1\" and \"cookie\" not in h and h.get(\"x-request-ref\")==\"42\"" "$BODY"'

  req echopost POST /echo/p --data-binary 'hello body'
  expect "POST /echo/p with a body -> 200, upstream sees content-length 10" \
    '[ "$CODE" = 200 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"method\"]==\"POST\" and d[\"headers\"][\"content-length\"]==\"10\"" "$BODY"'

  req dashboard GET /dashboard/ada
  expect "GET /dashboard/ada -> 200, three mock answers merged into one document" \
    '[ "$CODE" = 200 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"greeting\"]==\"hello from the gateway\" and d[\"profile\"]==\"/profiles/ada\" and len(d[\"users\"])==2 and \"_errors\" not in d" "$BODY"'

  head -c 20000 /dev/zero | tr '\0' a >"$TMP/big"
  req big POST /echo/big --data-binary "@$TMP/big"
  expect "POST /echo/big 20 KB (limit 16 KiB) -> 413 problem+json" \
    '[ "$CODE" = 413 ] && [[ "$(header content-type)" == application/problem+json* ]]'

  req deny DELETE /echo/x
  expect "DELETE /echo/x -> 403 problem+json" \
    '[ "$CODE" = 403 ] && [[ "$(header content-type)" == application/problem+json* ]]'

  req v1 GET /api/v1/users
  expect "GET /api/v1/users -> 200 with deprecation and sunset" \
    '[ "$CODE" = 200 ] && [ -n "$(header deprecation)" ] && [ -n "$(header sunset)" ] && grep -q "\"version\":1" "$BODY"'

  req v2 GET /api/v2/users
  expect "GET /api/v2/users -> 200 v2, no deprecation" \
    '[ "$CODE" = 200 ] && [ -z "$(header deprecation)" ] && grep -q "\"version\":2" "$BODY"'

  req v0 GET /api/v0/users
  expect "GET /api/v0/users -> 410" '[ "$CODE" = 410 ]'

  req post POST /hello
  expect "POST /hello -> 405, allow: GET, HEAD" \
    '[ "$CODE" = 405 ] && [ "$(header allow)" = "GET, HEAD" ]'

  req unknown GET /no/such/route
  expect "GET /no/such/route -> 404 problem+json" \
    '[ "$CODE" = 404 ] && [[ "$(header content-type)" == application/problem+json* ]] && grep -q route-not-found "$BODY"'
}

# access_log_checks LOG: request ids on the target at $BASE, and the access
# log line and metrics event the target wrote to LOG (its captured output)
# for one request, checked by scripts/lib/access_log_check.py.
access_log_checks() {
  local log=$1 id="acc-$RANDOM$RANDOM" out gen
  req reqid GET /hello -H "x-request-id: $id"
  expect "a client's X-Request-Id is returned as it was" \
    '[ "$CODE" = 200 ] && [ "$(header x-request-id)" = "$id" ]'
  if out=$(python3 scripts/lib/access_log_check.py "$log" "$id" 200 hello 2>&1); then
    ok "one access log line (JSON) and one metrics event for request $id"
    echo "        ${out:0:400}"
  else
    bad "one access log line (JSON) and one metrics event for request $id" "$out"
  fi
  req reqid404 GET /no/such/route -H 'x-request-id: not valid'
  gen=$(header x-request-id)
  expect "a malformed id is replaced, and the 404 problem carries the new one" \
    '[ "$CODE" = 404 ] && [ -n "$gen" ] && [ "$gen" != "not valid" ] && grep -q "\"request_id\":\"$gen\"" "$BODY"'
}
