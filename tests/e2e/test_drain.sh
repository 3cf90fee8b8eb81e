#!/usr/bin/env bash
# SIGTERM drains: new jobs get 503 shutting_down, running jobs finish, the server exits 0;
# a second signal terminates at once.
source "$(dirname "$0")/lib.sh"
sp_start --shutdown-grace 30
submit '{"argv":["/bin/sh","-c","sleep 0.7; echo finished"]}'; SHORT=$ID
wait_for 5 state_is "$SHORT" running || fail "never ran"
kill -TERM "$SP_PID"
wait_for 5 bash -c "[ \"\$(curl -s $BASE/healthz | jq -r .status)\" == draining ]" || fail "not draining"
pass "healthz says draining"
expect_error 503 shutting_down - POST /v1/jobs '{"argv":["true"]}'
expect 200 GET "/v1/jobs/$SHORT"
RC=0
wait "$SP_PID" || RC=$?
SP_PID=""
eq "exit status after drain" "$RC" 0
eq "running job finished during the drain" \
    "$(sqlite3 "$T/data/spawnpool.db" "SELECT state FROM jobs WHERE id = $SHORT")" succeeded

# second signal: terminate at once
sp_start --shutdown-grace 60 --kill-grace 60
submit '{"argv":["/bin/sh","-c","trap \"\" TERM INT; sleep 60"]}'; STUBBORN=$ID
wait_for 5 state_is "$STUBBORN" running || fail "never ran"
START=$SECONDS
kill -TERM "$SP_PID"
wait_for 5 bash -c "[ \"\$(curl -s $BASE/healthz | jq -r .status)\" == draining ]" || fail "not draining"
kill -INT "$SP_PID"
RC=0
wait "$SP_PID" || RC=$?
SP_PID=""
eq "exit status after a second signal" "$RC" 0
check "exited at once ($((SECONDS - START)) s)" test $((SECONDS - START)) -lt 10
eq "job recorded terminated by SIGKILL" \
    "$(sqlite3 "$T/data/spawnpool.db" "SELECT state || ',' || signal FROM jobs WHERE id = $STUBBORN")" "terminated,9"
