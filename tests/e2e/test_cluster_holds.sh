#!/usr/bin/env bash
# A node alone on the database holds jobs ahead for its busy workers, as one on SQLite does;
# once another node starts, those held jobs go back, and the idle newcomer runs them while the
# first node's worker is still busy (they waited behind its long job). PostgreSQL only.
source "$(dirname "$0")/lib.sh"
sp_on_postgres || {
    echo "SKIPPED: several nodes need the PostgreSQL store (SPAWNPOOL_TEST_DB=postgres)"
    exit 0
}

WORKERS=1 sp_start --node a --node-timeout 3
submit "$(jq -nc --arg c "$(hold 1)" '{command: $c}')"
LONG=$ID
wait_for 60 state_is "$LONG" running || fail "job $LONG does not run"
submit '{"argv": ["true"]}'
HELD=$ID
held_by_a() { [ "$(sqlite3 "$T/data/spawnpool.db" "SELECT state || ' ' || coalesce(node, '-') FROM jobs WHERE id = $HELD")" == "queued a" ]; }
wait_for 60 held_by_a || fail "node a, alone, does not hold job $HELD ahead: $(job_field "$HELD" '[.state, .node] | @csv')"
pass "node a, alone and busy, holds job $HELD ahead for its worker"

: >"$T/b.out"
"$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/data-b" --workers 1 --node b \
    --node-timeout 3 --database "$SP_PG_URL" >"$T/b.out" 2>>"$T/b.err" &
B_PID=$!
BG_PIDS+=("$B_PID")
wait_for 60 grep -q '^spawnpool: listening on ' "$T/b.out" || fail "node b did not start: $(tail -n 3 "$T/b.err")"
wait_for 60 state_is "$HELD" succeeded ||
    fail "job $HELD did not run once node b was there: $(job_field "$HELD" '[.state, .node] | @csv')"
eq "the held job went back and ran on the idle node b" "$(job_field "$HELD" .node)" b
eq "while a's long job still runs" "$(job_field "$LONG" .state)" running
release 1
wait_for 60 state_is "$LONG" succeeded || fail "job $LONG did not end"
kill -TERM "$B_PID"
wait "$B_PID" || fail "node b did not exit 0"
sp_stop
