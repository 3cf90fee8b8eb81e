#!/usr/bin/env bash
# SIGTERM drains: new jobs get 503 shutting_down, running jobs finish, the server exits 0;
# a second signal terminates at once; the drain's log line counts only the jobs that run.
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

# the drain's log line counts the jobs that run, as the API does: not the queued jobs a busy
# worker holds to start next (they are given back and stay queued)
sp_start --shutdown-grace 30
DB="$T/data/spawnpool.db"
for i in 1 2; do
    submit "{\"argv\":[\"/bin/sh\",\"-c\",\"until [ -e '$T/go' ]; do sleep 0.05; done\"]}"
done
for i in 1 2 3 4; do submit '{"argv":["true"],"name":"held"}'; done
held() { [ "$(sqlite3 "$DB" "SELECT count(*) FROM jobs WHERE state = 'queued' AND worker IS NOT NULL")" == "$1" ]; }
wait_for 5 held 4 || fail "the busy workers never held the queued jobs"
api_running() { [ "$(curl -s "$BASE/healthz" | jq .jobs.running)" == "$1" ]; }
wait_for 5 api_running 2 || fail "the two gated jobs never ran"
RUNNING=$(curl -s "$BASE/healthz" | jq .jobs.running)
BEFORE=$(grep -c 'waiting up to .* running job(s)' "$T/server.err")
kill -TERM "$SP_PID"
wait_for 5 bash -c "[ \$(grep -c 'waiting up to .* running job(s)' '$T/server.err') -gt $BEFORE ]" ||
    fail "no drain log line"
LOGGED=$(grep -o 'waiting up to [0-9.]*s for [0-9]* running job(s)' "$T/server.err" | tail -n 1 | awk '{print $6}')
eq "the drain log counts what the API counts" "$LOGGED" "$RUNNING"
touch "$T/go"
RC=0
wait "$SP_PID" || RC=$?
SP_PID=""
eq "exit status after the drain" "$RC" 0
eq "the held jobs stayed queued" \
    "$(sqlite3 "$DB" "SELECT count(*) FROM jobs WHERE name = 'held' AND state = 'queued' AND worker IS NULL")" 4
