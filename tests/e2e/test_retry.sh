#!/usr/bin/env bash
# max_attempts: a job that ends failed, timed_out or lost is queued again with exponential
# backoff until its attempts are used; attempt counts; job_events shows every attempt.
source "$(dirname "$0")/lib.sh"
sp_start --retry-backoff 0.2 --retry-backoff-max 0.4

# fails every time: 3 attempts, then failed
submit '{"argv":["/bin/sh","-c","echo try; exit 4"],"max_attempts":3}'; F=$ID
J=$(wait_job "$F")
eq "failed after its attempts" "$(jq -c '[.state,.exit_code,.attempt,.max_attempts]' <<<"$J")" '["failed",4,3,3]'
DB="$T/data/spawnpool.db"
eq "events show every attempt" \
    "$(sqlite3 "$DB" "SELECT group_concat(to_state, ',') FROM (SELECT to_state FROM job_events WHERE job_id = $F ORDER BY id) AS x")" \
    "queued,running,queued,running,queued,running,failed"
check "retry events say why" bash -c "sqlite3 '$DB' \"SELECT detail FROM job_events WHERE job_id = $F AND from_state = 'running' AND to_state = 'queued'\" | grep -q 'attempt 1 of 3 ended failed: exit code 4; retry in 0.2s'"
# backoff: the gaps between an attempt's end and the next start are at least 0.2 s, then 0.4 s
GAPS=$(sqlite3 "$DB" "SELECT group_concat(gap, ',') FROM (SELECT (SELECT min(r.at) FROM job_events r WHERE r.job_id = q.job_id AND r.to_state = 'running' AND r.id > q.id) - q.at AS gap FROM job_events q WHERE q.job_id = $F AND q.from_state = 'running' AND q.to_state = 'queued' ORDER BY q.id) AS x")
IFS=, read -r G1 G2 <<<"$GAPS"
check "first retry waited its backoff (${G1} ms >= 200)" test "$G1" -ge 200
check "second retry waited double, capped (${G2} ms >= 400)" test "$G2" -ge 400

# succeeds on the second attempt (a marker file tells the attempts apart)
submit "{\"argv\":[\"/bin/sh\",\"-c\",\"[ -e $T/marker ] && exit 0; touch $T/marker; exit 1\"],\"max_attempts\":5}"
eq "succeeded on attempt 2" "$(wait_job "$ID" | jq -c '[.state,.attempt]')" '["succeeded",2]'

# timed_out is retried too; a terminate is never retried
submit '{"argv":["sleep","5"],"timeout":0.2,"max_attempts":2}'
eq "timed_out twice" "$(wait_job "$ID" | jq -c '[.state,.attempt]')" '["timed_out",2]'
submit '{"argv":["sleep","300"],"max_attempts":3}'; K=$ID
wait_for 60 state_is "$K" running || fail "never ran"
expect 202 POST "/v1/jobs/$K/terminate"
eq "terminated, not retried" "$(wait_job "$K" | jq -c '[.state,.attempt]')" '["terminated",1]'

# lost (worker killed) is retried while attempts remain
submit '{"argv":["sleep","300"],"max_attempts":3}'; L=$ID
wait_for 60 pid_known "$L" || fail "no pid"
kill -KILL "$(curl -s "$BASE/v1/workers" | jq -r ".workers[$(job_field "$L" .worker)].pid")"
running_attempt() { [ "$(job_field "$L" '[.state, .attempt] | join(" ")')" == "running $1" ]; }
wait_for 60 running_attempt 2 ||
    fail "lost job not retried: $(curl -s "$BASE/v1/jobs/$L")"
pass "lost job is running its second attempt"

# a job running when the master dies is queued again on restart while attempts remain
sp_kill9
sp_start --retry-backoff 0.2
wait_for 60 running_attempt 3 ||
    fail "not re-queued after the crash: $(curl -s "$BASE/v1/jobs/$L")"
pass "re-queued after the crash and running its third attempt"
check "recovery recorded" bash -c "sqlite3 '$DB' \"SELECT detail FROM job_events WHERE job_id = $L\" | grep -q 'the server stopped; retry'"
expect 202 POST "/v1/jobs/$L/terminate" '{"grace":0}'
wait_job "$L" >/dev/null
sp_stop
