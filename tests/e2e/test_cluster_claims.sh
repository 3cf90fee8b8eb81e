#!/usr/bin/env bash
# Claims in batches (issue 15, point 2): a node with several free workers claims the jobs it
# hands out in one statement and one commit (counted by PostgreSQL's pg_stat_statements), not
# one per job; in such a batch a row another transaction has locked is skipped, not waited for,
# and taken once it is free; a row another node claimed meanwhile is left to it; each job runs
# exactly once; a node whose role may not write jobs backs off its failing claims, logs them
# once and reports store_degraded until it may. PostgreSQL only (the e2e suite's second run).
source "$(dirname "$0")/lib.sh"
sp_on_postgres || {
    echo "SKIPPED: claims are PostgreSQL's (SPAWNPOOL_TEST_DB=postgres)"
    exit 0
}

WORKERS=4 sp_start
sql() { psql -XAtq -v ON_ERROR_STOP=1 "$SP_PG_URL" -c "$1"; }
sql 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' >/dev/null ||
    fail "pg_stat_statements is not loaded (tests/pg/pgctl.sh preloads it)"
CLAIM="query LIKE 'UPDATE jobs SET worker = c.worker%' AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
claims() { sql "SELECT coalesce(sum(calls), 0) || ' ' || coalesce(sum(rows), 0) FROM pg_stat_statements WHERE $CLAIM"; }
idle() { [ "$(curl -s "$BASE/v1/workers" | jq '[.workers[] | select(.state == "idle")] | length')" == 4 ]; }
RAN=$T/ran
job() { echo "{\"command\": \"echo \$SPAWNPOOL_JOB_ID >> $RAN\", \"queue\": \"$1\"}"; }
ended() {
    local id
    for id in "$@"; do state_is "$id" succeeded || return 1; done
}

# --- four jobs for four idle workers: claimed together ----------------------------------
wait_for 60 idle || fail "the 4 workers are not idle: $(curl -s "$BASE/v1/workers")"
sql 'SELECT pg_stat_statements_reset()' >/dev/null
req POST /v1/jobs "[$(job default), $(job default), $(job default), $(job default)]"
[ "$STATUS" == 201 ] || fail "submit: $STATUS $BODY"
mapfile -t IDS < <(jq -r '.jobs[].id' <<<"$BODY")
wait_for 60 ended "${IDS[@]}" || fail "the 4 jobs did not end: $(states "${IDS[@]}")"
read -r CALLS ROWS < <(claims)
eq "the 4 jobs were claimed" "$ROWS" 4
check "in at most 2 statements (one per batch of the dispatcher), not 4: $CALLS" test "$CALLS" -ge 1 -a "$CALLS" -le 2

# --- a locked row is skipped, a row another node took is left to it ----------------------
expect 200 PATCH /v1/queues/q '{"paused": true}'
wait_for 60 idle || fail "the workers are not idle again"
req POST /v1/jobs "[$(job q), $(job q), $(job q), $(job q)]"
[ "$STATUS" == 201 ] || fail "submit: $STATUS $BODY"
mapfile -t Q < <(jq -r '.jobs[].id' <<<"$BODY")
# another node claimed Q[2] (as its claim would write it; no such node runs, so it stays so)
sql "UPDATE jobs SET node = 'elsewhere', worker = 0, epoch = 1 WHERE id = ${Q[2]}" >/dev/null
# and a transaction (as another node's batch would) keeps Q[1]'s row locked
sp_pg_session "BEGIN; SELECT 'locked ' || id FROM jobs WHERE id = ${Q[1]} FOR UPDATE;"
wait_for 60 grep -q "^locked ${Q[1]}$" "$T/sql.out" || fail "psql did not lock the row: $(cat "$T/sql.out")"
sql 'SELECT pg_stat_statements_reset()' >/dev/null
expect 200 PATCH /v1/queues/q '{"paused": false}'
wait_for 60 ended "${Q[0]}" "${Q[3]}" || fail "the free jobs did not run: $(states "${Q[@]}")"
eq "the locked job waits, queued and no node's" "$(sql "SELECT state || ' ' || coalesce(node, '-') FROM jobs WHERE id = ${Q[1]}")" "queued -"
read -r CALLS ROWS < <(claims)
check "the two free jobs were claimed in one statement ($CALLS statements, $ROWS rows)" [ "$ROWS" == 2 ]
sp_pg_session_end "COMMIT;"
wait_for 60 ended "${Q[1]}" || fail "the job whose row was locked did not run once it was free: $(states "${Q[1]}")"
pass "the job whose row was locked ran once it was free"
eq "the job another node took is left to it" "$(sql "SELECT state || ' ' || node FROM jobs WHERE id = ${Q[2]}")" "queued elsewhere"
eq "the workers ran each job they claimed exactly once" "$(sort -n "$RAN" | paste -sd' ')" \
    "$(printf '%s\n' "${IDS[@]}" "${Q[0]}" "${Q[1]}" "${Q[3]}" | sort -n | paste -sd' ')"
