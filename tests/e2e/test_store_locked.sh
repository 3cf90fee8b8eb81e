#!/usr/bin/env bash
# A batch that cannot commit is retried, never half-applied (issue 11, finding 1). An outside
# process holds BEGIN IMMEDIATE on the database while a job with max_attempts 3 ends: the
# server must not tell anyone the job ended (API, /wait, workers, metrics) before SQLite holds
# it, must refuse submits with 503 + Retry-After meanwhile and say it is degraded, and once
# the lock goes it must commit the end by itself: the job ran once, succeeded, and a restart
# does not run it again.
source "$(dirname "$0")/lib.sh"
sp_sqlite_only "it holds SQLite's write lock from the sqlite3 shell"
WORKERS=1 sp_start
RAN="$T/ran"
DB="$T/data/spawnpool.db"
req POST /v1/jobs "{\"command\": \"$(hold job); echo ran >> $RAN\", \"max_attempts\": 3}"
[ "$STATUS" == 201 ] || fail "submit: $STATUS $BODY"
ID=$(jq -r .id <<<"$BODY")
wait_for 60 state_is "$ID" running || fail "the job never ran"

# lock_db: an outside writer takes BEGIN IMMEDIATE and holds it until $T/unlock exists
# (LOCKER: its pid)
lock_db() {
    rm -f "$T/unlock" "$T/locker.out"
    (
        echo "BEGIN IMMEDIATE;"
        echo "SELECT 'locked';"
        until [ -e "$T/unlock" ] || [ ! -d "$T" ]; do sleep 0.05; done
        echo "COMMIT;"
    ) | sqlite3 "$DB" >"$T/locker.out" 2>&1 &
    LOCKER=$!
    BG_PIDS+=("$LOCKER")
    wait_for 30 grep -q locked "$T/locker.out" || fail "the outside writer never got its lock"
}
lock_db
pass "an outside process holds the database's write lock"

release job
wait_for 60 healthz_is store_degraded || fail "healthz never said the store is degraded"
pass "healthz says store_degraded once the job's end cannot be committed"
req GET /healthz
eq "healthz answers 503 while degraded" "$STATUS" 503
eq "healthz says what waits" "$(jq -r '.store.status' <<<"$BODY")" degraded
check "healthz says why" jq -e '.store.waiting_writes > 0 and (.store.error | length > 0)' <<<"$BODY"
eq "metric spawnpool_store_degraded" "$(metric spawnpool_store_degraded)" 1
check "the job really ended (its marker is written)" test -s "$RAN"
eq "the API still says running (what SQLite holds)" "$(job_field "$ID" .state)" running
eq "/wait does not answer an end SQLite does not hold" \
    "$(curl -s "$BASE/v1/jobs/$ID/wait?timeout=1" | jq -r .state)" running
eq "the workers table agrees" "$(curl -s "$BASE/v1/workers" | jq -r '.workers[0].job')" "$ID"
eq "the job counters agree" "$(curl -s "$BASE/healthz" | jq -r .jobs.running)" 1
req POST /v1/jobs '{"command": "true"}'
eq "a submit meanwhile: 503" "$STATUS" 503
eq "... store_unavailable" "$(jq -r .error.code <<<"$BODY")" store_unavailable
check "... with Retry-After" grep -qi '^Retry-After: ' "$T/headers"
req POST "/v1/jobs/$ID/terminate"
eq "a terminate of the job (ended, not yet recorded) is not a 500" \
    "$([ "$STATUS" -ne 500 ] && echo fine || echo "$STATUS $BODY")" fine

: >"$T/unlock"
wait "$LOCKER"
wait_for 60 healthz_is ok || fail "the server did not recover by itself after the lock went"
pass "the server recovers by itself once the database can commit"
eq "the job's end is recorded" "$(wait_job "$ID" | jq -r '[.state, .exit_code, .attempt] | join(" ")')" "succeeded 0 1"
check "metrics count the failed commits" test "$(metric spawnpool_store_failed_commits_total)" -ge 1
eq "metric spawnpool_store_degraded back to 0" "$(metric spawnpool_store_degraded)" 0
check "the log says the batch is retried" grep -q "retried until they commit" "$T/server.err"
check "the log says it is healthy again" grep -q "healthy again" "$T/server.err"
submit '{"command": "echo after"}'
eq "submits work again" "$(wait_job "$ID" | jq -r .state)" succeeded

# a batch of only submits that cannot commit: the store is degraded too (a probe write is
# retried), so /healthz tells what every submit meets, and it heals by itself
lock_db
req POST /v1/jobs '{"command": "true"}'
eq "a submit alone under the lock: 503" "$STATUS" 503
wait_for 30 healthz_is store_degraded || fail "a failed submit alone did not make /healthz say so"
pass "after a failed submit alone, /healthz says store_degraded"
req POST /v1/jobs '{"command": "true"}'
eq "the next submit is refused at once, saying why" "$(jq -r .error.message <<<"$BODY" | grep -c 'database is locked')" 1
: >"$T/unlock"
wait "$LOCKER"
wait_for 60 healthz_is ok || fail "the store did not heal by itself after a failed submit alone"
pass "it heals by itself when the lock goes"
submit '{"command": "true"}'

sp_stop
WORKERS=1 sp_start
eq "after a restart the job is still succeeded" "$(job_field "$ID" .state)" succeeded
eq "it ran exactly once" "$(wc -l <"$RAN")" 1
check "integrity_check" test "$(sqlite3 "$DB" 'PRAGMA integrity_check')" == ok
sp_stop
