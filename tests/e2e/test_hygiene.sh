#!/usr/bin/env bash
# Hygiene over a few thousand jobs: a job sees only fds 0, 1 and 2; no zombies at any time;
# neither the master's nor a worker's fd count grows.
source "$(dirname "$0")/lib.sh"
sp_start

submit '{"argv":["/bin/sh","-c","ls /proc/$$/fd; exit 0"]}'
wait_job "$ID" >/dev/null
eq "a job sees only fds 0, 1, 2" "$(curl -s "$BASE/v1/jobs/$ID/output" | tr '\n' ' ')" "0 1 2 "

FDS_BEFORE=$(fd_count "$SP_PID")
declare -A WORKER_FDS # each worker's fds now: the same after 2000 jobs
for w in $(ps -o pid= --ppid "$SP_PID"); do WORKER_FDS[$w]=$(fd_count "$w"); done
BATCH=$(jq -nc '[range(100) | {argv: ["true"]}]')
# zombie pids under the master and its workers right now
zombies() {
    local p
    for p in $SP_PID $(ps -o pid= --ppid "$SP_PID"); do
        ps -o pid=,stat= --ppid "$p" | awk '$2 ~ /^Z/ {print $1}'
    done
}
SEEN=""
for round in $(seq 20); do
    req POST /v1/jobs "$BATCH"
    [ "$STATUS" == 201 ] || fail "batch $round: $STATUS $BODY"
    SEEN="$SEEN $(zombies)"
done
LAST=$(jq -r '.jobs[-1].id' <<<"$BODY")
idle() { [ "$(curl -s "$BASE/healthz" | jq '.jobs.queued + .jobs.running')" == 0 ]; }
wait_for 120 idle || fail "2000 jobs did not finish"
eq "all 2000 succeeded" "$(curl -s "$BASE/metrics" | awk '/^spawnpool_jobs\{state="succeeded"\}/ {print $2}')" 2001
# a child is a zombie for the instant between its exit and its reaping; one seen while
# jobs ran must have been reaped since (its pid is no longer a zombie child of the master or
# a worker: the pid may be some other process's by now)
OURS=" $SP_PID $(ps -o pid= --ppid "$SP_PID" | tr -s ' \n' ' ') "
for z in $SEEN; do
    read -r stat ppid < <(ps -o stat=,ppid= -p "$z" 2>/dev/null) || continue
    [[ $stat != Z* || $OURS != *" $ppid "* ]] || fail "zombie $z was never reaped"
done
pass "every zombie seen in passing ($(wc -w <<<"$SEEN") while 2000 jobs ran) was reaped"
check "no zombies after" bash -c "! { ps -o stat= --ppid $SP_PID; for p in \$(ps -o pid= --ppid $SP_PID); do ps -o stat= --ppid \$p; done; } | grep -q Z"
wait_for 60 server_fds_under $((FDS_BEFORE + 1)) ||
    fail "master fds grew: $FDS_BEFORE before, $(fd_count "$SP_PID") after 2000 jobs"
pass "master fds did not grow over 2000 jobs ($FDS_BEFORE before, $(fd_count "$SP_PID") after)"
for w in "${!WORKER_FDS[@]}"; do
    eq "worker $w holds as many fds as before the 2000 jobs" "$(fd_count "$w")" "${WORKER_FDS[$w]}"
done
sp_stop