grep -q "claiming .* failed" "$T/server.err" && fail "a claim failed: $(grep 'claiming' "$T/server.err" | head -n 3)"
pass "no claim failed"

# --- a node whose role may read but not write jobs: its claims fail. It backs off (not a
# claim every batch), says so once rather than once a claim, and reports store_degraded;
# once the role may write, the jobs run
expect 200 PATCH /v1/queues/later '{"paused": true}'
req POST /v1/jobs "[$(job later), $(job later)]"
[ "$STATUS" == 201 ] || fail "submit: $STATUS $BODY"
mapfile -t L < <(jq -r '.jobs[].id' <<<"$BODY")
sp_stop
sql "CREATE ROLE ro LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public TO ro;
     GRANT CREATE ON SCHEMA public TO ro; GRANT INSERT, UPDATE ON nodes TO ro; UPDATE queues SET paused = 0 WHERE name = 'later'" >/dev/null
# (a failed claim is a transaction rolled back: counted in pg_stat_database, which
# pg_stat_statements, counting statements that complete, is not)
rollbacks() { sql "SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()"; }
RB0=$(rollbacks)
RO_URL=$(sed 's/user=spawnpool/user=ro/' <<<"$SP_PG_URL")
[ "$RO_URL" != "$SP_PG_URL" ] || fail "no user= in $SP_PG_URL"
: >"$T/ro.out"
"$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/data-ro" --workers 1 --node ro \
    --database "$RO_URL" >"$T/ro.out" 2>"$T/ro.err" &
RO_PID=$!
BG_PIDS+=("$RO_PID")
wait_for 60 grep -q '^spawnpool: listening on ' "$T/ro.out" || fail "node ro did not start: $(tail -n 3 "$T/ro.err")"
RO=$(sed -n 's/^spawnpool: listening on //p' "$T/ro.out" | head -n 1)
tried() { [ $(($(rollbacks) - RB0)) -ge 5 ]; }
wait_for 60 tried || fail "node ro did not try to claim: $(($(rollbacks) - RB0)) rollbacks"
eq "its claims failed: jobs still queued" "$(sql "SELECT string_agg(state, ',') FROM jobs WHERE id IN (${L[0]}, ${L[1]})")" "queued,queued"
check "said once, not once per failed claim ($(($(rollbacks) - RB0)) failed): $(grep -c 'claiming' "$T/ro.err")" \
    test "$(grep -c 'claiming' "$T/ro.err")" -eq 1
grep -q 'permission denied for table jobs' "$T/ro.err" || fail "the log does not say why: $(grep claiming "$T/ro.err")"
eq "/healthz says store_degraded" "$(curl -s "$RO/healthz" | jq -r '.status + " " + .store.status')" "store_degraded degraded"
check "... with the claim's error" bash -c "curl -s $RO/healthz | jq -e '.store.error | test(\"permission denied\")'"
eq "/readyz: 503" "$(curl -s -o /dev/null -w '%{http_code}' "$RO/readyz")" 503
sql "GRANT ALL ON ALL TABLES IN SCHEMA public TO ro; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ro" >/dev/null
ran_both() { [ "$(sql "SELECT string_agg(state, ',') FROM jobs WHERE id IN (${L[0]}, ${L[1]})")" == "succeeded,succeeded" ]; }
wait_for 60 ran_both || fail "the jobs did not run once the role may write: $(tail -n 3 "$T/ro.err")"
pass "once the role may write, its claims work and the jobs run"
grep -q 'claims work again' "$T/ro.err" || fail "it did not say claims work again"
healthy() { [ "$(curl -s "$RO/healthz" | jq -r .status)" == ok ]; }
wait_for 60 healthy || fail "/healthz did not recover: $(curl -s "$RO/healthz")"
pass "/healthz ok again"
kill -TERM "$RO_PID"
wait "$RO_PID" || fail "node ro did not exit 0"
