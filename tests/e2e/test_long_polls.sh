#!/usr/bin/env bash
# --max-long-polls caps the waits, output follows and event streams open at once, so
# long-lived requests cannot take every connection: the one over the cap gets 429
# too_many_long_polls with Retry-After, everything else is still served, and a slot is
# free again as soon as one of them ends.
source "$(dirname "$0")/lib.sh"
sp_start --max-long-polls 3
long_polls() { metric spawnpool_long_polls; }
eq "none open at start" "$(long_polls)" 0
submit '{"argv":["sleep","300"]}'
SLOW=$ID
wait_for 60 state_is "$SLOW" running || fail "job $SLOW never ran"
curl -s "$BASE/v1/jobs/$SLOW/wait?timeout=300" >/dev/null &
W1=$!
curl -s "$BASE/v1/jobs/$SLOW/output?follow=1" >/dev/null &
W2=$!
curl -s -N "$BASE/v1/events" >/dev/null &
W3=$!
wait_for 60 long_polls_are 3 ||
    fail "long_polls gauge is $(long_polls), want 3"
pass "a wait, a follow and an event stream are counted"

expect_error 429 too_many_long_polls - GET "/v1/jobs/$SLOW/wait?timeout=5"
check "with Retry-After" grep -qi '^Retry-After: 1' "$T/headers"
expect_error 429 too_many_long_polls - GET "/v1/jobs/wait?ids=$SLOW&timeout=5"
expect_error 429 too_many_long_polls - GET "/v1/jobs/$SLOW/output?follow=1"
expect_error 429 too_many_long_polls - GET /v1/events
expect 200 GET "/v1/jobs/$SLOW/wait?timeout=0"
eq "timeout=0 answers at once: the job still runs" "$(jq -r .state <<<"$BODY")" running
submit '{"argv":["true"]}'
DONE=$ID
wait_for 60 state_is "$DONE" succeeded || fail "job $DONE did not finish"
expect 200 GET "/v1/jobs/$DONE/wait?timeout=10"
pass "a wait for a job that has ended needs no slot"
expect 200 GET /healthz
expect 200 GET /v1/jobs

kill "$W3"
wait "$W3" 2>/dev/null
# events to write: the first write to the closed socket draws a reset, the next one fails,
# and that is how the server learns the client left (else the 15 s keepalive finds it)
submit '{"argv":["true"]}'
wait_for 60 state_is "$ID" succeeded || fail "job $ID did not finish"
submit '{"argv":["true"]}'
wait_for 60 long_polls_are 2 ||
    fail "long_polls gauge is $(long_polls) after the event stream closed, want 2"
pass "a closed event stream frees its slot (at its next event or keepalive)"
eq "so a wait is taken again" "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/jobs/$SLOW/wait?timeout=0.2")" 200

expect 202 POST "/v1/jobs/$SLOW/terminate" '{"grace":1}'
wait "$W1" || fail "the wait did not end well"
wait "$W2" || fail "the follow did not end well"
pass "the wait and the follow end with their job"
wait_for 60 long_polls_are 0 ||
    fail "long_polls gauge is $(long_polls) at the end, want 0"
pass "every slot is free again"
sp_stop
