#!/usr/bin/env bash
# A worker killed with SIGKILL: its job becomes lost (its process killed, not orphaned),
# the worker is replaced by a re-exec'd one within a second, and jobs keep running.
source "$(dirname "$0")/lib.sh"
WORKERS=2
sp_start
submit '{"argv":["sleep","300"]}'; VICTIM=$ID
wait_for 5 bash -c "[ \"\$(curl -s $BASE/v1/jobs/$VICTIM | jq -r .pid)\" != null ]" || fail "no pid"
J=$(curl -s "$BASE/v1/jobs/$VICTIM")
JOB_PID=$(jq -r .pid <<<"$J")
SLOT=$(jq -r .worker <<<"$J")
WORKER_PID=$(curl -s "$BASE/v1/workers" | jq -r ".workers[$SLOT].pid")
eq "worker is the master's child" "$(awk '{print $4}' "/proc/$WORKER_PID/stat")" "$SP_PID"
kill -KILL "$WORKER_PID"
START=$SECONDS
J=$(wait_job "$VICTIM" 10)
eq "job lost" "$(jq -r .state <<<"$J")" lost
check "error names the worker's death" jq -e '.error | test("killed by signal 9")' <<<"$J"
wait_for 3 bash -c "! kill -0 $JOB_PID 2>/dev/null" || fail "job process $JOB_PID orphaned"
pass "job process killed, not orphaned"
replaced() {
    local w
    w=$(curl -s "$BASE/v1/workers" | jq -r ".workers[$SLOT] | select(.state == \"idle\") | .pid")
    [ -n "$w" ] && [ "$w" != "$WORKER_PID" ]
}
wait_for 1 replaced || fail "worker not replaced within a second"
pass "worker replaced within a second"
NEW_PID=$(curl -s "$BASE/v1/workers" | jq -r ".workers[$SLOT].pid")
check "replacement was exec'd in worker mode" grep -q worker "/proc/$NEW_PID/cmdline"
tr '\0' ' ' <"/proc/$NEW_PID/cmdline" | grep -q -- "worker --fd 3 --index $SLOT" || fail "cmdline"
curl -s "$BASE/metrics" | grep -q '^spawnpool_worker_restarts_total 1$' || fail "restart not counted"
pass "restart counted in metrics"
# the replacement runs jobs (fill both workers so the new one must take one)
submit '{"argv":["sleep","0.3"]}'; A=$ID
submit '{"argv":["sleep","0.3"]}'; B=$ID
eq "job on a worker" "$(wait_job "$A" | jq -r .state)" succeeded
eq "job on the other" "$(wait_job "$B" | jq -r .state)" succeeded
check "jobs ran on both slots" test "$(job_field "$A" .worker)" != "$(job_field "$B" .worker)"
# no zombie left behind
check "no zombie children of the master" bash -c "! ps -o stat= --ppid $SP_PID | grep -q Z"

# a job that kills its own worker at once (before it would report its start, 1 ms): it is
# taken to have run (lost, one attempt, its processes killed), not re-run forever
restarts() { curl -s "$BASE/metrics" | awk '/^spawnpool_worker_restarts_total / {print $2}'; }
idle_again() { [ "$(curl -s "$BASE/healthz" | jq .workers.idle)" == 2 ]; }
for mode in "kill -9 \$PPID; exec sleep 123.4" "kill -9 \$PPID"; do
    wait_for 10 idle_again || fail "workers not back"
    BEFORE=$(restarts)
    submit "{\"command\":\"$mode\"}"
    J=$(wait_job "$ID" 20)
    eq "'$mode': lost after one attempt" "$(jq -r '[.state, .attempt] | join(" ")' <<<"$J")" "lost 1"
    check "'$mode': it cost at most two workers" test $(($(restarts) - BEFORE)) -le 2
done
check "what it started was killed, not orphaned" bash -c "! pgrep -f '^sleep 123[.]4'"
sp_stop
