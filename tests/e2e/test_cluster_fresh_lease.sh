#!/usr/bin/env bash
# A node's workers are fenced from their first job on: a worker learns the node's lease when
# it says READY, before any RUN, not at the master's next renewal (a second later). Node y is
# busy and holds jobs ahead; node x starts, takes them at once, and its main process is stopped
# (SIGSTOP) right away: its workers must kill the job they run while it is stopped, before y
# rescues the jobs and runs them again. PostgreSQL only.
source "$(dirname "$0")/lib.sh"
sp_on_postgres || {
    echo "SKIPPED: several nodes need the PostgreSQL store (SPAWNPOOL_TEST_DB=postgres)"
    exit 0
}

MARK="300.$$$RANDOM"
WORKERS=1 sp_start --node y --node-timeout 3
submit "$(jq -nc --arg c "$(hold 1)" '{command: $c}')"
wait_for 60 state_is "$ID" running || fail "y's first job does not run"
JOBS=()
for i in 1 2 3 4; do
    submit "{\"command\": \"exec sleep $MARK\", \"max_attempts\": 3}"
    JOBS+=("$ID")
done
: >"$T/x.out"
"$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/data-x" --workers 1 --node x \
    --node-timeout 3 --database "$SP_PG_URL" >"$T/x.out" 2>>"$T/x.err" &
X_PID=$!
BG_PIDS+=("$X_PID")
on_x() { sqlite3 "$T/data/spawnpool.db" "SELECT count(*) FROM jobs WHERE node = 'x' AND state = 'running'" | grep -qx 1; }
wait_for 60 on_x || fail "node x did not run one of the jobs: $(tail -n 3 "$T/x.err")"
kill -STOP "$X_PID"
pass "node x runs a job and its main process is stopped right away"
none_left() { ! pgrep -f "sleep $MARK" >/dev/null; }
wait_for 60 none_left || fail "x's worker did not kill its job while x was stopped: $(pgrep -af "sleep $MARK")"
pass "x's worker killed the job while x was stopped"
kill -CONT "$X_PID"
kill -TERM "$X_PID"
wait "$X_PID" || true
release 1
sp_stop
