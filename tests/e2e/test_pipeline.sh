#!/usr/bin/env bash
# Pipe: "pipeline" runs stages joined by real pipes, with no shell; the job's exit code is
# the last stage's; the whole pipeline is one tree for terminate and timeout.
source "$(dirname "$0")/lib.sh"
sp_start
submit '{"pipeline":[["seq","10"],["awk","{print $1*$1}"],["tail","-n","3"]]}'; P=$ID
eq "shown whole" "$(jq -c '[.argv, (.pipeline | length)]' <<<"$BODY")" '[["seq","10"],3]'
J=$(wait_job "$P")
eq "three stages succeeded" "$(jq -c '[.state,.exit_code]' <<<"$J")" '["succeeded",0]'
eq "the data went through every pipe" "$(curl -s "$BASE/v1/jobs/$P/output")" $'64\n81\n100'
submit '{"pipeline":[["/bin/sh","-c","echo x; exit 0"],["/bin/sh","-c","cat >/dev/null; exit 3"]]}'
eq "the exit code is the last stage's" "$(wait_job "$ID" | jq -c '[.state,.exit_code]')" '["failed",3]'
submit '{"pipeline":[["/bin/sh","-c","echo to-stderr >&2"],["cat"]]}'
wait_job "$ID" >/dev/null
eq "every stage's stderr is captured" "$(curl -s "$BASE/v1/jobs/$ID/output?stream=stderr")" to-stderr
submit '{"pipeline":[["sleep","300"],["sleep","300"]],"timeout":0.3}'; T1=$ID
eq "a timeout ends the whole pipeline" "$(wait_job "$T1" | jq -r .state)" timed_out
submit '{"pipeline":[["sleep","300"],["cat"]]}'; T2=$ID
wait_for 60 pid_known "$T2" || fail "no pid"
PGID=$(job_field "$T2" .pid)
expect 202 POST "/v1/jobs/$T2/terminate" '{"grace":0.2}'
eq "terminate ends it" "$(wait_job "$T2" | jq -r .state)" terminated
wait_for 60 bash -c "! pgrep -g $PGID >/dev/null" || fail "stages of job $T2 survived"
pass "no stage survives"
submit '{"pipeline":[["no-such-program"],["cat"]]}'
eq "a missing stage program: failed 127 before anything starts" "$(wait_job "$ID" | jq -c '[.state,.exit_code]')" '["failed",127]'
expect_error 400 invalid_argument pipeline POST /v1/jobs '{"pipeline":[["echo"]]}'
expect_error 400 invalid_argument pipeline POST /v1/jobs '{"pipeline":[["echo"],[]]}'
expect_error 400 invalid_argument pipeline POST /v1/jobs '{"pipeline":[["echo"],[""]]}'
expect_error 400 invalid_argument pipeline POST /v1/jobs '{"pipeline":[["echo"],"cat"]}'
expect_error 400 invalid_argument pipeline POST /v1/jobs '{"pipeline":[["echo"],["cat"]],"argv":["true"]}'
expect_error 400 invalid_argument pipeline POST /v1/jobs '{"pipeline":[["echo"],["cat"]],"command":"true"}'
sp_stop
