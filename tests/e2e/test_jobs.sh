#!/usr/bin/env bash
# Every endpoint and every job state of the core API, against the real binary.
source "$(dirname "$0")/lib.sh"
sp_start

# health and the pool
expect 200 GET /healthz
eq "healthz status" "$(jq -r .status <<<"$BODY")" ok
eq "healthz workers" "$(jq -r .workers.total <<<"$BODY")" 2
wait_for 60 bash -c "curl -s $BASE/v1/workers | jq -e '[.workers[].state] == [\"idle\",\"idle\"]' >/dev/null" ||
    fail "workers never became idle"
expect 200 GET /v1/workers
eq "worker fields" "$(jq -c '.workers[0] | keys' <<<"$BODY")" '["index","job","jobs_done","pid","started_at","state"]'

# succeeded: argv, env, cwd, stdin, name; 201 with Location
req POST /v1/jobs '{"argv":["/bin/sh","-c","echo out:$GREETING; echo err >&2; pwd; cat"],"env":{"GREETING":"hi"},"cwd":"/tmp","stdin":"from-stdin\n","name":"first"}'
eq "submit status" "$STATUS" 201
ID=$(jq -r .id <<<"$BODY")
grep -qi "^Location: /v1/jobs/$ID" "$T/headers" || fail "no Location header"
pass "Location header"
eq "new job state" "$(jq -r .state <<<"$BODY")" queued
J=$(wait_job "$ID")
eq "state succeeded" "$(jq -r .state <<<"$J")" succeeded
eq "exit_code 0" "$(jq -r .exit_code <<<"$J")" 0
eq "signal null" "$(jq -r .signal <<<"$J")" null
eq "attempt 1" "$(jq -r .attempt <<<"$J")" 1
eq "stdout bytes" "$(jq -r .output.stdout_bytes <<<"$J")" 23
check "timestamps are RFC 3339 with ms" jq -e '[.created_at,.started_at,.finished_at] | all(test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"))' <<<"$J"
check "pid and worker set" jq -e '(.pid > 0) and (.worker >= 0)' <<<"$J"
eq "stdout" "$(curl -s "$BASE/v1/jobs/$ID/output")" $'out:hi\n/tmp\nfrom-stdin'
eq "stderr" "$(curl -s "$BASE/v1/jobs/$ID/output?stream=stderr")" "err"
eq "stdout from offset 4" "$(curl -s "$BASE/v1/jobs/$ID/output?offset=4")" $'hi\n/tmp\nfrom-stdin'
eq "offset past the end" "$(curl -s "$BASE/v1/jobs/$ID/output?offset=1000" | wc -c)" 0
FIRST=$ID

# failed: non-zero exit, a signal nobody asked for, exec error
submit '{"command":"exit 3"}'
eq "exit 3 -> failed" "$(wait_job "$ID" | jq -c '[.state,.exit_code,.signal]')" '["failed",3,null]'
submit '{"argv":["/bin/sh","-c","kill -SEGV $$"]}'
eq "SIGSEGV -> failed with signal 11" "$(wait_job "$ID" | jq -c '[.state,.exit_code,.signal]')" '["failed",null,11]'
submit '{"argv":["/no/such/program"]}'
J=$(wait_job "$ID")
eq "exec error -> failed 127" "$(jq -c '[.state,.exit_code]' <<<"$J")" '["failed",127]'
check "exec error names the cause" jq -e '.error | test("No such file")' <<<"$J"
submit '{"argv":["no-such-program-in-path"]}'
eq "PATH lookup failure -> 127" "$(wait_job "$ID" | jq -r .exit_code)" 127

# timed_out
submit '{"argv":["sleep","300"],"timeout":0.3}'
J=$(wait_job "$ID")
eq "timeout -> timed_out by SIGTERM" "$(jq -c '[.state,.exit_code,.signal]' <<<"$J")" '["timed_out",null,15]'

# terminated: running job, 202, then the signal that ended it
submit '{"argv":["sleep","300"]}'
RUNNING=$ID
wait_for 60 state_is "$RUNNING" running || fail "job never ran"
expect 202 POST "/v1/jobs/$RUNNING/terminate" '{"signal":"SIGINT","grace":5}'
eq "terminate answers the job" "$(jq -r .id <<<"$BODY")" "$RUNNING"
eq "terminated by SIGINT" "$(wait_job "$RUNNING" | jq -c '[.state,.signal]')" '["terminated",2]'
expect_error 409 conflict - POST "/v1/jobs/$RUNNING/terminate"

# a TERM-ignoring job is SIGKILLed after the grace
submit '{"argv":["/bin/sh","-c","trap \"\" TERM; echo ready; while :; do sleep 0.05; done"]}'
STUBBORN=$ID
wait_for 60 bash -c "[ \"\$(curl -s '$BASE/v1/jobs/$STUBBORN/output')\" == ready ]" || fail "never ready"
expect 202 POST "/v1/jobs/$STUBBORN/terminate" '{"grace":0.2}'
eq "SIGKILL after grace" "$(wait_job "$STUBBORN" | jq -c '[.state,.signal]')" '["terminated",9]'

