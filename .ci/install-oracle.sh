#!/usr/bin/env bash
# Installs the differential oracle, the npm package @cloud-copilot/iam-simulate,
# into a scratch folder and prints that folder. The package is only ever run
# as a separate process by the differential test.
set -euo pipefail
dir="${1:-${TMPDIR:-/tmp}/replay-oracle}"
mkdir -p "$dir"
if [ ! -f "$dir/node_modules/@cloud-copilot/iam-simulate/package.json" ] ||
   ! grep -q '"version": "0.1.173"' "$dir/node_modules/@cloud-copilot/iam-simulate/package.json"; then
  (cd "$dir" && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm install --silent --no-audit --no-fund @cloud-copilot/iam-simulate@0.1.173 >/dev/null)
fi
echo "$dir"
