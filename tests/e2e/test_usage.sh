#!/usr/bin/env bash
# Resource usage (issue 13, part 4): an ended job shows "usage": the CPU seconds and peak
# memory of its whole tree where its worker's cgroup leaf can tell (else of its main process
# and what it waited for; "source" says which), and its wall seconds; null before it ends,
# and each figure null when unknown (a job that never ran). A daemon the job leaves behind,
# which rusage never sees, is counted from the leaf.
source "$(dirname "$0")/lib.sh"
sp_start
# a fixed amount of CPU work (~0.5 s here, whatever the load) and a 100 MiB buffer, each in
# a child the shell waits for
submit '{"command": "awk '\''BEGIN { for (i = 0; i < 2e7; i++) s += i }'\''; dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null"}'
BURN=$ID
eq "while it waits or runs there is no usage yet" "$(job_field "$BURN" '.usage | tostring')" null
U=$(wait_job "$BURN" | jq -c .usage)
[ "$(jq -r '.user_cpu >= 0.2' <<<"$U")" = true ] || fail "user CPU of the awk loop: $U"
pass "user_cpu counts the CPU its child burned ($(jq .user_cpu <<<"$U") s)"
[ "$(jq -r '.system_cpu >= 0' <<<"$U")" = true ] || fail "system_cpu: $U"
pass "system_cpu is there ($(jq .system_cpu <<<"$U") s)"
[ "$(jq -r '.max_rss >= 94371840 and .max_rss < 1073741824' <<<"$U")" = true ] ||
    fail "max_rss of dd's 100 MiB buffer: $U"
pass "max_rss holds dd's 100 MiB buffer ($(jq .max_rss <<<"$U") bytes)"
[ "$(jq -r '.wall > 0' <<<"$U")" = true ] || fail "wall: $U"
eq "wall is finished_at - started_at" "$(job_field "$BURN" '((.finished_at | sub("\\.[0-9]+Z$"; "Z") | fromdate) - (.started_at | sub("\\.[0-9]+Z$"; "Z") | fromdate)) <= (.usage.wall + 1)')" true
# /metrics: the jobs' wall time and CPU by queue, as Prometheus histograms
M=$(curl -s "$BASE/metrics")
cnt() { awk -v n="$1" '$1 == n {print $2}' <<<"$M"; }
eq "job_duration_seconds counts the job of queue default" "$(cnt 'spawnpool_job_duration_seconds_count{queue="default"}')" 1
eq "... and its +Inf bucket too" "$(cnt 'spawnpool_job_duration_seconds_bucket{queue="default",le="+Inf"}')" 1
[ "$(awk -v s="$(cnt 'spawnpool_job_cpu_seconds_sum{queue="default"}')" 'BEGIN { print (s >= 0.2) }')" = 1 ] ||
    fail "job_cpu_seconds_sum of the CPU loop: $(grep job_cpu_seconds_sum <<<"$M")"
pass "job_cpu_seconds_sum holds the loop's CPU"
eq "no bucket under 0.01 s of CPU holds the loop" "$(cnt 'spawnpool_job_cpu_seconds_bucket{queue="default",le="0.01"}')" 0
grep -q '^# TYPE spawnpool_job_cpu_seconds histogram$' <<<"$M" || fail "no TYPE line for job_cpu_seconds"
pass "job_cpu_seconds is typed a histogram"

# a job that never ran: canceled in a paused queue
expect 200 PATCH /v1/queues/never '{"paused": true}'
submit '{"argv": ["true"], "queue": "never"}'
curl -s -o /dev/null -X POST "$BASE/v1/jobs/$ID/terminate"
eq "a job that never ran: every figure unknown" "$(job_field "$ID" '.usage | tostring')" \
    '{"user_cpu":null,"system_cpu":null,"max_rss":null,"wall":null,"source":null}'
# the whole tree: a daemon-like child (its parent exits at once, so it is the worker's to
# reap, not the job's) burns the same fixed CPU, and the job waits for it to finish by a file
# it leaves. rusage never sees it; the worker's cgroup leaf does.
DAEMON="sh -c \"(awk 'BEGIN { for (i = 0; i < 2e7; i++) s += i }'; touch $T/daemon.\$SPAWNPOOL_JOB_ID) &\"; until [ -e $T/daemon.\$SPAWNPOOL_JOB_ID ]; do sleep 0.05; done"
submit "$(jq -n --arg c "$DAEMON" '{command: $c}')"
D=$(wait_job "$ID" | jq -c .usage)
if [ "$(jq -r .source.cpu <<<"$D")" = cgroup ]; then
    [ "$(jq '.user_cpu >= 0.2' <<<"$D")" = true ] || fail "the daemon's CPU is not counted: $D"
    pass "a daemon the job left is counted from the cgroup leaf ($(jq .user_cpu <<<"$D") s)"
else
    echo "# SKIP: no cgroup leaf here (kill mechanism $(curl -s "$BASE/healthz" | jq -r .kill_mechanism)): usage is rusage's"
fi
# the same job where trees are process groups: rusage alone, which misses the daemon
sp_stop
sp_start --kill-mechanism pgroup
submit "$(jq -n --arg c "$DAEMON" '{command: $c}')"
P=$(wait_job "$ID" | jq -c .usage)
eq "in process-group mode the source is rusage" "$(jq -c .source <<<"$P")" '{"cpu":"rusage","memory":"rusage"}'
[ "$(jq '.user_cpu < 0.2' <<<"$P")" = true ] || fail "rusage should not see the daemon: $P"
pass "rusage misses the daemon's CPU ($(jq .user_cpu <<<"$P") s)"

# kept across a restart
sp_stop
sp_start
eq "usage survives a restart" "$(job_field "$BURN" '.usage | tostring')" "$(jq -c . <<<"$U")"

# the README's example, as written (a fresh queue count: the restart started from zero)
run_example usage
example_shows '["max_rss","source","system_cpu","user_cpu","wall"]'
example_shows 'spawnpool_job_cpu_seconds_count{queue="default"}'
sp_stop
