#!/usr/bin/env bash
# A terminate outlives a crash: a job asked to terminate that has not ended when the server
# dies (kill -9 within its grace; it ignores SIGTERM) is not run again by the restart's
# recovery, though it has attempts left: it ends terminated, saying why. (With several nodes
# the same holds for a node declared dead: test_cluster.sh.)
source "$(dirname "$0")/lib.sh"
WORKERS=1

sp_start
MARK="sp-term-recovery-$$-$RANDOM"
submit "{\"command\": \"trap '' TERM; echo ready; exec sleep 300 # $MARK\", \"max_attempts\": 3}"
JOB=$ID
ready() { [ "$(curl -s "$BASE/v1/jobs/$JOB/output")" == ready ]; }
wait_for 60 ready || fail "the job did not start: $(job_field "$JOB" .state)"
expect 202 POST "/v1/jobs/$JOB/terminate" '{"signal": "TERM", "grace": 600}'
eq "it ignores SIGTERM: still running within its grace" "$(job_field "$JOB" .state)" running
JOB_PID=$(job_field "$JOB" .pid)
# the terminate is in the store before the crash (its batch committed before the 202)
sp_kill9
wait_for 60 bash -c "! kill -0 $JOB_PID 2>/dev/null" || fail "job process $JOB_PID outlived the master"

sp_start
J=$(curl -s "$BASE/v1/jobs/$JOB")
eq "after the restart it ended terminated, not queued for another attempt" \
    "$(jq -r '[.state, .attempt] | @csv' <<<"$J")" '"terminated",1'
check "saying why: $(jq -r .error <<<"$J")" jq -e '.error | test("terminate was asked")' <<<"$J"
eq "its events" "$(sqlite3 "$T/data/spawnpool.db" "SELECT group_concat(to_state, ',') FROM (SELECT to_state FROM job_events WHERE job_id = $JOB ORDER BY id) AS e")" \
    "queued,running,terminated"
no_mark() { ! pgrep -f "$MARK" >/dev/null; }
wait_for 60 no_mark || fail "a process of the job is left: $(pgrep -af "$MARK")"
pass "no process of it is left"
submit '{"argv": ["true"]}'
eq "the server works after the recovery" "$(wait_job "$ID" | jq -r .state)" succeeded
sp_stop
