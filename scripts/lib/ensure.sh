# Helpers to install what the scripts need, idempotently.

apt_updated=0
# ensure_apt COMMAND PACKAGE: installs PACKAGE with apt when COMMAND is missing.
ensure_apt() {
  local cmd=$1 pkg=$2
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if [ "$apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
}

# ensure_rust: the pinned toolchain from rust-toolchain.toml with its targets.
ensure_rust() {
  if ! command -v rustup >/dev/null 2>&1; then
    echo "rustup is required (https://rustup.rs)" >&2
    return 1
  fi
  rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
  local have
  have=$(rustup target list --installed)
  for t in wasm32-unknown-unknown wasm32-wasip1 wasm32-wasip2; do
    grep -qx "$t" <<<"$have" || rustup target add "$t"
  done
  rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt
}
