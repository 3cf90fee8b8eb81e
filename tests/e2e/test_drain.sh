#!/usr/bin/env bash
# SIGTERM drains: new jobs get 503 shutting_down, running jobs finish, the server exits 0;
# a second signal terminates at once.
source "$(dirname "$0")/lib.sh"
sp_start --shutdown-grace 30
submit "{\"command\":\"$(hold short); echo finished\"}"; SHORT=$ID
wait_for 60 state_is "$SHORT" running || fail "never ran"
sp_drain
expect_error 503 shutting_down - POST /v1/jobs '{"argv":["true"]}'
expect 200 GET "/v1/jobs/$SHORT"
eq "the running job still runs" "$(jq -r .state <<<"$BODY")" running
release short
sp_exited
pass "exit status 0 after the drain"
eq "running job finished during the drain" \
    "$(sqlite3 "$T/data/spawnpool.db" "SELECT state FROM jobs WHERE id = $SHORT")" succeeded
eq "its output was kept" "$(cat "$T/data/output/$SHORT.stdout")" finished

# second signal: terminate at once
sp_start --shutdown-grace 60 --kill-grace 60
submit '{"argv":["/bin/sh","-c","trap \"\" TERM INT; sleep 300"]}'; STUBBORN=$ID
wait_for 60 state_is "$STUBBORN" running || fail "never ran"
START=$SECONDS
sp_drain
kill -INT "$SP_PID"
sp_exited
pass "exit status 0 after a second signal"
# (the grace periods are 60 s: well under that is at once, however loaded the machine)
check "exited at once ($((SECONDS - START)) s)" test $((SECONDS - START)) -lt 30
eq "job recorded terminated by SIGKILL" \
    "$(sqlite3 "$T/data/spawnpool.db" "SELECT state || ',' || signal FROM jobs WHERE id = $STUBBORN")" "terminated,9"
