#!/usr/bin/env bash
# Bad input: each gets API.md's error with the right status and a message naming what is
# wrong; none crashes the server, changes a job or leaks a file descriptor.
source "$(dirname "$0")/lib.sh"
sp_start --max-body 64K
submit '{"argv":["/bin/sh","-c","echo keep"],"name":"witness"}'
WITNESS=$ID
wait_job "$WITNESS" >/dev/null
SNAPSHOT=$(curl -s "$BASE/v1/jobs/$WITNESS")
FDS_BEFORE=$(fd_count "$SP_PID")

bad_requests() {
    # JSON syntax
    expect_error 400 invalid_json - POST /v1/jobs '{"argv": ["true"'
    check "invalid_json says where" jq -e '.error.message | test("line 1, column")' <<<"$BODY"
    expect_error 400 invalid_json - POST /v1/jobs 'not json'
    expect_error 400 invalid_json - POST /v1/jobs ''
    expect_error 400 invalid_json - POST /v1/jobs '{"argv":["true"],"argv":["false"]}'
    check "duplicate key is named" jq -e '.error.message | test("argv")' <<<"$BODY"
    # fields
    expect_error 400 invalid_argument argvv POST /v1/jobs '{"argvv":["true"]}'
    expect_error 400 invalid_argument argv POST /v1/jobs '{}'
    expect_error 400 invalid_argument argv POST /v1/jobs '{"argv":[]}'
    expect_error 400 invalid_argument argv POST /v1/jobs '{"argv":"true"}'
    expect_error 400 invalid_argument argv POST /v1/jobs '{"argv":["true",1]}'
    expect_error 400 invalid_argument argv POST /v1/jobs '{"argv":[""]}'
    expect_error 400 invalid_argument command POST /v1/jobs '{"argv":["true"],"command":"true"}'
    expect_error 400 invalid_argument command POST /v1/jobs '{"command":""}'
    expect_error 400 invalid_argument command POST /v1/jobs '{"command":["true"]}'
    expect_error 400 invalid_argument cwd POST /v1/jobs '{"argv":["true"],"cwd":"/no/such/dir"}'
    expect_error 400 invalid_argument cwd POST /v1/jobs '{"argv":["true"],"cwd":"/etc/passwd"}'
    expect_error 400 invalid_argument cwd POST /v1/jobs '{"argv":["true"],"cwd":5}'
    expect_error 400 invalid_argument env POST /v1/jobs '{"argv":["true"],"env":{"A":1}}'
    expect_error 400 invalid_argument env POST /v1/jobs '{"argv":["true"],"env":["A=1"]}'
    expect_error 400 invalid_argument env POST /v1/jobs '{"argv":["true"],"env":{"A=B":"1"}}'
    expect_error 400 invalid_argument timeout POST /v1/jobs '{"argv":["true"],"timeout":0}'
    expect_error 400 invalid_argument timeout POST /v1/jobs '{"argv":["true"],"timeout":-1}'
    expect_error 400 invalid_argument timeout POST /v1/jobs '{"argv":["true"],"timeout":"5"}'
    expect_error 400 invalid_argument priority POST /v1/jobs '{"argv":["true"],"priority":1.5}'
    expect_error 400 invalid_argument priority POST /v1/jobs '{"argv":["true"],"priority":1e99}'
    expect_error 400 invalid_argument queue POST /v1/jobs '{"argv":["true"],"queue":"a b"}'
    expect_error 400 invalid_argument queue POST /v1/jobs '{"argv":["true"],"queue":""}'
    expect_error 400 invalid_argument name POST /v1/jobs '{"argv":["true"],"name":7}'
    expect_error 400 invalid_argument max_attempts POST /v1/jobs '{"argv":["true"],"max_attempts":0}'
    expect_error 400 invalid_argument stdin POST /v1/jobs '{"argv":["true"],"stdin":{}}'
    expect_error 400 invalid_argument - POST /v1/jobs '"just a string"'
    expect_error 400 invalid_argument - POST /v1/jobs '[]'
    expect_error 400 invalid_argument - POST /v1/jobs '[1]'
    expect_error 400 invalid_argument "[0].nope" POST /v1/jobs '[{"argv":["true"],"nope":1}]'
    # ids and routes
    expect_error 400 invalid_argument id GET /v1/jobs/0
    expect_error 400 invalid_argument id GET /v1/jobs/-1
    expect_error 400 invalid_argument id GET /v1/jobs/abc
    expect_error 400 invalid_argument id GET /v1/jobs/1.5
    expect_error 400 invalid_argument id GET /v1/jobs/007
    expect_error 400 invalid_argument id GET /v1/jobs/99999999999999999999999
    expect_error 400 invalid_argument id GET /v1/jobs/1e3/wait
    expect_error 404 not_found id GET /v1/jobs/987654
    expect_error 404 not_found id GET /v1/jobs/987654/wait
    expect_error 404 not_found id POST /v1/jobs/987654/terminate
    expect_error 404 not_found - GET /v1/nothing
    expect_error 404 not_found - GET /v1/jobs/1/nothing
    expect_error 404 not_found - GET /nothing # (/ is the dashboard: test_dashboard.sh)
    # query parameters
    expect_error 400 invalid_argument limit GET '/v1/jobs?limit=0'
    expect_error 400 invalid_argument limit GET '/v1/jobs?limit=1001'
    expect_error 400 invalid_argument limit GET '/v1/jobs?limit=ten'
    expect_error 400 invalid_argument before GET '/v1/jobs?before=-5'
    expect_error 400 invalid_argument state GET '/v1/jobs?state=done'
    expect_error 400 invalid_argument sort GET '/v1/jobs?sort=id'
    expect_error 400 invalid_argument limit GET '/v1/jobs?limit=1&limit=2'
    expect_error 400 invalid_argument timeout GET "/v1/jobs/$WITNESS/wait?timeout=301"
    expect_error 400 invalid_argument timeout GET "/v1/jobs/$WITNESS/wait?timeout=soon"
    expect_error 400 invalid_argument stream GET "/v1/jobs/$WITNESS/output?stream=stdin"
    expect_error 400 invalid_argument offset GET "/v1/jobs/$WITNESS/output?offset=-1"
    expect_error 400 invalid_argument follow GET "/v1/jobs/$WITNESS/output?follow=yes"
    # terminate bodies
    expect_error 400 invalid_argument signal POST "/v1/jobs/$WITNESS/terminate" '{"signal":"SIGNOPE"}'
    expect_error 400 invalid_argument grace POST "/v1/jobs/$WITNESS/terminate" '{"grace":-1}'
    expect_error 400 invalid_argument grace POST "/v1/jobs/$WITNESS/terminate" '{"grace":3601}'
    expect_error 400 invalid_argument force POST "/v1/jobs/$WITNESS/terminate" '{"force":true}'
    expect_error 400 invalid_json - POST "/v1/jobs/$WITNESS/terminate" '{'
    # methods
    expect_error 405 method_not_allowed - PUT /v1/jobs '{}'
    grep -qi '^Allow: GET, HEAD, POST' "$T/headers" || fail "405 without Allow header"
    expect_error 400 invalid_argument - DELETE /v1/jobs # (a bulk delete needs a filter or all=1)
    expect_error 405 method_not_allowed - POST "/v1/jobs/$WITNESS" '{}'
    grep -qi '^Allow: GET, HEAD, DELETE' "$T/headers" || fail "405 without Allow header"
    expect_error 405 method_not_allowed - GET "/v1/jobs/$WITNESS/terminate"
    expect_error 405 method_not_allowed - POST "/v1/jobs/$WITNESS/wait"
    expect_error 405 method_not_allowed - DELETE /v1/workers
    expect_error 405 method_not_allowed - POST /healthz
    # hostile text: answers are always valid JSON (surrogates, overlongs, bytes past U+10FFFF)
    expect_error 404 not_found - GET '/v1/%ED%A0%80'
    expect_error 400 invalid_argument state GET '/v1/jobs?state=%F5%80%80%80'
    expect_error 400 invalid_argument state GET '/v1/jobs?state=%C0%AF'
    expect_error 400 invalid_json - POST /v1/jobs $'{"argv":["\xff"]}'
    # body over --max-body (64 KiB here)
    head -c 70000 /dev/zero | tr '\0' 'a' | sed 's/^/{"argv":["echo","/; s/$/"]}/' >"$T/big.json"
    STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary "@$T/big.json" "$BASE/v1/jobs")
    eq "413 over --max-body" "$STATUS" 413
    eq "413 code" "$(jq -r .error.code "$T/body")" payload_too_large
}
bad_requests

