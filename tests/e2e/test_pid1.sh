#!/usr/bin/env bash
# As PID 1 (in a PID namespace, as in a container with no init shim) the master reaps
# processes it did not start without mistaking them for workers or jobs, and still drains.
source "$(dirname "$0")/lib.sh"
if ! unshare --pid --fork --mount-proc true 2>/dev/null; then
    echo "# SKIP: cannot create a PID namespace here"
    exit 0
fi
# --kill-child: if the test dies, the namespace (and the server in it) dies with unshare
SP_WRAP="unshare --pid --fork --mount-proc --kill-child" sp_start
MASTER=$(ps -o pid= --ppid "$SP_PID" | tr -d ' ')
eq "the master is PID 1 in its namespace" "$(awk '/^NSpid:/ {print $3}' "/proc/$MASTER/status")" 1

submit '{"argv":["/bin/sh","-c","echo $$"]}'
eq "jobs run" "$(wait_job "$ID" | jq -r .state)" succeeded

# strangers: processes that enter the namespace and leave orphans, which PID 1 inherits
for i in 1 2 3 4 5; do
    nsenter -t "$MASTER" -p -m -- sh -c 'sleep 0.2 & sleep 0.3 & exit 0'
done
strangers_reaped() { ! ps -o stat=,comm= --ppid "$MASTER" | grep -qE '^Z|sleep'; }
wait_for 60 strangers_reaped || fail "orphans not reaped by PID 1: $(ps -o pid=,stat=,comm= --ppid "$MASTER")"
pass "orphans inherited by PID 1 are reaped (no zombies)"
WORKERS_NOW=$(curl -s "$BASE/v1/workers" | jq -c '[.workers[] | {index, state}]')
eq "strangers are not taken for workers" "$WORKERS_NOW" '[{"index":0,"state":"idle"},{"index":1,"state":"idle"}]'
eq "no restart counted" "$(curl -s "$BASE/metrics" | awk '/^spawnpool_worker_restarts_total/ {print $2}')" 0

# a worker killed under PID 1: replaced, its job lost, nothing left behind
submit '{"argv":["/bin/sh","-c","sleep 300 & sleep 300"]}'; J=$ID
wait_for 60 pid_known "$J" || fail "no pid"
# (pids in the API are the namespace's: kill from inside it)
NSPID=$(curl -s "$BASE/v1/workers" | jq -r ".workers[$(job_field "$J" .worker)].pid")
nsenter -t "$MASTER" -p -m -- kill -KILL "$NSPID"
eq "job lost" "$(wait_job "$J" | jq -r .state)" lost
only_workers() { [ "$(ps -o stat=,comm= --ppid "$MASTER" | grep -cvE '^S+ +spawnpool$')" == 0 ]; }
wait_for 60 only_workers || fail "left under PID 1: $(ps -o pid=,stat=,comm= --ppid "$MASTER")"
pass "only workers remain under PID 1"

# SIGTERM from outside the namespace drains PID 1, which exits 0
kill -TERM "$MASTER"
RC=0
wait "$SP_PID" || RC=$?
SP_PID=""
eq "PID 1 drained and exited 0" "$RC" 0
