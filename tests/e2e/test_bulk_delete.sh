#!/usr/bin/env bash
# Bulk delete (issue 13, part 1): DELETE /v1/jobs?filters (those of GET /v1/jobs: state lists,
# queue, name or prefix, before, rerun_of, schedule, created/finished times; or all=1) deletes
# the finished jobs the filter matches, with their events and output, answers
# {"deleted": n, "kept": k}; queued, running and scheduled jobs are untouched (a state list with
# one of them is refused), jobs still needed are kept (a scheduled job's dependency too);
# bad queries are 400 and change nothing; /metrics counts; `spawnpool clean` does the same;
# a large delete goes in slices while the server keeps dispatching; the README's example runs.
source "$(dirname "$0")/lib.sh"
DB=$T/data/spawnpool.db
OUT=$T/data/output
SP=$SPAWNPOOL_BIN
gone() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/jobs/$1")" == 404 ]; }
there() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/jobs/$1")" == 200 ]; }
events_of() { sqlite3 "$DB" "SELECT count(*) FROM job_events WHERE job_id = $1"; }
run_done() { # BODY: submits a job and waits until it ended; sets ID
    submit "$1"
    [ "$(wait_job "$ID" | jq -r .state)" != null ] || fail "job $ID did not end"
}
# deletes QUERY WANT: DELETE /v1/jobs?QUERY answers 200 WANT
deletes() {
    req DELETE "/v1/jobs?$1"
    [ "$STATUS" == 200 ] || fail "DELETE /v1/jobs?$1: status $STATUS: $BODY"
    eq "DELETE /v1/jobs?$1" "$(jq -c . <<<"$BODY")" "$2"
}

sp_start
run_example retention
example_shows '{"max_age":604800,"max_jobs":100000}'
example_shows '{"deleted":3,"kept":0}'
example_shows 'spawnpool_jobs_deleted_total{reason="request"} 3'

# ---- the jobs: two queues, two names, two outcomes; one running, one queued --------------
run_done '{"command": "echo a1", "name": "a", "queue": "q1"}'
A1=$ID
run_done '{"command": "echo a2; exit 1", "name": "a", "queue": "q2"}'
A2=$ID
run_done '{"command": "echo b1", "name": "b", "queue": "q1"}'
B1=$ID
run_done '{"command": "echo b2; exit 1", "name": "b", "queue": "q2"}'
B2=$ID
submit "{\"command\": \"$(hold running)\", \"name\": \"a\", \"queue\": \"q1\"}"
RUNNING=$ID
wait_for 60 state_is "$RUNNING" running || fail "the held job does not run"
curl -s -o /dev/null -X PATCH "$BASE/v1/queues/later" --json '{"paused": true}'
submit '{"argv": ["true"], "name": "a", "queue": "later"}'
QUEUED=$ID
check "a finished job has an output file" test -e "$OUT/$A1.stdout"

# ---- refusals: 400, nothing deleted ------------------------------------------------------
expect_error 400 invalid_argument - DELETE /v1/jobs
expect_error 400 invalid_argument state DELETE '/v1/jobs?state=running'
expect_error 400 invalid_argument state DELETE '/v1/jobs?state=queued'
expect_error 400 invalid_argument state DELETE '/v1/jobs?state=bogus'
expect_error 400 invalid_argument all DELETE '/v1/jobs?all=yes'
expect_error 400 invalid_argument before DELETE '/v1/jobs?before=abc'
expect_error 400 invalid_argument before DELETE '/v1/jobs?before=0'
expect_error 400 invalid_argument limit DELETE '/v1/jobs?all=1&limit=5'
expect_error 400 invalid_argument queue DELETE '/v1/jobs?queue=q1&queue=q2'
expect_error 400 invalid_argument body DELETE '/v1/jobs?all=1&body=1'
for id in "$A1" "$A2" "$B1" "$B2" "$RUNNING" "$QUEUED"; do
    there "$id" || fail "a refused delete deleted job $id"
done
pass "the refused deletes changed nothing"
expect_error 405 method_not_allowed - PUT /v1/jobs
grep -qi '^Allow: .*DELETE' "$T/headers" || fail "405 on /v1/jobs does not allow DELETE: $(cat "$T/headers")"

# ---- each filter ----------------------------------------------------------------------
deletes 'state=failed&queue=q2&name=a' '{"deleted":1,"kept":0}'
check "A2 (failed, q2, a) is gone" gone "$A2"
check "B2 (failed, q2, b) is not" there "$B2"
eq "A2's events are gone" "$(events_of "$A2")" 0
check "A2's output file is gone" test ! -e "$OUT/$A2.stdout"
deletes 'queue=q1' '{"deleted":2,"kept":0}'
check "A1 (q1) is gone" gone "$A1"
check "B1 (q1) is gone" gone "$B1"
eq "the running job of q1 is untouched" "$(job_field "$RUNNING" .state)" running
deletes 'name=a' '{"deleted":0,"kept":0}'
eq "the queued job named a is untouched" "$(job_field "$QUEUED" .state)" queued
deletes "before=$B2" '{"deleted":0,"kept":0}'
deletes "before=$((B2 + 1))" '{"deleted":1,"kept":0}'
check "B2 (below the id) is gone" gone "$B2"
deletes 'state=succeeded' '{"deleted":0,"kept":0}'

