#!/usr/bin/env bash
# Rerun (issue 13, part 3): POST /v1/jobs/{id}/rerun makes a new job with the same spec that
# says rerun_of; its idempotency key is not copied; a group member is refused; the CLI's
# `spawnpool rerun`. Survives a restart (rerun_of is a column).
source "$(dirname "$0")/lib.sh"
sp_start
submit '{"command": "echo run-$SPAWNPOOL_JOB_ID-$A; cat", "stdin": "in!", "name": "r1",
         "queue": "q1", "priority": 3, "env": {"A": "x"}, "timeout": 60, "max_attempts": 2,
         "idempotency_key": "first-key"}'
FIRST=$ID
eq "the first job ran" "$(wait_job "$FIRST" | jq -r .state)" succeeded
req POST "/v1/jobs/$FIRST/rerun"
eq "rerun: 201" "$STATUS" 201
R=$(jq -r .id <<<"$BODY")
eq "rerun: Location of the new job" "$(grep -i '^Location:' "$T/headers" | tr -d '\r' | awk '{print $2}')" "/v1/jobs/$R"
eq "rerun: a new id, that says rerun_of" "$(jq -c '[.id > '"$FIRST"', .rerun_of]' <<<"$BODY")" "[true,$FIRST]"
eq "rerun: done" "$(wait_job "$R" | jq -r .state)" succeeded
eq "rerun: the same spec" \
    "$(job_field "$R" '[.name, .queue, .priority, .command, .env, .timeout, .max_attempts, .cwd] | tostring')" \
    "$(job_field "$FIRST" '[.name, .queue, .priority, .command, .env, .timeout, .max_attempts, .cwd] | tostring')"
eq "rerun: the same stdin, run as itself" "$(curl -s "$BASE/v1/jobs/$R/output")" "run-$R-x"$'\n'"in!"
eq "rerun: not the idempotency key (that names the first job)" "$(job_field "$R" .idempotency_key)" null
eq "the first job has no rerun_of" "$(job_field "$FIRST" '.rerun_of // "none"')" none
expect 201 POST "/v1/jobs/$FIRST/rerun" '{}'
expect_error 400 invalid_argument - POST "/v1/jobs/$FIRST/rerun" '{"priority": 9}'
expect_error 404 not_found id POST /v1/jobs/999999/rerun
expect_error 405 method_not_allowed - GET "/v1/jobs/$FIRST/rerun"
# a rerun of a running job is a second job beside it
submit '{"argv": ["sleep", "30"]}'
SLEEPER=$ID
req POST "/v1/jobs/$SLEEPER/rerun"
eq "a running job can be rerun too" "$STATUS" 201
R2=$(jq -r .id <<<"$BODY")
curl -s -o /dev/null -X POST "$BASE/v1/jobs/$SLEEPER/terminate"
curl -s -o /dev/null -X POST "$BASE/v1/jobs/$R2/terminate"
# a group member alone would wait for the others forever
submit '{"argv": ["true"], "group": "g", "group_size": 2}'
G1=$ID
submit '{"argv": ["true"], "group": "g", "group_size": 2}'
wait_job "$G1" >/dev/null
expect_error 409 conflict - POST "/v1/jobs/$G1/rerun"

# a rerun runs now, and is no schedule's run: run_at and schedule are not copied
submit '{"argv": ["true"], "run_at": "2031-01-01T00:00:00Z"}'
LATER=$ID
expect 201 POST "/v1/jobs/$LATER/rerun"
eq "a rerun of a scheduled job runs now" "$(jq -c '[.run_at, .rerun_of]' <<<"$BODY")" "[null,$LATER]"
eq "... and is queued (or already ran)" "$(wait_job "$(jq -r .id <<<"$BODY")" | jq -r .state)" succeeded

# the client
RC=$("$SPAWNPOOL_BIN" rerun "$FIRST" --server "$BASE")
[[ $RC =~ ^[0-9]+$ ]] || fail "spawnpool rerun printed '$RC'"
eq "spawnpool rerun: the new job says rerun_of" "$(job_field "$RC" .rerun_of)" "$FIRST"
rc=0
"$SPAWNPOOL_BIN" rerun 999999 --server "$BASE" 2>/dev/null || rc=$?
eq "spawnpool rerun of no job: exit 4" "$rc" 4

# kept across a restart
sp_stop
sp_start
eq "rerun_of survives a restart" "$(job_field "$R" .rerun_of)" "$FIRST"

# the README's example, as written
run_example rerun
example_shows '{"name":"nightly","rerun_of":'
example_shows '{"priority":5,"queue":"default"}'
sp_stop
