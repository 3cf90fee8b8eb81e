#!/usr/bin/env bash
# --default-timeout: a job that gives no timeout gets the server's default, stored with the
# job at submit and shown as its "timeout" (the one that applies); a template's timeout and
# the job's own beat it; a restart with another default leaves submitted jobs as they were.
source "$(dirname "$0")/lib.sh"
cat >"$T/config.json" <<'JSON'
{"tasks": {"plain": {"argv": ["true"]}, "timed": {"argv": ["true"], "timeout": 7}}}
JSON
sp_start --default-timeout 0.5 --config "$T/config.json"

submit '{"argv":["sleep","30"]}'; DEF=$ID
eq "submit shows the default that applies" "$(jq .timeout <<<"$BODY")" 0.5
eq "GET shows it" "$(job_field "$DEF" .timeout)" 0.5
eq "the list shows it" "$(curl -s "$BASE/v1/jobs?limit=1" | jq '.jobs[0].timeout')" 0.5
eq "and it applies" "$(wait_job "$DEF" 20 | jq -r .state)" timed_out
submit '{"argv":["true"],"timeout":null}'
eq "timeout null: the default too" "$(jq .timeout <<<"$BODY")" 0.5
submit '{"argv":["true"],"timeout":30}'
eq "the job's own timeout wins" "$(jq .timeout <<<"$BODY")" 30
submit '{"task":"timed"}'
eq "a template's timeout wins" "$(jq .timeout <<<"$BODY")" 7
submit '{"task":"timed","timeout":null}'
eq "timeout null with a template: the template's" "$(jq .timeout <<<"$BODY")" 7
submit '{"task":"plain"}'
eq "a template without one: the default" "$(jq .timeout <<<"$BODY")" 0.5

# stored with the job: a restart with another default does not change a queued job
expect 200 PATCH /v1/queues/later '{"paused":true}'
submit '{"argv":["sleep","30"],"queue":"later"}'; KEPT=$ID
sp_stop
sp_start --default-timeout 100 --config "$T/config.json"
eq "after a restart with another default: the one it was submitted with" "$(job_field "$KEPT" .timeout)" 0.5
submit '{"argv":["true"]}'
eq "a new job gets the new default" "$(jq .timeout <<<"$BODY")" 100
expect 200 PATCH /v1/queues/later '{"paused":false}'
eq "the stored timeout is the one that applies" "$(wait_job "$KEPT" 20 | jq -r .state)" timed_out
sp_stop

# no default: null
sp_start
submit '{"argv":["true"]}'
eq "no default: null" "$(jq .timeout <<<"$BODY")" null
sp_stop
