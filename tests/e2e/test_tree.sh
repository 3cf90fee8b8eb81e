#!/usr/bin/env bash
# Whole-tree kill: a grandchild that called setsid() (left the job's process group) and
# ignores SIGTERM is gone after terminate, after a timeout, when the main process exits,
# when its worker is killed and when the master is killed. Run with each mechanism this
# machine supports (cgroup v2 leaf + cgroup.kill; process group + subreaper /proc walk).
source "$(dirname "$0")/lib.sh"

# gc.sh PIDFILE [main]: starts a TERM-ignoring grandchild in its own session, which writes
# "PID SID" (its own, from /proc) to PIDFILE; then the main process either sleeps
# (main=sleep) or exits at once (main=exit).
cat >"$T/gc.sh" <<'SH'
setsid sh -c 'trap "" TERM; read -r _ _ _ _ _ sid _ </proc/$$/stat; echo "$$ $sid" > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 300' sh "$1" &
while [ ! -s "$1" ]; do sleep 0.01; done
echo started
[ "$2" = exit ] && exit 0
exec sleep 300
SH

# fnv1a TEXT: the hash the server names its cgroup leaves with (server/serve.c)
fnv1a() {
    local s=$1 h=1469598103934665603 i c
    for ((i = 0; i < ${#s}; i++)); do
        printf -v c '%d' "'${s:i:1}"
        h=$(((h ^ c) * 1099511628211))
    done
    printf '%016x' "$h"
}

N=0
# start_gc MAIN [EXTRA_JSON]: submits gc.sh; sets ID and GC (the grandchild's pid). The
# grandchild says itself that it left the session; it may be gone already when the main
# process exits at once, or the job has a timeout.
start_gc() {
    N=$((N + 1))
    local pidfile="$T/gc.$N.pid" sid
    submit "{\"argv\":[\"sh\",\"$T/gc.sh\",\"$pidfile\",\"$1\"]${2:-}}"
    wait_for 60 test -s "$pidfile" || fail "grandchild never started"
    read -r GC sid <"$pidfile"
    [ "$sid" == "$GC" ] || fail "grandchild $GC did not leave the session (its session is $sid)"
    [ "$1" == exit ] || [ -n "${2:-}" ] || kill -0 "$GC" || fail "grandchild $GC not running"
}
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1")" == Z ]; }
expect_gone() { wait_for 60 gone "$GC" || fail "$1: grandchild $GC survived"; pass "$1: grandchild gone"; }

mechanisms=(pgroup)
sp_start
if [ "$(curl -s "$BASE/healthz" | jq -r .kill_mechanism)" == cgroup ]; then
    mechanisms=(cgroup pgroup)
else
    echo "# cgroup v2 leaves cannot be made here: testing the process-group mechanism only"
fi
sp_stop

for mech in "${mechanisms[@]}"; do
    echo "# mechanism: $mech"
    sp_start --kill-mechanism "$mech" --kill-grace 0.5
    want=$([ "$mech" == cgroup ] && echo cgroup || echo process-group)
    eq "healthz shows the mechanism" "$(curl -s "$BASE/healthz" | jq -r .kill_mechanism)" "$want"
    grep -q "job trees are killed with: $want" "$T/server.err" || fail "mechanism not logged"

    start_gc sleep
    expect 202 POST "/v1/jobs/$ID/terminate" '{"grace":0.3}'
    eq "terminated" "$(wait_job "$ID" | jq -r .state)" terminated
    expect_gone "$mech terminate"

    # (the timeout must come after the grandchild started: 3 s, however loaded the machine)
    start_gc sleep ',"timeout":3'
    eq "timed out" "$(wait_job "$ID" | jq -r .state)" timed_out
    expect_gone "$mech timeout"

    start_gc exit
    eq "main exited 0" "$(wait_job "$ID" | jq -r .state)" succeeded
    expect_gone "$mech leftovers after the main process exits"

    start_gc sleep
    WORKER=$(curl -s "$BASE/v1/workers" | jq -r ".workers[$(job_field "$ID" .worker)].pid")
    kill -KILL "$WORKER"
    eq "job lost with its worker" "$(wait_job "$ID" | jq -r .state)" lost
    expect_gone "$mech worker killed"
    check "no zombie under the master" bash -c "! ps -o stat= --ppid $SP_PID | grep -q Z"

    start_gc sleep
    MAIN=$(job_field "$ID" .pid)
    # this server's cgroup leaves: spawnpool.<FNV-1a of the data dir>-<master pid>.w<slot> next to the
    # master's cgroup, in the v2 tree (cgroup mode) and the v1 memory and pids hierarchies
    none_starting() { [ "$(curl -s "$BASE/healthz" | jq .workers.starting)" == 0 ]; }
    wait_for 60 none_starting || fail "a worker stays starting"
    INSTANCE=$(fnv1a "$T/data")
    LEAVES=()
    while IFS=: read -r _ controllers path; do
        case $controllers in
        "") mount=$(findmnt -t cgroup2 -no TARGET | head -n 1) ;;
        memory | pids) mount=$(findmnt -t cgroup -no TARGET | grep -m1 "/$controllers\$") ;;
        *) continue ;;
        esac
        [ "$path" == / ] && path=
        for leaf in "$mount$path"/spawnpool."$INSTANCE-$SP_PID".w*; do
            [ -d "$leaf" ] && LEAVES+=("$leaf")
        done
    done <"/proc/$SP_PID/cgroup"
    [ "$mech" == pgroup ] || [ ${#LEAVES[@]} -ge 2 ] || fail "no cgroup leaves found for $INSTANCE"
    sp_kill9
    wait_for 60 gone "$MAIN" || fail "job's main process survived the master"
    expect_gone "$mech master killed"
    leaves_gone() { for l in "${LEAVES[@]}"; do [ ! -d "$l" ] || return 1; done; }
    wait_for 60 leaves_gone || fail "$mech master killed: cgroup leaves left: ${LEAVES[*]}"
    pass "$mech master killed: the workers removed their ${#LEAVES[@]} cgroup leaves on the way out"
    rm -rf "$T/data"
done

# A job that makes cgroups of its own inside its worker's leaf (a container runtime, or a
# spawnpool under test): terminated, its nested cgroups go with the leaf when the server
# stops, instead of keeping the leaf (and themselves) for good.
if [[ " ${mechanisms[*]} " == *" cgroup "* ]]; then
    sp_start --kill-mechanism cgroup --kill-grace 0.5
    submit '{"command": "d=$(findmnt -t cgroup2 -no TARGET | head -n 1)$(sed -n \"s/^0:://p\" /proc/self/cgroup); mkdir -p \"$d/nested/deeper\" && echo \"$d\" && exec sleep 600"}'
    has_output() { [ -n "$(curl -s "$BASE/v1/jobs/$ID/output")" ]; }
    wait_for 60 has_output || fail "the nesting job never said where it runs"
    LEAF=$(curl -s "$BASE/v1/jobs/$ID/output")
    check "the job made cgroups inside its leaf $LEAF" test -d "$LEAF/nested/deeper"
    req POST "/v1/jobs/$ID/terminate"
    eq "it ends terminated" "$(wait_job "$ID" | jq -r .state)" terminated
    sp_stop
    check "the leaf and the job's cgroups in it are gone after the stop" test ! -d "$LEAF"
fi

# Two servers on one data-dir path (the first one's dir was removed under it): the second
# one's clean-up of leaves "left by a previous run" must not kill the first one's workers
# and jobs, and each one's cgroup.kill must hit its own (issue 11, finding 3).
if [[ " ${mechanisms[*]} " == *" cgroup "* ]]; then
    sp_start --kill-mechanism cgroup --kill-grace 0.5
    A_PID=$SP_PID A_BASE=$BASE
    trap 'kill -KILL "$A_PID" 2>/dev/null; wait "$A_PID" 2>/dev/null; cleanup' EXIT
    submit '{"argv": ["sleep", "300"]}'
    A_JOB=$ID
    wait_for 60 state_is "$A_JOB" running || fail "the first server's job never ran"
    A_WORKERS=$(curl -s "$A_BASE/v1/workers" | jq -c '[.workers[].pid]')
    rm -rf "$T/data"
    sp_start --kill-mechanism cgroup --kill-grace 0.5
    eq "the first server's job still runs beside the second server" "$(curl -s "$A_BASE/v1/jobs/$A_JOB" | jq -r .state)" running
    eq "and its workers are the same" "$(curl -s "$A_BASE/v1/workers" | jq -c '[.workers[].pid]')" "$A_WORKERS"
    submit '{"argv": ["sleep", "300"]}'
    B_JOB=$ID
    wait_for 60 state_is "$B_JOB" running || fail "the second server's job never ran"
    curl -s -X POST "$A_BASE/v1/jobs/$A_JOB/terminate" >/dev/null
    eq "the first server terminates its own job" "$(curl -s "$A_BASE/v1/jobs/$A_JOB/wait?timeout=60" | jq -r .state)" terminated
    eq "which leaves the second server's job running" "$(job_field "$B_JOB" .state)" running
    eq "and the first server's workers" "$(curl -s "$A_BASE/v1/workers" | jq -c '[.workers[].pid]')" "$A_WORKERS"
    req POST "/v1/jobs/$B_JOB/terminate"
    eq "the second terminates its own" "$(wait_job "$B_JOB" | jq -r .state)" terminated
    sp_stop
    kill -TERM "$A_PID"
    wait "$A_PID" || fail "the first server did not exit 0"
    pass "both servers stopped cleanly"
fi

# A whole crash (master and workers killed at once, a setsid'd grandchild left in the leaf):
# the next server on the data dir kills what is left in the dead run's leaves and removes
# them, though their names (with the dead master's pid) are not its own.
if [[ " ${mechanisms[*]} " == *" cgroup "* ]]; then
    WORKERS=1 sp_start --kill-mechanism cgroup
    submit "{\"command\": \"setsid sleep 123.$$ & exec sleep 300\"}"
    wait_for 60 state_is "$ID" running || fail "the job never ran"
    W=$(curl -s "$BASE/v1/workers" | jq '.workers[0].pid')
    DEAD=$SP_PID
    kill -STOP "$W" # so it cannot clean up when its master dies
    sp_kill9
    kill -KILL "$W"
    orphan_alive() { pgrep -f "sleep 123.$$" >/dev/null; }
    check "the grandchild outlives the crash" orphan_alive
    DEAD_LEAVES=$(ls -d /sys/fs/cgroup/*/spawnpool."$(fnv1a "$T/data")-$DEAD".* /sys/fs/cgroup/spawnpool."$(fnv1a "$T/data")-$DEAD".* 2>/dev/null)
    [ -n "$DEAD_LEAVES" ] || fail "no leaf of the dead run found"
    WORKERS=1 sp_start --kill-mechanism cgroup
    orphan_gone() { ! orphan_alive; }
    wait_for 60 orphan_gone || fail "the dead run's grandchild survived the next start"
    pass "the next start killed it"
    for l in $DEAD_LEAVES; do [ ! -d "$l" ] || fail "the dead run's leaf $l is left"; done
    pass "and removed the dead run's leaves"
    sp_stop
fi
