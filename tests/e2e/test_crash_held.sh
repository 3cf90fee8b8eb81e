#!/usr/bin/env bash
# A job a worker only held is not lost in a crash (issue 11, finding 2). With one worker
# running a long job, the dispatcher hands the worker the next jobs to hold; kill -9 of the
# server then must not turn those into "lost": the workers record in the start ledger
# (DATA_DIR/starts) each job they begin to start, so after the restart the held ones run,
# once each, with no attempt counted, and only the job that ran is lost.
source "$(dirname "$0")/lib.sh"
WORKERS=1 sp_start
RAN="$T/ran"
req POST /v1/jobs "[{\"command\": \"echo long >> $RAN; exec sleep 300\"}$(for i in 1 2 3 4 5; do printf ', {"command": "echo q%d >> %s", "name": "q%d"}' "$i" "$RAN" "$i"; done)]"
[ "$STATUS" == 201 ] || fail "submit: $STATUS $BODY"
LONG=$(jq -r '.jobs[0].id' <<<"$BODY")
wait_for 60 state_is "$LONG" running || fail "the long job never ran"
held() { [ "$(sqlite3 "$T/data/spawnpool.db" "SELECT count(*) FROM jobs WHERE state = 'queued' AND worker IS NOT NULL")" -ge 3 ]; }
wait_for 60 held || fail "the worker never held the next jobs"
pass "the worker holds 3 jobs while the long one runs (the API says 5 queued: $(curl -s "$BASE/v1/jobs?state=queued" | jq '.jobs | length'))"
sp_kill9
WORKERS=1 sp_start
for i in 1 2 3 4 5; do
    ID=$(curl -s "$BASE/v1/jobs?name=q$i" | jq -r '.jobs[0].id')
    eq "q$i ran after the restart" "$(wait_job "$ID" | jq -r '[.state, .attempt] | join(" ")')" "succeeded 1"
done
eq "each exactly once" "$(grep -c '^q' "$RAN")" 5
eq "the job that ran is the one lost" "$(job_field "$LONG" '[.state, .error] | join(": ")')" "lost: the server stopped while the job ran"
check "the log says the held ones were released" grep -q "3 job(s) a worker held but never started" "$T/server.err"
sp_stop
