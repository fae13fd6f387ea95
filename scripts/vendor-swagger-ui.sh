#!/usr/bin/env bash
# Refreshes the Swagger UI assets that the docs page embeds
# (gateway-core/vendor/swagger-ui) from the npm package swagger-ui-dist.
# Usage: scripts/vendor-swagger-ui.sh [VERSION]; then update VERSION below,
# in gateway-core/vendor/swagger-ui/README.md and the version in
# gateway-core/src/openapi/assets.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-5.35.0}
dest=gateway-core/vendor/swagger-ui
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null)
tar -xzf "$work/swagger-ui-dist-$version.tgz" -C "$work"
pkg=$work/package
# The source maps are not shipped, so their references go.
sed '/^\/\/# sourceMappingURL=/d' "$pkg/swagger-ui-bundle.js" >"$dest/swagger-ui-bundle.js"
sed '/sourceMappingURL=/d' "$pkg/swagger-ui.css" >"$dest/swagger-ui.css"
cp "$pkg/LICENSE" "$pkg/NOTICE" "$pkg/swagger-ui-bundle.js.LICENSE.txt" "$dest/"
sha256sum "$work/swagger-ui-dist-$version.tgz"
ls -l "$dest"
