#!/usr/bin/env bash
# PostgreSQL restarted under load (issue 15): two nodes on a PostgreSQL cluster of this test's
# own (the suite's shared one must not go down under the other tests); jobs are submitted to
# both while the database restarts. Every job acknowledged (201) runs exactly once and ends
# recorded; submits refused meanwhile say so (503, or no answer), nothing half-stored; the
# nodes reconnect by themselves and run new jobs after. Then the database stays down past half
# a node's lease: the node fences itself, killing its job, which ends lost and, with an attempt
# left, runs again once the database is back; reads meanwhile answer 503 with Retry-After
# (logged once, not once per request); a node started while the database is down waits for
# it (a stop signal ends the wait), one told of a database that does not exist does not.
# PostgreSQL only.
source "$(dirname "$0")/lib.sh"
sp_on_postgres || {
    echo "SKIPPED: needs the PostgreSQL store (SPAWNPOOL_TEST_DB=postgres)"
    exit 0
}
unset SPAWNPOOL_PG_DIR # a cluster of its own (lib_pg.sh starts it in $T/pg, stops it at exit)

declare -A PID URL
node_start() {
    local n=$1
    : >"$T/$n.out"
    "$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/data-$n" --workers 2 --node "$n" \
        --database "$SP_PG_URL" >"$T/$n.out" 2>>"$T/$n.err" &
    PID[$n]=$!
    BG_PIDS+=("${PID[$n]}")
    wait_for 60 grep -q '^spawnpool: listening on ' "$T/$n.out" || fail "node $n did not start: $(tail -n 5 "$T/$n.err")"
    URL[$n]=$(sed -n 's/^spawnpool: listening on //p' "$T/$n.out" | head -n 1)
}
sp_pg_url "$T/cluster"
for n in a b; do node_start "$n"; done

RAN=$T/ran
ACKED=$T/acked
: >"$ACKED"
# submitter NODE COUNT: submits one by one, writes the id of each acknowledged one
submitter() {
    local n=$1 i code
    for i in $(seq 1 "$2"); do
        code=$(curl -s -o "$T/sub-$n" -w '%{http_code}' -m 10 -X POST -H 'Content-Type: application/json' \
            --data "{\"command\": \"echo \$SPAWNPOOL_JOB_ID >> $RAN; sleep 0.05\"}" "${URL[$n]}/v1/jobs")
        case $code in
        201) jq -r .id "$T/sub-$n" >>"$ACKED" ;;
        503 | 000) echo "refused $code" >>"$T/refused" ;;
        *) echo "unexpected $code: $(cat "$T/sub-$n")" >>"$T/unexpected" ;;
        esac
    done
}
submitter a 60 &
SA=$!
submitter b 60 &
SB=$!
wait_for 60 bash -c "[ \$(wc -l <'$ACKED') -ge 20 ]" || fail "no load before the restart"
"$SP_PGCTL" restart "$SP_PG_CLUSTER" >/dev/null || fail "PostgreSQL did not restart"
pass "PostgreSQL restarted under load"
wait "$SA" "$SB"
[ ! -s "$T/unexpected" ] || fail "unexpected answers: $(head -n 3 "$T/unexpected")"
N=$(wc -l <"$ACKED")
echo "# acknowledged $N, refused $(cat "$T/refused" 2>/dev/null | wc -l)"
all_ended() { # (no job waits or runs any more)
    [ "$(curl -s "${URL[a]}/v1/jobs?state=queued,running&limit=10" | jq '.jobs | length')" == 0 ]
}
if ! wait_for 120 all_ended; then
    curl -s "${URL[a]}/v1/jobs?limit=1000" | jq -c '[.jobs[] | {id, state, node, worker}] | group_by(.state) | map({(.[0].state): [.[] | .id]}) | add' >&2
    tail -n 15 "$T/a.err" "$T/b.err" >&2
    fail "not every acknowledged job ended"
fi
eq "every acknowledged job succeeded" \
    "$(curl -s "${URL[b]}/v1/jobs?state=succeeded&limit=1000" | jq '.jobs | length')" "$N"
eq "each ran exactly once" "$(sort -n "$RAN" | uniq -d | wc -l)" 0
eq "the ones that ran are the acknowledged ones" "$(sort -n "$RAN" | tr '\n' ' ')" "$(sort -n "$ACKED" | tr '\n' ' ')"
for n in a b; do
    ID=$(curl -s -X POST -H 'Content-Type: application/json' --data '{"argv": ["true"]}' "${URL[$n]}/v1/jobs" | jq -r .id)
    eq "node $n runs new jobs after" "$(curl -s "${URL[$n]}/v1/jobs/$ID/wait?timeout=60" | jq -r .state)" succeeded
done
for n in a b; do
    kill -TERM "${PID[$n]}"
    wait "${PID[$n]}" || fail "node $n did not exit 0"
done
pass "both nodes stopped cleanly"

# --- the database down past half the lease: the node fences itself --------------------------
: >"$T/f.out"
"$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/data-f" --workers 2 --node f \
    --node-timeout 3 --database "$SP_PG_URL" >"$T/f.out" 2>>"$T/f.err" &
PID[f]=$!
BG_PIDS+=("${PID[f]}")
wait_for 60 grep -q '^spawnpool: listening on ' "$T/f.out" || fail "node f did not start"
URL[f]=$(sed -n 's/^spawnpool: listening on //p' "$T/f.out" | head -n 1)
J=$(curl -s -X POST -H 'Content-Type: application/json' \
    --data "{\"command\": \"echo run >> $T/fenced-runs; exec sleep 300\", \"max_attempts\": 2}" "${URL[f]}/v1/jobs" | jq -r .id)
