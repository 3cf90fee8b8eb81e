#!/usr/bin/env bash
# The OpenAPI contract (api/openapi.json): an outside validator (redocly lint, npm
# @redocly/cli, recommended-strict: every problem an error) accepts it; every route of
# api/routes.c is in it; the server serves it, byte for byte, at GET /v1/openapi.json without
# a token (like /healthz); and tests/contract/validate.js, which checks every response the
# suite records against it, fails on a body, status or route the document does not have.
# Without node or the npm packages the test is skipped, unless SPAWNPOOL_REQUIRE_CONTRACT=1
# (CI) makes that a failure.
source "$(dirname "$0")/lib.sh"
CONTRACT_DIR=$(cd "$(dirname "$0")/../contract" && pwd)
DOC="$CONTRACT_DIR/../../api/openapi.json"
missing=""
command -v node >/dev/null || missing="node"
[ -x "$CONTRACT_DIR/node_modules/.bin/redocly" ] || missing="$missing @redocly/cli (cd tests/contract && npm ci)"
[ -d "$CONTRACT_DIR/node_modules/ajv-formats" ] || missing="$missing ajv-formats"
if [ -n "$missing" ]; then
    [ "${SPAWNPOOL_REQUIRE_CONTRACT:-0}" = 1 ] && fail "missing: $missing"
    echo "# SKIP: missing:$missing"
    exit 0
fi

# the outside validator
if (cd "$CONTRACT_DIR" && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
    ./node_modules/.bin/redocly lint --config redocly.yaml "$DOC") >"$T/lint.out" 2>&1; then
    pass "redocly lint accepts api/openapi.json ($(grep -c '"operationId"' "$DOC") operations)"
else
    cat "$T/lint.out"
    fail "redocly lint refuses api/openapi.json"
fi
# ... and refuses a broken one (the lint can fail): a response without a description
jq 'del(.paths["/v1/jobs"].get.responses["200"].description)' "$DOC" >"$T/broken.json"
if (cd "$CONTRACT_DIR" && ./node_modules/.bin/redocly lint --config redocly.yaml "$T/broken.json") \
    >/dev/null 2>&1; then
    fail "redocly lint accepts a response without a description"
fi
pass "redocly lint refuses a broken document"

# every route the server has is in the document
routes=$(grep -o 'url, "/[a-z0-9/._]*"' "$CONTRACT_DIR/../../api/routes.c" | sed 's/url, "//; s/"$//')
for r in $routes; do
    case $r in
    */) prefix=$r ;; # a prefix: some path under it
    *) prefix="" ;;
    esac
    if [ -n "$prefix" ]; then
        jq -e --arg p "$prefix" '.paths | keys | any(startswith($p) and . != $p)' "$DOC" >/dev/null ||
            fail "no path under $prefix in api/openapi.json"
    else
        jq -e --arg p "$r" '.paths | has($p)' "$DOC" >/dev/null || fail "route $r is not in api/openapi.json"
    fi
done
pass "every route of api/routes.c is in the document ($(wc -w <<<"$routes") routes)"

# served embedded, the same bytes, without a token even on a server that needs one
printf 'sekrit-token-for-openapi\n' >"$T/tokens"
sp_start --token-file "$T/tokens"
expect_error 401 unauthorized - GET /v1/jobs
expect 200 GET /v1/openapi.json
cmp -s "$T/body" "$DOC" || fail "GET /v1/openapi.json differs from api/openapi.json"
pass "GET /v1/openapi.json is api/openapi.json, byte for byte"
grep -qi '^content-type: application/json' "$T/headers" || fail "content type: $(cat "$T/headers")"
pass "served as application/json"
expect 200 HEAD /v1/openapi.json
expect_error 405 method_not_allowed - POST /v1/openapi.json '{}'
expect_error 400 invalid_argument x GET '/v1/openapi.json?x=1'
sp_stop

# the validator fails on what the document does not allow, and passes what it does
job='{"id":1,"name":null,"queue":"default","priority":0,"argv":["true"],"after":[],"idempotency_key":null,"cwd":null,"env":{},"timeout":null,"limits":{},"max_output":1024,"retry_backoff":null,"state":"queued","exit_code":null,"signal":null,"error":null,"pid":null,"worker":null,"node":null,"attempt":0,"max_attempts":1,"created_at":"2026-11-30T12:00:00.000Z","started_at":null,"finished_at":null,"usage":null,"output":{"stdout_bytes":0,"stderr_bytes":0,"truncated":false}}'
rec() { # rec NAME METHOD URL STATUS BODY: one record in $T/records-NAME
    mkdir -p "$T/records-$1"
    jq -cn --arg m "$2" --arg u "$3" --argjson s "$4" --argjson b "$5" \
        '{method: $m, url: $u, status: $s, type: "application/json; charset=utf-8", partial: false, body: $b}' \
        >>"$T/records-$1/test_x.jsonl"
}
validates() { node "$CONTRACT_DIR/validate.js" "$T/records-$1" >"$T/validate-$1.out" 2>&1; }
rec good GET /v1/jobs/1 200 "$job"
rec good POST /v1/jobs 201 "$job"
rec good GET /nowhere 404 '{"error":{"code":"not_found","message":"no route /nowhere"}}'
rec good PUT /v1/jobs/1 405 '{"error":{"code":"method_not_allowed","message":"GET, HEAD, DELETE, PATCH"}}'
check "the validator passes documented responses" validates good
rec badstate GET /v1/jobs/1 200 "$(jq -c '.state = "sleeping"' <<<"$job")"
rec extra GET /v1/jobs/1 200 "$(jq -c '.surprise = 1' <<<"$job")"
rec status GET /v1/jobs/1 418 '{"error":{"code":"internal","message":"x"}}'
rec code GET /v1/jobs/1 404 '{"error":{"code":"no_such_thing","message":"x"}}'
rec route GET /v1/nowhere 200 '{}'
mkdir -p "$T/records-event"
printf '%s\n' '{"method":"GET","url":"/v1/events","status":200,"type":"text/event-stream","partial":true,"events":[{"id":1,"state":"asleep","from":null,"at":"2026-11-30T12:00:00.000Z","detail":null}]}' \
    >"$T/records-event/test_x.jsonl"
for bad in badstate extra status code route event; do
    if validates $bad; then fail "the validator passes a record it must refuse ($bad)"; fi
    grep -q '^FAIL: ' "$T/validate-$bad.out" || fail "no FAIL line for $bad: $(cat "$T/validate-$bad.out")"
done
pass "the validator refuses a wrong state, an undocumented field, status, error code, route and event"
mkdir -p "$T/records-none"
if validates none; then fail "the validator passes when nothing was recorded"; fi
pass "the validator fails when nothing was recorded"
