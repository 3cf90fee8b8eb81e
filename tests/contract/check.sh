#!/usr/bin/env bash
# check.sh RECORD_DIR: the last test of the suite (ctest's contract_validate, run after every
# e2e test): tests/contract/validate.js checks the responses the e2e tests recorded against
# api/openapi.json. Without node or the npm packages (make test-deps) it is skipped, unless
# SPAWNPOOL_REQUIRE_CONTRACT=1 (CI) makes that a failure.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
missing=""
command -v node >/dev/null || missing="node"
[ -d "$dir/node_modules/ajv-formats" ] || missing="$missing ajv (cd tests/contract && npm ci)"
if [ -n "$missing" ]; then
    [ "${SPAWNPOOL_REQUIRE_CONTRACT:-0}" = 1 ] && { echo "FAIL: missing:$missing"; exit 1; }
    echo "# SKIP: missing:$missing"
    exit 0
fi
exec node "$dir/validate.js" "$1"