wait_for 60 bash -c "[ \"\$(curl -s ${URL[f]}/v1/jobs/$J | jq -r .state)\" == running ]" || fail "job $J never ran"
PGUSER_OF=$(stat -c %U "$SP_PG_CLUSTER/data")
(cd "$SP_PG_CLUSTER" && runuser -u "$PGUSER_OF" -- /usr/lib/postgresql/15/bin/pg_ctl stop -D "$SP_PG_CLUSTER/data" -m fast >/dev/null) ||
    fail "PostgreSQL did not stop"
wait_for 60 grep -q "node f: .*fencing itself" "$T/f.err" || fail "node f did not fence itself: $(tail -n 3 "$T/f.err")"
pass "the database down past half the lease: node f fenced itself"
# reads meanwhile: 503 store_unavailable with Retry-After (the client may retry), not 500;
# and the log says so once, not once per request
for i in 1 2 3 4 5 6; do
    code=$(curl -s -o "$T/down.json" -D "$T/down.h" -w '%{http_code}' "${URL[f]}/v1/jobs/$J")
done
eq "a read while the database is down: 503" "$code" 503
eq "... store_unavailable" "$(jq -r .error.code "$T/down.json")" store_unavailable
check "... with Retry-After" grep -qi '^Retry-After: 1' "$T/down.h"
eq "GET /v1/nodes meanwhile: 503" "$(curl -s -o /dev/null -w '%{http_code}' "${URL[f]}/v1/nodes")" 503
eq "an event stream resumed meanwhile: 503, not a stream cut short" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'Last-Event-ID: 0' "${URL[f]}/v1/events")" 503
check "the failed reads are logged once, not once each: $(grep -c 'reads answer 503' "$T/f.err")" \
    test "$(grep -c 'reads answer 503' "$T/f.err")" -le 1
"$SP_PGCTL" restart "$SP_PG_CLUSTER" >/dev/null || fail "PostgreSQL did not start again"
second_run() { [ "$(grep -c run "$T/fenced-runs")" -ge 2 ]; }
wait_for 60 second_run || fail "job $J was not run again: $(curl -s "${URL[f]}/v1/jobs/$J" | jq -c '{state, attempt, error}')"
EV=$(psql -XAtq "$SP_PG_URL" -c "SELECT detail FROM job_events WHERE job_id = $J AND from_state = 'running' AND to_state = 'queued'")
[[ $EV == *"attempt 1 of 2 ended lost"* ]] || fail "its first attempt did not end lost: $EV"
pass "its job ended lost and runs again (attempt 2)"
curl -s -X POST -H 'Content-Type: application/json' --data '{}' "${URL[f]}/v1/jobs/$J/terminate" >/dev/null
eq "... and is terminated as asked" "$(curl -s "${URL[f]}/v1/jobs/$J/wait?timeout=60" | jq -r .state)" terminated
kill -TERM "${PID[f]}"
wait "${PID[f]}" || fail "node f did not exit 0"
pass "node f stopped cleanly"

# --- a node started while the database is down waits for it ------------------------------
pg_down() {
    (cd "$SP_PG_CLUSTER" && runuser -u "$PGUSER_OF" -- /usr/lib/postgresql/15/bin/pg_ctl stop -D "$SP_PG_CLUSTER/data" -m fast >/dev/null) ||
        fail "PostgreSQL did not stop"
}
start_g() { # NAME: a node g started now (its stdout in $T/NAME.out, stderr in $T/NAME.err)
    : >"$T/$1.out"
    "$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/data-$1" --workers 1 --node "$1" \
        --node-timeout 3 --database "$SP_PG_URL" >"$T/$1.out" 2>>"$T/$1.err" &
    PID[$1]=$!
    BG_PIDS+=("${PID[$1]}")
}
pg_down
start_g g
wait_for 60 grep -q 'waiting for it' "$T/g.err" || fail "node g did not say it waits: $(tail -n 3 "$T/g.err")"
pass "a node started while the database is down waits for it"
"$SP_PGCTL" restart "$SP_PG_CLUSTER" >/dev/null || fail "PostgreSQL did not start again"
wait_for 60 grep -q '^spawnpool: listening on ' "$T/g.out" || fail "node g did not start once the database was up: $(tail -n 3 "$T/g.err")"
URL[g]=$(sed -n 's/^spawnpool: listening on //p' "$T/g.out" | head -n 1)
G=$(curl -s -X POST -H 'Content-Type: application/json' --data '{"argv": ["true"]}' "${URL[g]}/v1/jobs" | jq -r .id)
eq "... and runs jobs once it is up" "$(curl -s "${URL[g]}/v1/jobs/$G/wait?timeout=60" | jq -r .state)" succeeded
kill -TERM "${PID[g]}"
wait "${PID[g]}" || fail "node g did not exit 0"
# a stop signal ends the wait
pg_down
start_g h
wait_for 60 grep -q 'waiting for it' "$T/h.err" || fail "node h did not say it waits"
kill -TERM "${PID[h]}"
RC=0
wait "${PID[h]}" || RC=$?
eq "SIGTERM ends the wait (exit 1)" "$RC" 1
"$SP_PGCTL" restart "$SP_PG_CLUSTER" >/dev/null || fail "PostgreSQL did not start again"
# a server that answers and refuses (no such database) is not waited for
RC=0
"$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/data-i" --node i \
    --database "$(sed 's|:///[^?]*|:///no_such_database|' <<<"$SP_PG_URL")" >/dev/null 2>"$T/i.err" || RC=$?
eq "a database that does not exist: exit 1 at once" "$RC" 1
check "saying why: $(tail -n 1 "$T/i.err")" grep -q 'no_such_database' "$T/i.err"
