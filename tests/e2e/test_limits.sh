#!/usr/bin/env bash
# Per-job limits: rlimits (nofile, nproc, core, as) set in the job's child before exec, memory
# and pids on the cgroup it runs in. --limit-* are every job's defaults and also the most a job
# may ask for; a task template may set any value (the admin wrote it) and is then the ceiling.
# Bad values are 400s naming limits.<key>; limits are shown on the job, kept across a restart;
# a job the kernel's OOM killer stopped says so in its error.
source "$(dirname "$0")/lib.sh"
cat >"$T/config.json" <<'JSON'
{"tasks": {"wide": {"argv": ["sh", "-c", "ulimit -n"], "limits": {"nofile": 300}},
           "plain": {"argv": ["sh", "-c", "ulimit -n"]}}}
JSON
sp_start --limit-nofile 100 --limit-core 0 --config "$T/config.json"
out() { curl -s "$BASE/v1/jobs/$1/output${2:+?stream=$2}" | tr '\n' ' '; }
run_job() { # BODY: submits, waits; ID is the job
    submit "$1"
    wait_job "$ID" >/dev/null
}

run_job '{"command":"ulimit -Sn; ulimit -Hn; ulimit -c"}'
eq "the server's limits apply, soft and hard" "$(out "$ID")" "100 100 0 "
eq "the job shows them" "$(job_field "$ID" '.limits | tojson')" '{"nofile":100,"core":0}'
run_job '{"command":"ulimit -n; ulimit -v; ulimit -p","limits":{"nofile":50,"as":268435456,"nproc":4000}}'
eq "a job may ask for less, and for limits the server leaves open" "$(out "$ID")" "50 262144 4000 "
eq "they are shown with the defaults it kept" "$(job_field "$ID" '.limits | tojson')" \
    '{"nofile":50,"nproc":4000,"core":0,"as":268435456}'

expect_error 400 invalid_argument limits.nofile POST /v1/jobs '{"command":"true","limits":{"nofile":101}}'
check "the message says what the ceiling is" grep -q "at most 100 here (the server's --limit-nofile)" "$T/body"
expect_error 400 invalid_argument limits.bogus POST /v1/jobs '{"command":"true","limits":{"bogus":1}}'
expect_error 400 invalid_argument limits.nofile POST /v1/jobs '{"command":"true","limits":{"nofile":"many"}}'
expect_error 400 invalid_argument limits.nofile POST /v1/jobs '{"command":"true","limits":{"nofile":0}}'
expect_error 400 invalid_argument limits.as POST /v1/jobs '{"command":"true","limits":{"as":4096}}'
expect_error 400 invalid_argument limits POST /v1/jobs '{"command":"true","limits":[64]}'
expect_error 400 invalid_argument '[1].limits.core' POST /v1/jobs '[{"command":"true"},{"command":"true","limits":{"core":-1}}]'

run_job '{"task":"wide"}'
eq "a template may go above the server's default" "$(out "$ID")" "300 "
run_job '{"task":"plain"}'
eq "a template without limits gets the server's" "$(out "$ID")" "100 "
expect_error 400 invalid_argument limits.nofile POST /v1/jobs '{"task":"wide","limits":{"nofile":301}}'
check "and is then the ceiling" grep -q "the limit of its task template" "$T/body"
eq "GET /v1/tasks shows template limits" "$(curl -s "$BASE/v1/tasks" | jq -c '.tasks[] | select(.name=="wide") | .limits')" '{"nofile":300}'

# the address space limit is enforced: tail keeps 80 MB, and may have 64 MiB
run_job '{"pipeline":[["head","-c","100000000","/dev/zero"],["tail","-c","80000000"]],"limits":{"as":67108864}}'
eq "over its address space a job cannot allocate" "$(job_field "$ID" .state) $(job_field "$ID" .exit_code)" "failed 1"
check "and says so" grep -qi "memory" <(curl -s "$BASE/v1/jobs/$ID/output?stream=stderr")

