#!/usr/bin/env bash
# The docs page in headless Chromium: starts `local` on the quickstart
# config (gateway.yaml, which enables `docs:`), opens /docs in Debian's
# chromium over the DevTools protocol (scripts/lib/docs-page-check.mjs) and
# checks that the page loads, every path of /openapi.json is rendered and
# the console shows no error (CSP violations included). Writes a
# screenshot to target/artefacts/docs-page.png.
#
# Idempotent: installs chromium (apt) and Node.js (apt) only when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. scripts/lib/harness.sh
. scripts/lib/ensure.sh

step "tools"
ensure_apt chromium chromium
ensure_apt node nodejs
ensure_apt curl curl
chromium --version 2>/dev/null | head -1
node --version

step "build local"
cargo build --locked -q -p local
LOCAL=${CARGO_TARGET_DIR:-$ROOT/target}/debug/local

step "start the gateway (gateway.yaml) and chromium"
PORT=$(free_port)
start_bg "$TMP/gateway.log" "$LOCAL" --config gateway.yaml --listen "127.0.0.1:$PORT" --no-watch
BASE=http://127.0.0.1:$PORT
wait_http "$BASE/openapi.json" || { cat "$TMP/gateway.log"; exit 1; }

sandbox=()
[ "$(id -u)" = 0 ] && sandbox=(--no-sandbox) # Chromium's sandbox refuses root.
start_bg "$TMP/chromium.log" chromium --headless=new "${sandbox[@]}" --disable-gpu \
  --no-first-run --no-default-browser-check --disable-extensions --disable-background-networking \
  --user-data-dir="$TMP/profile" --remote-debugging-address=127.0.0.1 --remote-debugging-port=0 \
  about:blank
for _ in $(seq 1 150); do
  [ -s "$TMP/profile/DevToolsActivePort" ] && break
  sleep 0.2
done
[ -s "$TMP/profile/DevToolsActivePort" ] || { echo "chromium did not start:"; cat "$TMP/chromium.log"; exit 1; }
DEVTOOLS=$(head -1 "$TMP/profile/DevToolsActivePort")
CHROMIUM_PGID=${PGIDS[${#PGIDS[@]}-1]}

step "the docs page renders every route without console errors"
mkdir -p target/artefacts
PNG=$ROOT/target/artefacts/docs-page.png
if out=$(node --experimental-websocket --no-warnings scripts/lib/docs-page-check.mjs \
  "$DEVTOOLS" "$BASE" /docs /openapi.json "$PNG" 2>&1); then
  ok "page loaded, all paths rendered, no console errors: $out"
else
  bad "docs page check" "$out"
fi
if [ -s "$PNG" ] && head -c 8 "$PNG" | od -An -c | grep -q 'P   N   G'; then
  ok "screenshot written: $PNG"
else
  bad "screenshot missing: $PNG"
fi
# Stop chromium before the harness removes its profile directory.
kill -TERM -- "-$CHROMIUM_PGID" 2>/dev/null || true
for _ in $(seq 1 50); do
  kill -0 -- "-$CHROMIUM_PGID" 2>/dev/null || break
  sleep 0.1
done
finish
