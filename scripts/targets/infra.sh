#!/usr/bin/env bash
# Checks the deployment manifests in infra/ offline: the SAM template with
# cfn-lint and `sam validate --lint` (PyPI aws-sam-cli, pinned, in a cached
# venv). Prints `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/../.."

SAM_VERSION=1.170.0
tools=${GATEWAY_TOOLS:-$HOME/.cache/gateway-tools}
venv="$tools/aws-sam-cli-$SAM_VERSION"
if [ ! -x "$venv/bin/sam" ] || [ ! -e "$venv/.installed" ]; then
  echo "installing aws-sam-cli $SAM_VERSION into $venv"
  rm -rf "$venv"
  mkdir -p "$tools"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "aws-sam-cli==$SAM_VERSION"
  touch "$venv/.installed"
fi

passed=0 failed=0
check() { # NAME COMMAND...
  local name=$1; shift
  if "$@" >"/tmp/infra-check.$$" 2>&1; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; cat "/tmp/infra-check.$$"
  fi
  rm -f "/tmp/infra-check.$$"
}

export AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0
check "cfn-lint infra/template.yaml" "$venv/bin/cfn-lint" infra/template.yaml
check "sam validate --lint" "$venv/bin/sam" validate --lint -t infra/template.yaml

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
