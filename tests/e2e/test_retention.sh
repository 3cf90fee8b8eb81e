#!/usr/bin/env bash
# Retention (issue 13, part 1): --retain-jobs keeps the newest finished jobs and --retain
# deletes those older than an age, each with its events and output files, while jobs run;
# queued, running and scheduled jobs are never touched; a job that a job not ended yet (a
# scheduled one too) waits for (after, stdin_from) or whose idempotency key is in its 24 h
# window is kept until that no longer matters; /metrics counts the deletions; the settings
# come from flags, the config file (kept across a restart) and a SIGHUP reload. Waits on what
# the server reports, never a sleep.
source "$(dirname "$0")/lib.sh"
DB=$T/data/spawnpool.db
OUT=$T/data/output
deleted_by_retention() { [ "$(metric 'spawnpool_jobs_deleted_total{reason="retention"}')" == "$1" ]; }
gone() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/jobs/$1")" == 404 ]; }
events_of() { sqlite3 "$DB" "SELECT count(*) FROM job_events WHERE job_id = $1"; }
# run_done BODY: submits a job and waits until it ended (or ended and retention deleted it
# already: a job beyond --retain-jobs may be gone by the time the wait reads it); sets ID
run_done() {
    submit "$1"
    local got
    got=$(wait_job "$ID" | jq -r '.state // .error.code')
    [ "$got" != null ] && [ "$got" != queued ] && [ "$got" != running ] || fail "job $ID did not end: $got"
}

# ---- count: --retain-jobs 3, while jobs run and wait ------------------------------------
sp_start --retain off --retain-jobs 3
eq "healthz: the retention in force" "$(curl -s "$BASE/healthz" | jq -c .retention)" '{"max_age":null,"max_jobs":3}'
submit "{\"command\": \"$(hold running)\"}"
RUNNING=$ID
wait_for 60 state_is "$RUNNING" running || fail "the held job does not run"
curl -s -o /dev/null -X PATCH "$BASE/v1/queues/later" --json '{"paused": true}'
submit '{"argv": ["true"], "queue": "later"}'
QUEUED=$ID
OLD=()
for i in 1 2 3 4 5 6; do # one after the other: they finish in id order
    run_done "{\"command\": \"echo out-$i; echo err-$i >&2\"}"
    OLD+=("$ID")
done
wait_for 60 deleted_by_retention 3 || fail "retention did not delete 3 jobs: $(metric 'spawnpool_jobs_deleted_total{reason="retention"}')"
pass "retention deleted the 3 oldest finished jobs beyond --retain-jobs 3"
for id in "${OLD[@]:0:3}"; do
    check "job $id (one of the oldest) is gone" gone "$id"
    check "job $id: its stdout file is gone" test ! -e "$OUT/$id.stdout"
    check "job $id: its stderr file is gone" test ! -e "$OUT/$id.stderr"
    eq "job $id: its events are gone" "$(events_of "$id")" 0
done
for id in "${OLD[@]:3:3}"; do
    eq "job $id (among the 3 newest) is kept" "$(job_field "$id" .state)" succeeded
    eq "job $id: its output is kept" "$(curl -s "$BASE/v1/jobs/$id/output")" "out-$((id - OLD[0] + 1))"
done
eq "the running job is untouched" "$(job_field "$RUNNING" .state)" running
eq "the queued job is untouched" "$(job_field "$QUEUED" .state)" queued
eq "jobs{state=succeeded} counts what is left" "$(metric 'spawnpool_jobs{state="succeeded"}')" 3

# ---- kept while needed: after, stdin_from, idempotency key -------------------------------
# the jobs needed end only once the jobs that need them exist: a finished job nobody needs
# yet may go at once (beyond --retain-jobs 3), and a dependent of a deleted job is refused
run_done '{"argv": ["true"], "idempotency_key": "retention-key"}'
KEYED=$ID
submit '{"command": "'"$(hold prod)"'; echo fed", "queue": "held"}'
PRODUCER=$ID
submit '{"command": "'"$(hold dep)"'", "queue": "held"}'
DEP=$ID
submit '{"command": "'"$(hold sdep)"'", "queue": "held"}'
SDEP=$ID
submit "{\"argv\": [\"true\"], \"after\": [$SDEP], \"run_at\": \"2099-01-01T00:00:00Z\"}"
SCHEDULED=$ID
eq "a job to run in 2099 after it is scheduled" "$(job_field "$SCHEDULED" .state)" scheduled
# (they say what they did in files: once ended, retention may delete them at once)
submit "{\"command\": \"cat >$T/consumed\", \"stdin_from\": $PRODUCER, \"queue\": \"later\"}"
CONSUMER=$ID
submit "{\"argv\": [\"touch\", \"$T/dependent-ran\"], \"after\": [$DEP], \"queue\": \"later\"}"
DEPENDENT=$ID
release prod
release dep
release sdep
for id in "$PRODUCER" "$DEP" "$SDEP"; do
    wait_for 60 state_is "$id" succeeded || fail "held job $id did not end: $(job_field "$id" .state)"
done
for i in 1 2 3 4; do run_done '{"argv": ["true"]}'; done
LAST=$ID
# jobs kept because they are needed count among the 3: the others go, the newest too
wait_for 60 gone "$LAST" || fail "retention did not go on past the jobs it keeps"
for id in "$PRODUCER" "$DEP" "$KEYED" "$SDEP"; do
    eq "job $id is kept while needed, though older than the others" "$(job_field "$id" .state)" succeeded
