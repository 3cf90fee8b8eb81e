#!/usr/bin/env bash
# A worker killed with SIGKILL: its job becomes lost (its process killed, not orphaned),
# the worker is replaced by a re-exec'd one within a second, and jobs keep running.
source "$(dirname "$0")/lib.sh"
WORKERS=2
sp_start
submit '{"argv":["sleep","300"]}'; VICTIM=$ID
wait_for 60 pid_known "$VICTIM" || fail "no pid"
J=$(curl -s "$BASE/v1/jobs/$VICTIM")
JOB_PID=$(jq -r .pid <<<"$J")
SLOT=$(jq -r .worker <<<"$J")
WORKER_PID=$(curl -s "$BASE/v1/workers" | jq -r ".workers[$SLOT].pid")
eq "worker is the master's child" "$(awk '{print $4}' "/proc/$WORKER_PID/stat")" "$SP_PID"
kill -KILL "$WORKER_PID"
J=$(wait_job "$VICTIM")
eq "job lost" "$(jq -r .state <<<"$J")" lost
check "error names the worker's death" jq -e '.error | test("killed by signal 9")' <<<"$J"
wait_for 60 bash -c "! kill -0 $JOB_PID 2>/dev/null" || fail "job process $JOB_PID orphaned"
pass "job process killed, not orphaned"
replaced() {
    local w
    w=$(curl -s "$BASE/v1/workers" | jq -r ".workers[$SLOT] | select(.state == \"idle\") | .pid")
    [ -n "$w" ] && [ "$w" != "$WORKER_PID" ]
}
wait_for 60 replaced || fail "worker not replaced"
# how fast, by the server's clock: from the death (the lost job's end) to the new process
W=$(curl -s "$BASE/v1/workers" | jq ".workers[$SLOT]")
GAP=$(($(epoch_ms "$(jq -r .started_at <<<"$W")") - $(epoch_ms "$(jq -r .finished_at <<<"$J")")))
check "worker replaced within a second ($GAP ms)" test "$GAP" -lt 1000
NEW_PID=$(jq -r .pid <<<"$W")
check "replacement was exec'd in worker mode" grep -q worker "/proc/$NEW_PID/cmdline"
tr '\0' ' ' <"/proc/$NEW_PID/cmdline" | grep -q -- "worker --fd 3 --index $SLOT" || fail "cmdline"
curl -s "$BASE/metrics" | grep -q '^spawnpool_worker_restarts_total 1$' || fail "restart not counted"
pass "restart counted in metrics"
# the replacement runs jobs (fill both workers so the new one must take one)
submit "{\"command\":\"$(hold ab)\"}"; A=$ID
submit "{\"command\":\"$(hold ab)\"}"; B=$ID
wait_for 60 states_are running,running "$A" "$B" || fail "both jobs did not run at once: $(states "$A" "$B")"
check "jobs run on both slots" test "$(job_field "$A" .worker)" != "$(job_field "$B" .worker)"
release ab
eq "job on a worker" "$(wait_job "$A" | jq -r .state)" succeeded
eq "job on the other" "$(wait_job "$B" | jq -r .state)" succeeded
# no zombie left behind
check "no zombie children of the master" bash -c "! ps -o stat= --ppid $SP_PID | grep -q Z"

# a job that kills its own worker at once (before it would report its start, 1 ms): it is
# taken to have run (lost, one attempt, its processes killed), not re-run forever
restarts() { metric spawnpool_worker_restarts_total; }
idle_again() { [ "$(curl -s "$BASE/healthz" | jq .workers.idle)" == 2 ]; }
MARK=123.$$ # what the job execs: sleep MARK (unique, other servers may run this test too)
for mode in "kill -9 \$PPID; exec sleep $MARK" "kill -9 \$PPID"; do
    wait_for 60 idle_again || fail "workers not back"
    BEFORE=$(restarts)
    submit "{\"command\":\"$mode\"}"
    J=$(wait_job "$ID")
    eq "'$mode': lost after one attempt" "$(jq -r '[.state, .attempt] | join(" ")' <<<"$J")" "lost 1"
    check "'$mode': it cost at most two workers" test $(($(restarts) - BEFORE)) -le 2
done
wait_for 60 bash -c "! pgrep -f '^sleep ${MARK/./[.]}\$' >/dev/null" || fail "sleep $MARK was orphaned"
pass "what it started was killed, not orphaned"
sp_stop
