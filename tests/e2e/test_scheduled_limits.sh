#!/usr/bin/env bash
# --max-queued bounds scheduled jobs too (hostile review of issue 13): a job submitted with a
# delay waits outside the queue only until its time, then is queued; had it not counted, a
# client could pass the bound by any number of jobs with "delay": 1, all queued a second
# later.
source "$(dirname "$0")/lib.sh"
sp_start --max-queued 5

body='['
for i in 1 2 3 4 5 6; do
    [ "$i" -gt 1 ] && body+=','
    body+='{"argv": ["true"], "delay": 3600}'
done
body+=']'
expect_error 429 queue_full - POST /v1/jobs "$body"
eq "nothing of it was made" "$(curl -s "$BASE/healthz" | jq -c .jobs)" '{"queued":0,"running":0,"scheduled":0}'
for i in 1 2 3 4 5; do submit '{"argv": ["true"], "delay": 3600}'; done
LAST=$ID
expect_error 429 queue_full - POST /v1/jobs '{"argv": ["true"]}'
expect_error 429 queue_full - POST /v1/jobs '{"argv": ["true"], "delay": 3600}'
expect 200 POST "/v1/jobs/$LAST/terminate"
four_scheduled() { [ "$(curl -s "$BASE/healthz" | jq .jobs.scheduled)" == 4 ]; }
wait_for 60 four_scheduled || fail "healthz does not count 4 scheduled jobs after the terminate"
submit '{"argv": ["true"]}'
eq "a canceled scheduled job frees its place" "$(wait_job "$ID" | jq -r .state)" succeeded