CGROUP_MEMORY=$(curl -s "$BASE/healthz" | jq -r .limits.memory)
CGROUP_PIDS=$(curl -s "$BASE/healthz" | jq -r .limits.pids)
if [ "$CGROUP_MEMORY" != none ]; then
    # one process takes the memory (dd's 150 MB buffer): with a second one allocating in the
    # cgroup (head feeding tail), the kernel may run the OOM killer again once the first
    # victim is reaped, and where the worker cannot lower its oom_score_adj (this VM) that
    # second kill takes the worker: the job is then lost (seen under load, on one CPU)
    run_job '{"argv":["dd","if=/dev/zero","of=/dev/null","bs=150M","count=1"],"limits":{"memory":67108864}}'
    eq "over its memory limit ($CGROUP_MEMORY) the kernel kills the job" \
        "$(job_field "$ID" .state) $(job_field "$ID" .signal)" "failed 9"
    eq "its error says why" "$(job_field "$ID" .error)" \
        "the kernel's OOM killer killed it: the job went over its memory limit of 67108864 bytes"
    OOM_WORKER=$(job_field "$ID" .worker)
    # the worker shares the job's memory cgroup: it makes itself the OOM killer's last choice
    # while such a job runs, and the job keeps the default score
    submit '{"argv":["sleep","300"],"limits":{"memory":67108864}}'
    wait_for 60 state_is "$ID" running || fail "the limited job did not start"
    JOB_PID=$(job_field "$ID" .pid)
    WORKER_PID=$(ps -o ppid= -p "$JOB_PID" | tr -d ' ')
    if sh -c 'echo -1 >/proc/self/oom_score_adj' 2>/dev/null; then
        eq "a worker running a memory-limited job: oom_score_adj -1000" "$(cat "/proc/$WORKER_PID/oom_score_adj")" -1000
    else # (this VM refuses any lowering, even to root: EIO)
        echo "# SKIP: this kernel lets no process lower its oom_score_adj; the worker stays at $(cat "/proc/$WORKER_PID/oom_score_adj")"
    fi
    eq "the job itself: 0" "$(cat "/proc/$JOB_PID/oom_score_adj")" 0
    expect 202 POST "/v1/jobs/$ID/terminate"
    wait_job "$ID" >/dev/null
    run_job '{"command":"cat /proc/self/oom_score_adj"}'
    eq "and goes back to 0 after it: jobs without a limit inherit 0" "$(out "$ID")" "0 "
    # the worker that ran it (the pool picks the lowest idle one) runs unlimited jobs after it
    for i in 1 2; do
        run_job '{"pipeline":[["head","-c","200000000","/dev/zero"],["tail","-c","150000000"],["wc","-c"]]}'
        eq "the limit is lifted after the job ($i: worker $(job_field "$ID" .worker), OOM on $OOM_WORKER)" \
            "$(job_field "$ID" .state) $(out "$ID")" "succeeded 150000000 "
    done
else
    expect_error 400 invalid_argument limits.memory POST /v1/jobs '{"command":"true","limits":{"memory":67108864}}'
    echo "# SKIP: no cgroup memory controller here, memory limits are refused (checked)"
fi
if [ "$CGROUP_PIDS" != none ]; then
    run_job '{"command":"for i in 1 2 3 4 5 6; do sleep 3 & done; wait","limits":{"pids":3}}'
    eq "over its pids limit ($CGROUP_PIDS) a job cannot fork" "$(job_field "$ID" .state)" failed
    check "and the shell says so" grep -qi "fork" <(curl -s "$BASE/v1/jobs/$ID/output?stream=stderr")
    run_job '{"command":"for i in 1 2 3 4 5 6; do sleep 0.1 & done; wait"}'
    eq "without it the same job runs" "$(job_field "$ID" .state)" succeeded
else
    expect_error 400 invalid_argument limits.pids POST /v1/jobs '{"command":"true","limits":{"pids":3}}'
    echo "# SKIP: no cgroup pids controller here, pids limits are refused (checked)"
fi

# a worker killed while its job ran under a memory limit: its replacement lifts the limit
# before running anything (one worker, so the next job surely runs in the same cgroup)
if [ "$CGROUP_MEMORY" != none ]; then
    sp_stop
    WORKERS=1 sp_start
    submit '{"argv":["sleep","300"],"limits":{"memory":67108864,"pids":10}}'
    wait_for 60 state_is "$ID" running || fail "the limited job did not start"
    OLD_WORKER=$(curl -s "$BASE/v1/workers" | jq .workers[0].pid)
    kill -KILL "$OLD_WORKER"
    replaced() { [ "$(curl -s "$BASE/v1/workers" | jq '.workers[0] | select(.state == "idle") | .pid')" != "" ] &&
        [ "$(curl -s "$BASE/v1/workers" | jq .workers[0].pid)" != "$OLD_WORKER" ]; }
    wait_for 60 replaced || fail "the worker was not replaced"
    run_job '{"pipeline":[["head","-c","200000000","/dev/zero"],["tail","-c","150000000"],["wc","-c"]]}'
    eq "the replacement worker runs an unlimited job (the dead one's limit lifted)" \
        "$(job_field "$ID" .state) $(out "$ID")" "succeeded 150000000 "
    run_job '{"command":"for i in $(seq 20); do sleep 0.1 & done; wait"}'
    eq "and its pids limit too" "$(job_field "$ID" .state)" succeeded
