#!/usr/bin/env bash
# Claims in batches (issue 15, point 2): a node with several free workers claims the jobs it
# hands out in one statement and one commit (counted by PostgreSQL's pg_stat_statements), not
# one per job; in such a batch a row another transaction has locked is skipped, not waited for,
# and taken once it is free; a row another node claimed meanwhile is left to it; each job runs
# exactly once. PostgreSQL only (the e2e suite's second run).
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
mkfifo "$T/sql.in"
psql -XAtq "$SP_PG_URL" <"$T/sql.in" >"$T/sql.out" 2>&1 &
BG_PIDS+=($!)
exec 7>"$T/sql.in"
echo "BEGIN; SELECT 'locked ' || id FROM jobs WHERE id = ${Q[1]} FOR UPDATE;" >&7
wait_for 60 grep -q "^locked ${Q[1]}$" "$T/sql.out" || fail "psql did not lock the row: $(cat "$T/sql.out")"
sql 'SELECT pg_stat_statements_reset()' >/dev/null
expect 200 PATCH /v1/queues/q '{"paused": false}'
wait_for 60 ended "${Q[0]}" "${Q[3]}" || fail "the free jobs did not run: $(states "${Q[@]}")"
eq "the locked job waits, queued and no node's" "$(sql "SELECT state || ' ' || coalesce(node, '-') FROM jobs WHERE id = ${Q[1]}")" "queued -"
read -r CALLS ROWS < <(claims)
check "the two free jobs were claimed in one statement ($CALLS statements, $ROWS rows)" [ "$ROWS" == 2 ]
echo "COMMIT;" >&7
exec 7>&-
wait_for 60 ended "${Q[1]}" || fail "the job whose row was locked did not run once it was free: $(states "${Q[1]}")"
pass "the job whose row was locked ran once it was free"
eq "the job another node took is left to it" "$(sql "SELECT state || ' ' || node FROM jobs WHERE id = ${Q[2]}")" "queued elsewhere"
eq "the workers ran each job they claimed exactly once" "$(sort -n "$RAN" | paste -sd' ')" \
    "$(printf '%s\n' "${IDS[@]}" "${Q[0]}" "${Q[1]}" "${Q[3]}" | sort -n | paste -sd' ')"
grep -q "claiming .* failed" "$T/server.err" && fail "a claim failed: $(grep 'claiming' "$T/server.err" | head -n 3)"
pass "no claim failed"
sp_stop