# canceled: terminate a queued job (both workers busy)
submit '{"argv":["sleep","300"]}'; B1=$ID
submit '{"argv":["sleep","300"]}'; B2=$ID
submit '{"argv":["true"]}'; Q=$ID
wait_for 60 states_are running,running "$B1" "$B2" || fail "blockers not running"
eq "third job waits" "$(job_field "$Q" .state)" queued
expect 200 POST "/v1/jobs/$Q/terminate"
eq "queued -> canceled" "$(jq -c '[.state,.exit_code,.signal,.started_at]' <<<"$BODY")" '["canceled",null,null,null]'
expect_error 409 conflict - DELETE "/v1/jobs/$B1"
expect 202 POST "/v1/jobs/$B1/terminate" '{"grace":0}'
expect 202 POST "/v1/jobs/$B2/terminate"
wait_job "$B1" >/dev/null
wait_job "$B2" >/dev/null

# array submit: all or nothing
req POST /v1/jobs '[{"argv":["true"],"name":"batch"},{"argv":["false"],"name":"batch"}]'
eq "array submit" "$STATUS" 201
eq "array returns both" "$(jq '.jobs | length' <<<"$BODY")" 2
A1=$(jq -r '.jobs[0].id' <<<"$BODY")
A2=$(jq -r '.jobs[1].id' <<<"$BODY")
eq "ids in order" "$((A2 - A1))" 1
wait_job "$A1" >/dev/null
wait_job "$A2" >/dev/null
BEFORE=$(curl -s "$BASE/v1/jobs?limit=1" | jq -r '.jobs[0].id')
expect_error 400 invalid_argument "[1].argv" POST /v1/jobs '[{"argv":["true"]},{"argv":[]}]'
eq "nothing of a bad array was stored" "$(curl -s "$BASE/v1/jobs?limit=1" | jq -r '.jobs[0].id')" "$BEFORE"

# list: newest first, filters, paging
expect 200 GET "/v1/jobs?name=batch"
eq "filter by name" "$(jq -c '[.jobs[].id]' <<<"$BODY")" "[$A2,$A1]"
eq "next_before null at the end" "$(jq -r .next_before <<<"$BODY")" null
expect 200 GET "/v1/jobs?state=canceled"
eq "filter by state" "$(jq -c '[.jobs[].id]' <<<"$BODY")" "[$Q]"
expect 200 GET "/v1/jobs?queue=default&limit=2"
eq "limit 2" "$(jq '.jobs | length' <<<"$BODY")" 2
NEXT=$(jq -r .next_before <<<"$BODY")
eq "next_before is the last id shown" "$NEXT" "$(jq -r '.jobs[1].id' <<<"$BODY")"
expect 200 GET "/v1/jobs?before=$NEXT&limit=1000"
check "paging continues below" jq -e --argjson n "$NEXT" 'all(.jobs[]; .id < $n) and (.jobs | length > 0)' <<<"$BODY"
eq "all jobs, newest first" "$(jq -c '[.jobs[].id] | . == (sort | reverse)' <<<"$BODY")" true
expect 200 GET "/v1/jobs?queue=nosuchqueue"
eq "empty list" "$(jq -c . <<<"$BODY")" '{"jobs":[],"next_before":null}'

# priority: higher first, FIFO among equals (one worker busy, one free)
# (covered with a single worker in test_priority.sh)

# delete: a finished job and its output are forgotten
expect 204 DELETE "/v1/jobs/$FIRST"
expect_error 404 not_found - GET "/v1/jobs/$FIRST"
expect_error 404 not_found - GET "/v1/jobs/$FIRST/output"
expect_error 404 not_found - DELETE "/v1/jobs/$FIRST"
check "output files removed" test ! -e "$T/data/output/$FIRST.stdout"

# metrics
expect 200 GET /metrics
grep -q '^spawnpool_jobs{state="succeeded"} [1-9]' "$T/body" || fail "metrics: jobs by state"
grep -q '^spawnpool_jobs_submitted_total [1-9]' "$T/body" || fail "metrics: submitted"
grep -q '^spawnpool_jobs_finished_total{state="failed"} [1-9]' "$T/body" || fail "metrics: finished"
grep -q '^spawnpool_workers{state="idle"} 2' "$T/body" || fail "metrics: workers idle"
grep -q '^spawnpool_dispatch_latency_seconds_count [1-9]' "$T/body" || fail "metrics: latency histogram"
grep -q '^spawnpool_dispatch_latency_seconds_bucket{le="+Inf"}' "$T/body" || fail "metrics: +Inf bucket"
pass "metrics in Prometheus text"

# events: every transition recorded in SQLite
EVENTS=$(sqlite3 "$T/data/spawnpool.db" "SELECT group_concat(coalesce(from_state,'-') || '>' || to_state, ' ') FROM job_events WHERE job_id = $RUNNING")
eq "job_events of a terminated job" "$EVENTS" "->queued queued>running running>terminated"

# an output file that cannot be opened is the server's error (500), not an empty answer
submit '{"argv": ["echo", "out"]}'
eq "a job with output" "$(wait_job "$ID" | jq -r .state)" succeeded
OUT_FILE="$T/data/output/$ID.stdout"
check "its capture file is where the server keeps it" test -f "$OUT_FILE"
rm "$OUT_FILE" && ln -s "$(basename "$OUT_FILE")" "$OUT_FILE" # a link to itself: ELOOP
expect_error 500 internal - GET "/v1/jobs/$ID/output"
sp_stop
