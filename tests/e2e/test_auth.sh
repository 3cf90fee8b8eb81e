#!/usr/bin/env bash
# Auth: with --token-file every /v1 request needs "Authorization: Bearer <token>" (401
# otherwise); several tokens for rotation; /healthz stays open; /metrics follows
# --open-metrics; a non-loopback listen without a token is refused unless
# --insecure-no-auth; a missing token file is made with a random token.
source "$(dirname "$0")/lib.sh"
printf '# rotation: old and new\nold-token-123\n  new-token-456  \n\n' >"$T/tokens"
sp_start --token-file "$T/tokens"
expect_error 401 unauthorized - GET /v1/jobs
grep -qi '^WWW-Authenticate: Bearer' "$T/headers" || fail "401 without WWW-Authenticate"
pass "401 says Bearer"
expect_error 401 unauthorized - POST /v1/jobs '{"argv":["true"]}'
eq "no job was made" "$(sqlite3 "$T/data/spawnpool.db" "SELECT count(*) FROM jobs")" 0
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
eq "wrong token" "$(code -H 'Authorization: Bearer old-token-12' "$BASE/v1/jobs")" 401
eq "wrong scheme" "$(code -H 'Authorization: Basic old-token-123' "$BASE/v1/jobs")" 401
eq "old token" "$(code -H 'Authorization: Bearer old-token-123' "$BASE/v1/jobs")" 200
eq "new token (spaces trimmed in the file)" "$(code -H 'Authorization: bearer new-token-456' "$BASE/v1/jobs")" 200
eq "/healthz stays open" "$(code "$BASE/healthz")" 200
eq "/metrics needs the token" "$(code "$BASE/metrics")" 401
eq "/metrics with it" "$(code -H 'Authorization: Bearer new-token-456' "$BASE/metrics")" 200
eq "unknown routes too (no route probing)" "$(code "$BASE/v1/nothing")" 401
sp_stop
sp_start --token-file "$T/tokens" --open-metrics
eq "--open-metrics" "$(code "$BASE/metrics")" 200
sp_stop

# a missing token file is made, with one random token, mode 0600
sp_start --token-file "$T/made"
check "made with mode 0600" test "$(stat -c %a "$T/made")" = 600
TOKEN=$(cat "$T/made")
check "a long random token" test "${#TOKEN}" -ge 32
eq "it works" "$(code -H "Authorization: Bearer $TOKEN" "$BASE/v1/jobs")" 200
sp_stop

# non-loopback without a token: refused, saying why; allowed when asked for
RC=0
"$SPAWNPOOL_BIN" serve --listen 0.0.0.0:0 --data-dir "$T/d2" >/dev/null 2>"$T/refused.err" || RC=$?
eq "refused" "$RC" 2
check "it says why" grep -q "without a token" "$T/refused.err"
echo "" >"$T/empty"
RC=0
"$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/d3" --token-file "$T/empty" >/dev/null 2>"$T/empty.err" || RC=$?
eq "an empty token file is refused" "$RC" 2
"$SPAWNPOOL_BIN" serve --listen 0.0.0.0:0 --data-dir "$T/d4" --insecure-no-auth >"$T/insecure.out" 2>/dev/null &
INSECURE=$!
wait_for 60 grep -q 'listening on' "$T/insecure.out" || fail "--insecure-no-auth did not start"
pass "--insecure-no-auth starts"
kill -TERM "$INSECURE"
wait "$INSECURE" || fail "exit status after SIGTERM"