# a spawn error text cut in the middle of a character, and a long non-ASCII env key: the
# job is still served as valid JSON (in the list too)
LONG=$(printf 'é%.0s' $(seq 200))
submit "{\"argv\":[\"$LONG\"],\"env\":{\"$(printf 'K%.0s' $(seq 254))é\":\"v\"}}"
UTF=$ID
J=$(wait_job "$UTF")
eq "long UTF-8 program: failed 127" "$(jq -c '[.state,.exit_code]' <<<"$J")" '["failed",127]'
check "its error is valid JSON text" jq -e '.error | test("cannot execute")' <<<"$J"
check "its env key survives whole" jq -e '.env | keys[0] | length == 255' <<<"$J"
check "the list stays valid JSON" bash -c "curl -s '$BASE/v1/jobs' | jq -e '.jobs | length >= 2' >/dev/null"
expect 204 DELETE "/v1/jobs/$UTF"

# the same again must not grow the master's fds
bad_requests >/dev/null
# (connections close asynchronously: wait for the count to settle back)
wait_for 60 server_fds_under $((FDS_BEFORE + 1)) ||
    fail "fds leaked by bad requests: $(fd_count "$SP_PID") open, $FDS_BEFORE before"
pass "no fd leaked by bad requests ($FDS_BEFORE fds before, $(fd_count "$SP_PID") after)"
eq "witness job unchanged" "$(curl -s "$BASE/v1/jobs/$WITNESS")" "$SNAPSHOT"
eq "no job created by bad input" "$(curl -s "$BASE/v1/jobs" | jq '.jobs | length')" 1
expect 200 GET /healthz
sp_stop
