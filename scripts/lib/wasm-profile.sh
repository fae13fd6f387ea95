# Source before building a Spin or Workers artefact. Every script that
# builds them uses the same release settings, so the dependencies are
# compiled once per target and a new config or feature only recompiles
# the adapter crate (a few seconds).
#
# The workspace's release profile keeps line tables (for native
# backtraces); a deployed component or worker does not need them.
# GATEWAY_WASM_DEBUG=1 keeps them.
#
# Size matters more than peak speed at the edge (upload limits, cold
# starts): opt-level `s` makes the worker 22 % smaller gzipped than `3`
# (2.35 MB against 3.00 MB for the gateway.yaml worker before wasm-opt); `z` gains
# nothing more. GATEWAY_WASM_OPT_LEVEL overrides it.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=${GATEWAY_WASM_OPT_LEVEL:-s}
if [ "${GATEWAY_WASM_DEBUG:-0}" != 1 ]; then
  export CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=debuginfo
fi
