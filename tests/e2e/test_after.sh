#!/usr/bin/env bash
# Event / join of several: "after" starts a job only when all its dependencies succeeded,
# cancels it (and its own dependents) when one ends otherwise; GET /v1/jobs/wait waits for
# several jobs (all or any). Dependencies survive a restart.
source "$(dirname "$0")/lib.sh"
sp_start
DB="$T/data/spawnpool.db"

# runs after its dependency succeeded
submit "{\"command\":\"$(hold a)\"}"; A=$ID
submit "{\"argv\":[\"true\"],\"after\":[$A]}"; B=$ID
wait_for 60 state_is "$A" running || fail "the dependency never ran"
eq "dependent waits while its dependency runs" "$(job_field "$B" .state)" queued
release a
eq "it ran once the dependency succeeded" "$(wait_job "$B" | jq -r .state)" succeeded
check "it started after the dependency finished" test \
    "$(sqlite3 "$DB" "SELECT started_at FROM jobs WHERE id = $B")" -ge \
    "$(sqlite3 "$DB" "SELECT finished_at FROM jobs WHERE id = $A")"

# the job shows its dependencies: at submit, in GET and in the list (in id order, each once)
submit "{\"argv\":[\"true\"],\"after\":[$B, $A, $B]}"; AB=$ID
eq "after shown at submit" "$(jq -c .after <<<"$BODY")" "[$A,$B]"
eq "after shown by GET" "$(job_field "$AB" '.after | tostring')" "[$A,$B]"
eq "after shown in the list" "$(curl -s "$BASE/v1/jobs?limit=1" | jq -c '.jobs[0].after')" "[$A,$B]"
eq "none: an empty list" "$(job_field "$A" '.after | tostring')" "[]"
req POST /v1/jobs "[{\"argv\":[\"true\"]},{\"argv\":[\"true\"],\"after\":[$A]}]"
eq "after shown in an array's answer" "$(jq -c '[.jobs[].after]' <<<"$BODY")" "[[],[$A]]"

# a failed dependency cancels, and the cancel cascades
submit "{\"command\":\"$(hold f); exit 1\"}"; F=$ID
submit "{\"argv\":[\"true\"],\"after\":[$F]}"; G=$ID
submit "{\"argv\":[\"true\"],\"after\":[$G, $A]}"; H=$ID
eq "dependents wait while it runs" "$(states "$G" "$H")" queued,queued
release f
J=$(wait_job "$G")
eq "dependent of a failed job is canceled" "$(jq -r .state <<<"$J")" canceled
eq "its error names the dependency" "$(jq -r .error <<<"$J")" "dependency $F ended failed"
eq "never started" "$(jq -c '[.started_at,.exit_code]' <<<"$J")" "[null,null]"
J=$(wait_job "$H")
eq "and its own dependent too" "$(jq -c '[.state,.error]' <<<"$J")" "[\"canceled\",\"dependency $G ended canceled\"]"

# submitted after its dependency already failed: canceled at once
req POST /v1/jobs "{\"argv\":[\"true\"],\"after\":[$F]}"
eq "201 even so" "$STATUS" 201
eq "canceled at once, saying why" "$(jq -c '[.state,.error]' <<<"$BODY")" "[\"canceled\",\"dependency $F ended failed\"]"
req POST /v1/jobs "[{\"argv\":[\"true\"],\"after\":[$F]},{\"argv\":[\"true\"],\"after\":[$F]}]"
eq "in an array too" "$(jq -c '[.jobs[].state]' <<<"$BODY")" '["canceled","canceled"]'
eq "the queued count stays right" "$(curl -s "$BASE/healthz" | jq .jobs.queued)" 0

# dependencies must exist when submitted: no cycle can be made
expect_error 400 invalid_argument after POST /v1/jobs '{"argv":["true"],"after":[987654]}'
check "the message says why" jq -e '.error.message | test("no cycle")' <<<"$BODY"
expect_error 400 invalid_argument "[1].after" POST /v1/jobs "[{\"argv\":[\"true\"]},{\"argv\":[\"true\"],\"after\":[$A, 987654]}]"
expect_error 400 invalid_argument after POST /v1/jobs '{"argv":["true"],"after":"1"}'
expect_error 400 invalid_argument after POST /v1/jobs '{"argv":["true"],"after":[0]}'
expect_error 400 invalid_argument after POST /v1/jobs '{"argv":["true"],"after":[1.5]}'