# ---- kept while needed -------------------------------------------------------------------
run_done '{"argv": ["echo", "fed"]}'
PRODUCER=$ID
run_done '{"argv": ["true"], "idempotency_key": "bulk-key"}'
KEYED=$ID
run_done '{"argv": ["true"]}'
DEP=$ID
submit "{\"argv\": [\"cat\"], \"stdin_from\": $PRODUCER, \"queue\": \"later\"}"
CONSUMER=$ID
submit "{\"argv\": [\"true\"], \"after\": [$DEP], \"queue\": \"later\"}"
DEPENDENT=$ID
deletes 'all=1' '{"deleted":0,"kept":3}'
for id in "$PRODUCER" "$KEYED" "$DEP"; do check "job $id is kept while needed" there "$id"; done
curl -s -o /dev/null -X PATCH "$BASE/v1/queues/later" --json '{"paused": false}'
eq "the consumer read the kept output" "$(wait_job "$CONSUMER" | jq -r .state)" succeeded
eq "its stdin was the producer's output" "$(curl -s "$BASE/v1/jobs/$CONSUMER/output")" fed
eq "the dependent ran" "$(wait_job "$DEPENDENT" | jq -r .state)" succeeded
wait_job "$QUEUED" >/dev/null
deletes 'all=1' '{"deleted":5,"kept":1}'
for id in "$PRODUCER" "$DEP" "$CONSUMER" "$DEPENDENT" "$QUEUED"; do check "job $id is gone" gone "$id"; done
check "the job with the fresh idempotency key is still kept" there "$KEYED"
eq "the running job is still untouched" "$(job_field "$RUNNING" .state)" running
eq "/metrics counts the deleted jobs" "$(metric 'spawnpool_jobs_deleted_total{reason="request"}')" 12

# ---- the CLI -----------------------------------------------------------------------------
export SPAWNPOOL_URL=$BASE
run_done '{"argv": ["false"], "name": "nightly"}'
N1=$ID
run_done '{"argv": ["false"], "name": "nightly"}'
eq "spawnpool clean --state failed --name nightly" "$("$SP" clean --state failed --name nightly)" "deleted 2 finished jobs"
check "the CLI deleted them" gone "$N1"
run_done '{"argv": ["true"]}'
eq "spawnpool clean --all --json" "$("$SP" clean --all --json | jq -c .)" '{"deleted":1,"kept":1}'
eq "spawnpool clean --before 1 (nothing below)" "$("$SP" clean --before 1)" "deleted 0 finished jobs"
rc=0
"$SP" clean >"$T/out" 2>"$T/err" || rc=$?
eq "spawnpool clean without a filter is a usage error" "$rc" 2
grep -q -- '--all' "$T/err" || fail "spawnpool clean without a filter does not say --all: $(cat "$T/err")"
rc=0
"$SP" clean --state running >"$T/out" 2>"$T/err" || rc=$?
eq "spawnpool clean --state running: the server refuses (3)" "$rc" 3
grep -q 'only finished jobs' "$T/err" || fail "clean --state running: $(cat "$T/err")"

# ---- the other filters of GET /v1/jobs; scheduled jobs ----------------------------------
run_done '{"argv": ["false"], "name": "build-1"}'
F1=$ID
run_done '{"argv": ["true"], "name": "build-2"}'
S2=$ID
run_done '{"argv": ["true"], "name": "other"}'
OTHER=$ID
submit '{"argv": ["true"], "name": "build-3", "run_at": "2099-01-01T00:00:00Z"}'
SCHED=$ID
T0=$(job_field "$SCHED" .created_at)
submit "{\"argv\": [\"true\"], \"name\": \"build-4\", \"after\": [$OTHER], \"delay\": 3600}"
SCHED_DEP=$ID
eq "a job with a run_at to come is scheduled" "$(job_field "$SCHED" .state)" scheduled
expect_error 400 invalid_argument state DELETE '/v1/jobs?state=succeeded,scheduled'
expect_error 400 invalid_argument state DELETE '/v1/jobs?state=failed,queued'
expect_error 400 invalid_argument state DELETE '/v1/jobs?state=scheduled&name=build-*'
expect_error 400 invalid_argument state DELETE '/v1/jobs?state=failed,,succeeded'
expect_error 400 invalid_argument name DELETE '/v1/jobs?name=bu*ild'
expect_error 400 invalid_argument created_after DELETE '/v1/jobs?created_after=yesterday'
expect_error 400 invalid_argument rerun_of DELETE '/v1/jobs?rerun_of=x'
for id in "$F1" "$S2" "$OTHER" "$SCHED" "$SCHED_DEP"; do
    there "$id" || fail "a refused delete deleted job $id"
