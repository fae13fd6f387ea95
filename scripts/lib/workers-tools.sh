# Puts the Workers build and run tools on hand, installing each into
# $GATEWAY_TOOLS (default ~/.cache/gateway-tools), keyed by version, only
# when missing: wasm-bindgen-cli and worker-build (cargo install, minutes
# the first time), npm wrangler (the last release that runs on Node 20),
# binaryen (wasm-opt) and esbuild. Sets WB_DIR, WRANGLER and exports the
# variables that keep worker-build from downloading anything. Source it.

WASM_BINDGEN_VERSION=0.2.130
WORKER_BUILD_VERSION=0.8.7
WRANGLER_VERSION=4.86.0
BINARYEN_VERSION=132.0.0
ESBUILD_VERSION=0.28.2

ensure_workers_tools() {
  local tools=${GATEWAY_TOOLS:-$HOME/.cache/gateway-tools}
  local wbg_dir=$tools/wasm-bindgen-cli-$WASM_BINDGEN_VERSION
  WB_DIR=$tools/worker-build-$WORKER_BUILD_VERSION
  local npm_dir=$tools/workers-npm-wrangler-$WRANGLER_VERSION-binaryen-$BINARYEN_VERSION-esbuild-$ESBUILD_VERSION
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
  fi
  _cargo_tool() {
    local dir=$1 crate=$2 version=$3 bin=$4
    if [ ! -x "$dir/bin/$bin" ]; then
      echo "installing $crate $version into $dir (takes minutes)"
      # Not --locked: the locked build wants a crate version the registry no longer serves.
      cargo install -q "$crate" --version "$version" --root "$dir"
    fi
  }
  _cargo_tool "$wbg_dir" wasm-bindgen-cli "$WASM_BINDGEN_VERSION" wasm-bindgen
  _cargo_tool "$WB_DIR" worker-build "$WORKER_BUILD_VERSION" worker-build
  if [ ! -e "$npm_dir/.installed" ]; then
    echo "installing wrangler $WRANGLER_VERSION, binaryen $BINARYEN_VERSION, esbuild $ESBUILD_VERSION into $npm_dir"
    rm -rf "$npm_dir"
    mkdir -p "$npm_dir"
    npm install --prefix "$npm_dir" --save-exact --no-audit --no-fund --loglevel=error \
      "wrangler@$WRANGLER_VERSION" "binaryen@$BINARYEN_VERSION" "esbuild@$ESBUILD_VERSION"
    touch "$npm_dir/.installed"
  fi
  local bin=$npm_dir/node_modules/.bin
  WRANGLER=$bin/wrangler
  export WASM_BINDGEN_BIN=$wbg_dir/bin/wasm-bindgen
  export WASM_OPT_BIN=$bin/wasm-opt
  export ESBUILD_BIN=$bin/esbuild
  export WRANGLER_SEND_METRICS=false
}