fi

# kept across a restart: a job waiting in a paused queue
expect 200 PATCH /v1/queues/held '{"paused":true}'
submit '{"command":"ulimit -n","queue":"held","limits":{"nofile":42}}'
HELD=$ID
sp_stop
sp_start --limit-nofile 100 --config "$T/config.json"
expect 200 PATCH /v1/queues/held '{"paused":false}'
wait_job "$HELD" >/dev/null
eq "a queued job keeps its limits across a restart" "$(job_field "$HELD" .state) $(out "$HELD")" "succeeded 42 "
sp_stop

# without --limit-*, an rlimit may not go above the server's own hard limit (root could
# raise it, undoing e.g. systemd's LimitCORE=0)
SP_WRAP="prlimit --core=0:0 --nofile=512:512 --" sp_start
expect_error 400 invalid_argument limits.core POST /v1/jobs '{"command":"true","limits":{"core":1048576}}'
check "the message says why" grep -q "the server's own hard limit" "$T/body"
run_job '{"command":"ulimit -c; ulimit -Hn","limits":{"core":0,"nofile":256}}'
eq "at or below it is fine" "$(out "$ID")" "0 256 "
sp_stop

# a --limit-* or template rlimit above the hard limit a non-root server may not raise would
# fail every job: refused at start instead
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    NOBODY_DIR=$(mktemp -d)
    chown nobody "$NOBODY_DIR"
    HARD=$(ulimit -Hn)
    SP_WRAP="setpriv --reuid nobody --regid nogroup --clear-groups" \
        sp_refused "--limit-nofile over the hard limit, not root" --data-dir "$NOBODY_DIR" --limit-nofile $((HARD + 1))
    check "it says why" grep -q "above this server's hard limit ($HARD), which it may not raise" "$T/refused.err"
    echo "{\"tasks\": {\"big\": {\"argv\": [\"true\"], \"limits\": {\"nofile\": $((HARD + 1))}}}}" >"$NOBODY_DIR/big.json"
    SP_WRAP="setpriv --reuid nobody --regid nogroup --clear-groups" \
        sp_refused "a template's nofile over the hard limit, not root" --data-dir "$NOBODY_DIR" --config "$NOBODY_DIR/big.json"
    check "it names the task" grep -q "task big: its nofile limit" "$T/refused.err"
    rm -rf "$NOBODY_DIR"
fi

# nproc counts the processes of the job's user, and the kernel ignores it for root: with
# --run-as it holds (nobody runs nothing else here)
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && [ -z "$(pgrep -u nobody)" ]; then
    sp_start --run-as nobody
    run_job '{"command":"for i in 1 2 3 4 5 6; do sleep 3 & done; wait","cwd":"/tmp","limits":{"nproc":3}}'
    eq "with --run-as, over its nproc a job cannot fork" "$(job_field "$ID" .state)" failed
    check "and the shell says so" grep -qi "fork" <(curl -s "$BASE/v1/jobs/$ID/output?stream=stderr")
    sp_stop
else
    echo "# SKIP: nproc enforcement needs root, a user nobody and no process of it running"
fi

# refused at start, saying why
sp_refused "--limit-nofile 0" --limit-nofile 0
check "it names the flag and the range" grep -q "limit-nofile must be an integer from 8" "$T/refused.err"
sp_refused "--limit-memory 10" --limit-memory 10
check "it names the flag" grep -q "limit-memory must be a size in bytes" "$T/refused.err"
echo '{"tasks": {"t": {"argv": ["true"], "limits": {"nofiles": 10}}}}' >"$T/bad.json"
sp_refused "a template with an unknown limit" --config "$T/bad.json"
check "it names the task and the key" grep -q "task t: unknown limit 'nofiles'" "$T/refused.err"