# terminate a job that waits for its dependencies: canceled, and its dependents with it
submit '{"argv":["sleep","300"]}'; LONG=$ID
submit "{\"argv\":[\"true\"],\"after\":[$LONG]}"; WAITING=$ID
submit "{\"argv\":[\"true\"],\"after\":[$WAITING]}"; NEXT=$ID
expect 200 POST "/v1/jobs/$WAITING/terminate"
eq "terminated while waiting: canceled" "$(jq -r .state <<<"$BODY")" canceled
eq "its dependent too" "$(wait_job "$NEXT" | jq -r .state)" canceled

# wait for several: all / any / timeout (each wait is held by the server before the job it
# waits for is let go: long_polls counts it)
wait_for 60 state_is "$LONG" running || fail "job $LONG never ran"
submit "{\"command\":\"$(hold s1)\"}"; S1=$ID
submit "{\"command\":\"$(hold s2)\"}"; S2=$ID
curl -s "$BASE/v1/jobs/wait?ids=$S1,$S2&mode=any&timeout=120" >"$T/any" &
W=$!
wait_for 60 long_polls_are 1 || fail "the wait for any is not held"
release s1
wait "$W"
J=$(cat "$T/any")
eq "any: done" "$(jq -r .done <<<"$J")" true
eq "any: the one let go ended" "$(jq -r '.jobs[0].state' <<<"$J")" succeeded
check "any: the other not yet" jq -e '.jobs[1].state | IN("queued", "running")' <<<"$J"
curl -s "$BASE/v1/jobs/wait?ids=$S1,$S2&timeout=120" >"$T/all" &
W=$!
wait_for 60 long_polls_are 1 || fail "the wait for all is not held"
eq "all: not done while one runs" "$(curl -s "$BASE/v1/jobs/wait?ids=$S1,$S2&timeout=0" | jq -r .done)" false
release s2
wait "$W"
eq "all: both ended" "$(jq -c '[.done, [.jobs[].state]]' "$T/all")" '[true,["succeeded","succeeded"]]'
J=$(curl -s "$BASE/v1/jobs/wait?ids=$S1,$LONG&timeout=0.3")
eq "timeout: not done, jobs as they are" "$(jq -c '[.done, .jobs[0].state, .jobs[1].state]' <<<"$J")" '[false,"succeeded","running"]'
expect_error 404 not_found ids GET "/v1/jobs/wait?ids=$S1,987654"
expect_error 400 invalid_argument ids GET "/v1/jobs/wait"
expect_error 400 invalid_argument ids GET "/v1/jobs/wait?ids=1,x"
expect_error 400 invalid_argument mode GET "/v1/jobs/wait?ids=$S1&mode=some"
expect_error 405 method_not_allowed - POST /v1/jobs/wait '{}'
expect 202 POST "/v1/jobs/$LONG/terminate" '{"grace":0}'
wait_job "$LONG" >/dev/null

# dependencies survive a restart: the dependency ends during the drain, the dependent runs
# after the restart
submit "{\"command\":\"$(hold x)\"}"; X=$ID
submit "{\"argv\":[\"true\"],\"after\":[$X]}"; Y=$ID
wait_for 60 state_is "$X" running || fail "never ran"
sp_drain
release x
sp_exited
eq "dependency finished in the drain" "$(sqlite3 "$DB" "SELECT state FROM jobs WHERE id = $X")" succeeded
eq "dependent still queued" "$(sqlite3 "$DB" "SELECT state FROM jobs WHERE id = $Y")" queued
sp_start
eq "dependent ran after the restart" "$(wait_job "$Y" | jq -r .state)" succeeded

# a chain whose head is lost in a crash: each dependent is canceled once, at the restart
submit '{"argv":["sleep","300"]}'; HEAD=$ID
submit "{\"argv\":[\"true\"],\"after\":[$HEAD]}"; MID=$ID
submit "{\"argv\":[\"true\"],\"after\":[$MID]}"; TAIL=$ID
wait_for 60 state_is "$HEAD" running || fail "never ran"
sp_kill9
sp_start
eq "head lost" "$(job_field "$HEAD" .state)" lost
eq "tail canceled through the chain" "$(job_field "$TAIL" .error)" "dependency $MID ended canceled"
eq "one event per transition" "$(sqlite3 "$DB" "SELECT group_concat(to_state, ',') FROM job_events WHERE job_id = $TAIL")" "queued,canceled"
eq "counts after the restart" "$(curl -s "$BASE/healthz" | jq .jobs.queued)" 0
sp_stop