done
pass "a state list with a state not finished (scheduled, queued) is refused; nothing deleted"
deletes 'state=failed,succeeded&name=build-*' '{"deleted":2,"kept":0}'
check "build-1 (failed) is gone" gone "$F1"
check "build-2 (succeeded) is gone" gone "$S2"
eq "build-3 (scheduled, matching the name) is untouched" "$(job_field "$SCHED" .state)" scheduled
deletes 'all=1' '{"deleted":0,"kept":2}'
eq "the job a scheduled job waits for is kept" "$(job_field "$OTHER" .state)" succeeded
eq "the scheduled jobs are untouched" "$(states "$SCHED" "$SCHED_DEP")" "scheduled,scheduled"
deletes 'schedule=no-such-schedule' '{"deleted":0,"kept":0}'
run_done '{"argv": ["true"], "name": "late"}'
LATE=$ID
req POST "/v1/jobs/$LATE/rerun"
eq "a rerun" "$STATUS" 201
RERUN=$(jq -r .id <<<"$BODY")
wait_job "$RERUN" >/dev/null
deletes "rerun_of=$LATE" '{"deleted":1,"kept":0}'
check "the rerun is gone" gone "$RERUN"
check "the job it reran is not" there "$LATE"
deletes "created_after=$T0&finished_after=$T0" '{"deleted":1,"kept":0}'
check "the job created after the scheduled one is gone" gone "$LATE"
check "the older one (kept while needed) is not" there "$OTHER"
run_done '{"argv": ["false"], "name": "x-1"}'
run_done '{"argv": ["true"], "name": "x-2"}'
eq "spawnpool clean --state failed,succeeded --name 'x-*' --finished-after 1h" \
    "$("$SP" clean --state failed,succeeded --name 'x-*' --finished-after 1h)" "deleted 2 finished jobs"
rc=0
"$SP" clean --state succeeded,scheduled >"$T/out" 2>"$T/err" || rc=$?
eq "spawnpool clean --state succeeded,scheduled: the server refuses (3)" "$rc" 3
rc=0
"$SP" clean --all --limit 5 >"$T/out" 2>"$T/err" || rc=$?
eq "spawnpool clean --limit is a usage error" "$rc" 2
rc=0
"$SP" ls --all >"$T/out" 2>"$T/err" || rc=$?
eq "spawnpool ls --all is a usage error" "$rc" 2
curl -s -o /dev/null -X POST "$BASE/v1/jobs/$SCHED/terminate"
curl -s -o /dev/null -X POST "$BASE/v1/jobs/$SCHED_DEP/terminate"
eq "the scheduled jobs, canceled" "$(states "$SCHED" "$SCHED_DEP")" "canceled,canceled"
deletes 'state=canceled' '{"deleted":2,"kept":0}'

# ---- a large delete, in slices, while jobs are dispatched -------------------------------
BATCH=$(jq -cn '[range(1000) | {argv: ["true"], name: "bulk"}]')
req POST /v1/jobs "$BATCH"
eq "1000 jobs submitted" "$STATUS" 201
LAST=$(jq -r '.jobs[-1].id' <<<"$BODY")
all_ran() { # nothing queued, and only the held job runs
    [ "$(metric 'spawnpool_jobs{state="queued"}')" == 0 ] && [ "$(metric 'spawnpool_jobs{state="running"}')" == 1 ]
}
wait_for 60 all_ran || fail "the 1000 jobs did not run"
curl -s -X DELETE "$BASE/v1/jobs?name=bulk" >"$T/bulk.json" &
BULK=$!
BG_PIDS+=("$BULK")
submit '{"argv": ["echo", "meanwhile"]}' # dispatched while the delete goes on
eq "a job submitted during the delete runs" "$(wait_job "$ID" | jq -r .state)" succeeded
wait "$BULK"
eq "the large delete" "$(jq -c . "$T/bulk.json")" '{"deleted":1000,"kept":0}'
eq "no bulk job is left in the database" "$(sqlite3 "$DB" "SELECT count(*) FROM jobs WHERE name = 'bulk'")" 0
eq "nor their events" "$(sqlite3 "$DB" "SELECT count(*) FROM job_events e LEFT JOIN jobs j ON j.id = e.job_id WHERE j.id IS NULL")" 0
check "the job run meanwhile is there" there "$ID"

release running
wait_job "$RUNNING" >/dev/null
# deleted stays deleted across a restart, and ids are never reused
sp_stop
sp_start
check "a deleted job is still gone after a restart" gone "$A1"
eq "the running job ended and stays" "$(job_field "$RUNNING" .state)" succeeded
submit '{"argv": ["true"]}'
check "ids go on after the deleted ones" test "$ID" -gt "$LAST"
