#!/usr/bin/env bash
# /readyz (readiness, for load balancers): 200 {"status":"ready"} once a worker is up, with
# no token even when /v1 needs one; 503 "draining" after SIGTERM while /healthz says
# draining (liveness: 200 until the drain ends is /healthz's business, not a balancer's).
# --stream-keepalive: an idle /v1/events stream gets `: keep-alive` comment lines.
source "$(dirname "$0")/lib.sh"
printf 'tok-readyz-1\n' >"$T/tokens"
sp_start --token-file "$T/tokens" --stream-keepalive 0.5 --shutdown-grace 60
readyz_is() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz")" == "$1" ]; }
wait_for 60 readyz_is 200 || fail "/readyz never said 200"
expect 200 GET /readyz
eq "ready, without a token" "$(jq -r .status <<<"$BODY")" ready
expect_error 405 method_not_allowed - POST /readyz '{}'

# an idle event stream: a comment line every --stream-keepalive seconds, nothing else
curl -s -N -H 'Authorization: Bearer tok-readyz-1' "$BASE/v1/events" >"$T/events" &
BG_PIDS+=($!)
keepalives() { [ "$(grep -c '^: keep-alive$' "$T/events")" -ge "$1" ]; }
wait_for 60 keepalives 2 || fail "no keep-alive comments on an idle /v1/events"
pass "an idle event stream gets ': keep-alive' comment lines"
eq "and nothing but comments (no event happened)" "$(grep -cv '^: keep-alive$\|^$' "$T/events")" 0

# draining: not ready (503) while healthz still answers, saying draining
AUTH=(-H 'Authorization: Bearer tok-readyz-1' -H 'Content-Type: application/json')
ID=$(curl -s "${AUTH[@]}" -d "{\"command\":\"$(hold job)\"}" "$BASE/v1/jobs" | jq -r .id)
running() { [ "$(curl -s "${AUTH[@]}" "$BASE/v1/jobs/$ID" | jq -r .state)" == running ]; }
wait_for 60 running || fail "the held job never ran"
sp_drain
expect 503 GET /readyz
eq "readyz says draining" "$(jq -r .status <<<"$BODY")" draining
expect 200 GET /healthz
eq "healthz says draining too (and stays 200: it is alive)" "$(jq -r .status <<<"$BODY")" draining
release job
sp_exited
[ "$FAILS" -eq 0 ]
