#!/usr/bin/env bash
# Persistence: exit codes and signals survive a restart; a job running when the master was
# killed is lost (and its process gone); queued jobs run after a restart.
source "$(dirname "$0")/lib.sh"
WORKERS=1

sp_start --shutdown-grace 0.2
submit '{"command":"exit 7","name":"seven"}'; SEVEN=$ID
submit '{"argv":["/bin/sh","-c","kill -TERM $$"]}'; SIGNALED=$ID
wait_job "$SIGNALED" >/dev/null
eq "exit code before restart" "$(job_field "$SEVEN" .exit_code)" 7

# a drain with a running job and a queued one: the running one is terminated after the
# shutdown grace, the queued one stays queued
submit '{"argv":["sleep","300"]}'; BLOCKER=$ID
submit '{"argv":["/bin/sh","-c","echo ran after restart"]}'; QUEUED=$ID
wait_for 60 state_is "$BLOCKER" running || fail "blocker never ran"
sp_stop
eq "drained job recorded terminated" \
    "$(sqlite3 "$T/data/spawnpool.db" "SELECT state || ',' || signal FROM jobs WHERE id = $BLOCKER")" "terminated,15"
eq "queued job still queued on disk" \
    "$(sqlite3 "$T/data/spawnpool.db" "SELECT state FROM jobs WHERE id = $QUEUED")" queued

sp_start
# one server per data dir: a second one is refused and leaves the first alone
RC=0
"$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/data" >"$T/second.out" 2>"$T/second.err" || RC=$?
check "a second server on the same data dir is refused (exit $RC)" test "$RC" -ne 0
check "it says why" grep -q "in use by another spawnpool server" "$T/second.err"
expect 200 GET /healthz
eq "exit code after restart" "$(job_field "$SEVEN" '[.state,.exit_code,.signal]|@csv')" '"failed",7,'
eq "signal after restart" "$(job_field "$SIGNALED" '[.state,.exit_code,.signal]|@csv')" '"failed",,15'
eq "queued job ran after restart" "$(wait_job "$QUEUED" | jq -r .state)" succeeded
eq "its output" "$(curl -s "$BASE/v1/jobs/$QUEUED/output")" "ran after restart"

# kill -9 of the master while a job runs
submit '{"argv":["sleep","300"]}'; VICTIM=$ID
wait_for 60 pid_known "$VICTIM" || fail "no pid"
JOB_PID=$(job_field "$VICTIM" .pid)
kill -0 "$JOB_PID" || fail "job process $JOB_PID is not running"
sp_kill9
wait_for 60 bash -c "! kill -0 $JOB_PID 2>/dev/null" || fail "job process $JOB_PID outlived the master"
pass "the job's process died with the master"
sp_start
J=$(curl -s "$BASE/v1/jobs/$VICTIM")
eq "running job is lost after a crash" "$(jq -r .state <<<"$J")" lost
check "lost job says why" jq -e '.error | test("server stopped")' <<<"$J"
eq "lost has no exit code or signal" "$(jq -c '[.exit_code,.signal]' <<<"$J")" "[null,null]"
eq "events of the lost job" "$(sqlite3 "$T/data/spawnpool.db" "SELECT group_concat(to_state, ',') FROM job_events WHERE job_id = $VICTIM")" "queued,running,lost"
submit '{"argv":["true"]}'
check "ids are never reused" test "$ID" -gt "$VICTIM"
eq "server works after recovery" "$(wait_job "$ID" | jq -r .state)" succeeded
sp_stop
