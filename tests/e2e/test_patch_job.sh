#!/usr/bin/env bash
# PATCH /v1/jobs/{id} (issue 13, part 3): a queued job's priority and queue change where it
# waits; a job a worker holds, runs or ran is a 409; the change is stored (a restart keeps it).
source "$(dirname "$0")/lib.sh"
WORKERS=1 sp_start
LOG=$T/order.log
expect 200 PATCH /v1/queues/held '{"paused": true}'
job() { # NAME: a job of the paused queue that appends its name to the log
    submit "$(jq -nc --arg n "$1" --arg log "$LOG" '{argv: ["sh", "-c", "echo $0 >>\"$1\"", $n, $log], queue: "held", name: $n}')"
}
job a; A=$ID
job b; B=$ID
job c; C=$ID
req PATCH "/v1/jobs/$C" '{"priority": 10}'
eq "PATCH priority: 200" "$STATUS" 200
eq "... the job as it is now" "$(jq -c '[.id, .priority, .state]' <<<"$BODY")" "[$C,10,\"queued\"]"
req PATCH "/v1/jobs/$B" '{"queue": "open"}'
eq "PATCH queue: 200" "$STATUS" 200
# (the answer reads the job after the commit: in an open queue it may have started already)
eq "... and the job says so" "$(jq -r '.queue' <<<"$BODY")" open
eq "moved out of the paused queue, it runs" "$(wait_job "$B" | jq -r .state)" succeeded
eq "... while the others still wait" "$(states "$A" "$C")" "queued,queued"
expect 200 PATCH /v1/queues/held '{"paused": false}'
wait_job "$A" >/dev/null
wait_job "$C" >/dev/null
eq "the raised one ran first, then the rest in order" "$(paste -sd, "$LOG")" "b,c,a"
# kept across a restart
sp_stop
WORKERS=1 sp_start
eq "the new priority and queue survive a restart" "$(job_field "$C" .priority),$(job_field "$B" .queue)" "10,open"

# what cannot change
expect_error 409 conflict - PATCH "/v1/jobs/$A" '{"priority": 1}'
submit '{"argv": ["sleep", "30"]}'
S=$ID
wait_for 60 pid_known "$S" || fail "the sleeper never ran"
expect_error 409 conflict - PATCH "/v1/jobs/$S" '{"priority": 1}'
curl -s -o /dev/null -X POST "$BASE/v1/jobs/$S/terminate"
expect_error 404 not_found id PATCH /v1/jobs/999999 '{"priority": 1}'
expect_error 400 invalid_argument priority PATCH "/v1/jobs/$A" '{"priority": "high"}'
expect_error 400 invalid_argument queue PATCH "/v1/jobs/$A" '{"queue": "no spaces"}'
expect_error 400 invalid_argument nice PATCH "/v1/jobs/$A" '{"nice": 1}'
expect_error 400 invalid_argument - PATCH "/v1/jobs/$A" '{}'
expect_error 400 invalid_json - PATCH "/v1/jobs/$A" '{"priority":'
sp_stop