done
eq "its output too (the consumer will read it)" "$(curl -s "$BASE/v1/jobs/$PRODUCER/output")" fed
# the dependents run: then the producer and the dependency are free to go
curl -s -o /dev/null -X PATCH "$BASE/v1/queues/later" --json '{"paused": false}'
consumed() { [ "$(cat "$T/consumed" 2>/dev/null)" == fed ]; }
wait_for 60 consumed || fail "the consumer did not read the kept producer's output"
pass "the consumer's stdin was the kept producer's output"
wait_for 60 test -e "$T/dependent-ran" || fail "the dependent of the kept dependency did not run"
pass "the dependent ran after its kept dependency"
wait_for 60 gone "$PRODUCER" || fail "the producer was kept after its consumer ended"
wait_for 60 gone "$DEP" || fail "the dependency was kept after its dependent ended"
pass "a dependency and a stdin_from producer go once the jobs that need them ended"
eq "the scheduled job is untouched" "$(job_field "$SCHEDULED" .state)" scheduled
eq "the job it waits for is still kept" "$(job_field "$SDEP" .state)" succeeded
req POST "/v1/jobs/$SCHEDULED/terminate"
eq "the scheduled job is canceled" "$(jq -r .state <<<"$BODY")" canceled
wait_for 60 gone "$SDEP" || fail "the dependency of the canceled scheduled job was kept"
pass "once the scheduled job is canceled, its dependency goes"
check "the producer's output file is gone" test ! -e "$OUT/$PRODUCER.stdout"
eq "the key's job is still kept (its key is younger than 24 h)" "$(job_field "$KEYED" .state)" succeeded
sqlite3 "$DB" ".timeout 10000" "UPDATE jobs SET created_at = created_at - 90000000 WHERE id = $KEYED"
run_done '{"argv": ["true"]}' # (a job end: retention looks again)
wait_for 60 gone "$KEYED" || fail "the job was kept after its idempotency key's 24 h"
pass "a job whose key is past its 24 h goes"
eq "the running job is still untouched" "$(job_field "$RUNNING" .state)" running

# ---- many jobs while others run ----------------------------------------------------------
BATCH=$(jq -cn '[range(300) | {argv: ["true"], name: "many"}]')
req POST /v1/jobs "$BATCH"
eq "300 jobs submitted" "$STATUS" 201
MANY_LAST=$(jq -r '.jobs[-1].id' <<<"$BODY")
wait_for 60 state_is "$MANY_LAST" succeeded || wait_for 60 gone "$MANY_LAST" || fail "the 300 jobs did not run"
finished_are() { [ "$(curl -s "$BASE/metrics" | awk '/^spawnpool_jobs\{state="(succeeded|failed|terminated|timed_out|canceled|lost)"\}/ {n += $2} END {print n}')" == "$1" ]; }
wait_for 60 finished_are 3 || fail "finished jobs left: not 3 but $(curl -s "$BASE/metrics" | grep '^spawnpool_jobs{')"
pass "after 300 more jobs, 3 finished jobs are left"
eq "the database has the 3 finished rows and the running one" "$(sqlite3 "$DB" 'SELECT count(*) FROM jobs')" 4
release running
wait_job "$RUNNING" >/dev/null
sp_stop

# ---- age: --retain from the config file, across a restart, and SIGHUP --------------------
echo '{"retain": "2s", "retain_jobs": "off"}' >"$T/config.json"
sp_start --config "$T/config.json"
eq "healthz: the config file's retention" "$(curl -s "$BASE/healthz" | jq -c .retention)" '{"max_age":2,"max_jobs":null}'
wait_for 60 finished_are 0 || fail "the jobs older than 2 s were not deleted after the restart"
pass "after the restart, every finished job older than 2 s is deleted"
submit '{"argv": ["true"]}'
check "ids go on after the deleted ones" test "$ID" -gt "$MANY_LAST"
AGED=$ID
wait_job "$AGED" >/dev/null
wait_for 60 gone "$AGED" || fail "a job that ended was not deleted 2 s later"
pass "a job is deleted once it finished 2 s ago"
sp_stop
sp_start --config "$T/config.json"
eq "the settings hold across a restart" "$(curl -s "$BASE/healthz" | jq -c .retention)" '{"max_age":2,"max_jobs":null}'
echo '{"retain": "12h", "retain_jobs": 50}' >"$T/config.json"
kill -HUP "$SP_PID"
reloaded() { [ "$(curl -s "$BASE/healthz" | jq -c .retention)" == '{"max_age":43200,"max_jobs":50}' ]; }
wait_for 60 reloaded || fail "SIGHUP did not apply the new retention: $(curl -s "$BASE/healthz" | jq -c .retention)"
pass "SIGHUP applies --retain and --retain-jobs of the config file"
check "the log says so" grep -q 'retention is now 43200s' "$T/server.err"
sp_stop

# ---- refused settings --------------------------------------------------------------------
sp_refused "--retain 3w" --retain 3w
check "it says what an age is" grep -q 'retain must be an age such as 90s, 30m, 12h or 7d' "$T/refused.err"
sp_refused "--retain-jobs -1" --retain-jobs -1
check "it says what a count is" grep -q 'retain-jobs must be an integer from 1' "$T/refused.err"
SPAWNPOOL_RETAIN=soon sp_refused "SPAWNPOOL_RETAIN=soon"
check "it names the variable" grep -q 'SPAWNPOOL_RETAIN: retain must be an age' "$T/refused.err"
