#!/usr/bin/env bash
# Differential test against the npm `ectoken` package: installs the package into a
# temporary directory, then runs tests/ectoken_interop.rs with it. Prints SKIPPED (and
# succeeds) when Node.js or npm is absent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "SKIPPED: npm ectoken differential (node/npm not found)"
    exit 0
fi
dir=$(mktemp -d /tmp/fwtoken-ectoken.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cp "$here/package.json" "$here/differential.js" "$dir/"
(cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
echo "node $(node --version), ectoken $(node -p "require('$dir/node_modules/ectoken/package.json').version")"
cd "$root"
FWTOKEN_ECTOKEN_DIR="$dir" cargo test --test ectoken_interop -- --nocapture
