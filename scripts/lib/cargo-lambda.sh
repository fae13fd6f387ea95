# Puts a pinned cargo-lambda (PyPI, with its zig) on PATH, installing it into
# a cached venv when absent. Source it; needs python3.

CARGO_LAMBDA_VERSION=1.9.2
ensure_cargo_lambda() {
  local tools=${GATEWAY_TOOLS:-$HOME/.cache/gateway-tools}
  local venv="$tools/cargo-lambda-$CARGO_LAMBDA_VERSION"
  # Install once per version; a half-finished install is redone.
  if [ ! -x "$venv/bin/cargo-lambda" ] || [ ! -e "$venv/.installed" ]; then
    echo "installing cargo-lambda $CARGO_LAMBDA_VERSION into $venv"
    rm -rf "$venv"
    mkdir -p "$tools"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
    touch "$venv/.installed"
  fi
  export PATH="$venv/bin:$PATH"
}
