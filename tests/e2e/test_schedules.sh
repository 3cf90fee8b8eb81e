#!/usr/bin/env bash
# Schedules (issue 13, part 2): /v1/schedules makes a job at each time a cron expression names
# in a time zone. A live run at the next minute; the runs that come due while the server is
# down (one, or none without catch_up); overlap allow, skip and replace; the definitions
# across a restart; every refusal; the client. (The DST rule's spring-forward and fall-back
# days are checked by the unit test of server/cron.c, test_cron.)
source "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 (the CLI) is needed to move a schedule's time"
sp_start

sched() { curl -s "$BASE/v1/schedules/$1" | jq -r "$2"; }
runs_are() { [ "$(sched "$1" .runs)" == "$2" ]; }
# due_now NAME...: (server stopped) moves the schedules' next run an hour into the past, as
# if the server had been down over it
due_now() {
    local past=$(($(date +%s%3N) - 3600 * 1000)) n
    for n in "$@"; do
        sqlite3 "$T/data/spawnpool.db" "UPDATE schedules SET next_run_at = $past WHERE name = '$n'"
    done
}
if ! sp_on_postgres; then
    ls "$T/data"/*.db >/dev/null 2>&1 || fail "no database file in $T/data"
    [ -f "$T/data/spawnpool.db" ] || fail "the database is not $T/data/spawnpool.db: $(ls "$T/data")"
fi

# ---- create, read, refuse -------------------------------------------------------------------
expect 201 POST /v1/schedules '{"name": "tick", "cron": "* * * * *",
    "job": {"argv": ["sh", "-c", "echo tick $SPAWNPOOL_JOB_ID"], "name": "tick-run"}}'
eq "Location of the new schedule" "$(grep -i '^location:' "$T/headers" | tr -d '\r' | cut -d' ' -f2)" /v1/schedules/tick
eq "defaults" "$(jq -c '[.timezone, .overlap, .paused, .catch_up, .runs, .skipped, .last_job_id]' <<<"$BODY")" \
    '["UTC","allow",false,true,0,0,null]'
NEXT=$(jq -r .next_run_at <<<"$BODY")
[[ $NEXT =~ ^[0-9-]+T[0-9:]+:00\.000Z$ ]] || fail "next_run_at is not a whole minute: $NEXT"
eq "five next runs, a minute apart" "$(jq '.next_runs | length' <<<"$BODY")" 5
GAP=$(($(epoch_ms "$(jq -r '.next_runs[1]' <<<"$BODY")") - $(epoch_ms "$NEXT")))
eq "... 60 s apart" "$GAP" 60000
expect 201 POST /v1/schedules '{"name": "kolkata", "cron": "0 9 * * MON-FRI", "timezone": "Asia/Kolkata",
    "job": {"command": "echo namaste"}}'
[[ $(jq -r .next_run_at <<<"$BODY") == *T03:30:00.000Z ]] || fail "09:00 in Kolkata is 03:30 UTC: $BODY"
pass "09:00 Asia/Kolkata runs at 03:30 UTC"
for d in $(jq -r '.next_runs[]' <<<"$BODY"); do
    dow=$(date -u -d "$d" +%u)
    [ "$dow" -le 5 ] || fail "MON-FRI ran on day $dow: $d"
done
pass "MON-FRI: no run on a weekend"

expect_error 409 conflict name POST /v1/schedules '{"name": "tick", "cron": "@daily", "job": {"argv": ["true"]}}'
expect_error 400 invalid_argument cron POST /v1/schedules '{"name": "b", "cron": "61 * * * *", "job": {"argv": ["true"]}}'
expect_error 400 invalid_argument cron POST /v1/schedules '{"name": "b", "cron": "* * * *", "job": {"argv": ["true"]}}'
expect_error 400 invalid_argument cron POST /v1/schedules '{"name": "b", "job": {"argv": ["true"]}}'
expect_error 400 invalid_argument timezone POST /v1/schedules '{"name": "b", "cron": "@daily", "timezone": "Mars/Olympus", "job": {"argv": ["true"]}}'
expect_error 400 invalid_argument timezone POST /v1/schedules '{"name": "b", "cron": "@daily", "timezone": "../../etc/passwd", "job": {"argv": ["true"]}}'
expect_error 400 invalid_argument cron POST /v1/schedules '{"name": "b", "cron": "0 0 30 2 *", "job": {"argv": ["true"]}}'
expect_error 400 invalid_argument job POST /v1/schedules '{"name": "b", "cron": "@daily"}'
expect_error 400 invalid_argument job.argv POST /v1/schedules '{"name": "b", "cron": "@daily", "job": {"argv": []}}'
expect_error 400 invalid_argument job.after POST /v1/schedules '{"name": "b", "cron": "@daily", "job": {"argv": ["true"], "after": [1]}}'
expect_error 400 invalid_argument job.delay POST /v1/schedules '{"name": "b", "cron": "@daily", "job": {"argv": ["true"], "delay": 5}}'
expect_error 400 invalid_argument overlap POST /v1/schedules '{"name": "b", "cron": "@daily", "overlap": "queue", "job": {"argv": ["true"]}}'
expect_error 400 invalid_argument name POST /v1/schedules '{"name": "a b", "cron": "@daily", "job": {"argv": ["true"]}}'
expect_error 400 invalid_argument every POST /v1/schedules '{"name": "b", "every": "5m", "cron": "@daily", "job": {"argv": ["true"]}}'
expect_error 404 not_found name GET /v1/schedules/nope
expect_error 404 not_found name PATCH /v1/schedules/nope '{"paused": true}'
expect_error 404 not_found name DELETE /v1/schedules/nope
expect_error 405 method_not_allowed - PUT /v1/schedules/tick '{}'
expect 200 GET /v1/schedules
eq "the list, by name" "$(jq -c '[.schedules[].name]' <<<"$BODY")" '["kolkata","tick"]'

# ---- a live run: the next minute --------------------------------------------------------------
wait_for 75 runs_are tick 1 || fail "tick did not run by its next minute ($NEXT): $(sched tick .)"
TICK_JOB=$(sched tick .last_job_id)
J=$(wait_job "$TICK_JOB")
eq "the run is a normal job, linked by schedule" "$(jq -c '[.schedule, .name, .state]' <<<"$J")" '["tick","tick-run","succeeded"]'
eq "it ran the schedule's job" "$(curl -s "$BASE/v1/jobs/$TICK_JOB/output")" "tick $TICK_JOB"
expect 200 GET "/v1/jobs?schedule=tick"
eq "the schedule filter finds its run" "$(jq -c '[.jobs[].id]' <<<"$BODY")" "[$TICK_JOB]"
expect 200 GET "/v1/jobs?schedule=kolkata"
eq "... and none of another's" "$(jq -c '.jobs' <<<"$BODY")" "[]"
STARTED=$(jq -r .started_at <<<"$J")
[ "$(epoch_ms "$STARTED")" -ge "$(epoch_ms "$NEXT")" ] || fail "started $STARTED before $NEXT"
pass "it started at its time or after ($STARTED >= $NEXT)"
eq "last_run_at is the time it came" "$(($(epoch_ms "$(sched tick .last_run_at)") >= $(epoch_ms "$NEXT")))" 1
[ "$(epoch_ms "$(sched tick .next_run_at)")" -gt "$(epoch_ms "$NEXT")" ] || fail "next_run_at did not move on"
pass "next_run_at moved on"

# ---- pause and resume -------------------------------------------------------------------------
expect 200 PATCH /v1/schedules/tick '{"paused": true}'
eq "paused: no next run" "$(jq -c '[.paused, .next_run_at, .next_runs]' <<<"$BODY")" '[true,null,[]]'
expect 200 PATCH /v1/schedules/tick '{"paused": false, "cron": "30 2 * * *", "timezone": "America/New_York"}'
[[ $(jq -r .next_run_at <<<"$BODY") == *T0[67]:30:00.000Z ]] || fail "02:30 New York is 06:30 or 07:30 UTC: $BODY"
pass "resumed with a new cron and zone: next run at 02:30 New York time"

# ---- downtime: catch_up, overlap --------------------------------------------------------------
expect 200 PATCH /v1/queues/held '{"paused": true}' # its jobs stay queued: alive
for o in allow skip replace; do
    expect 201 POST /v1/schedules '{"name": "'$o'", "cron": "0 3 * * *", "overlap": "'$o'",
        "job": {"argv": ["true"], "queue": "held"}}'
done
expect 201 POST /v1/schedules '{"name": "late", "cron": "0 3 * * *", "job": {"argv": ["true"]}}'
expect 201 POST /v1/schedules '{"name": "nolate", "cron": "0 3 * * *", "catch_up": false, "job": {"argv": ["true"]}}'
NOLATE_NEXT=$(sched nolate .next_run_at)
sp_stop
due_now allow skip replace late nolate
sp_start
for s in allow skip replace late; do
    wait_for 30 runs_are "$s" 1 || fail "$s did not run its missed time after the restart: $(sched "$s" .)"
done
pass "a time missed while the server was down runs once at start (catch_up)"
eq "catch_up false: no late run" "$(sched nolate .runs)" 0
eq "... it waits for its next time" "$(sched nolate .next_run_at)" "$NOLATE_NEXT"
eq "the late run moved on to a time to come" "$(($(epoch_ms "$(sched late .next_run_at)") > $(date +%s%3N)))" 1
declare -A FIRST
for o in allow skip replace; do FIRST[$o]=$(sched "$o" .last_job_id); done
eq "the held runs wait (queued)" "$(states "${FIRST[@]}")" "queued,queued,queued"
sp_stop
due_now allow skip replace
sp_start
wait_for 30 runs_are allow 2 || fail "allow did not make a second job: $(sched allow .)"
wait_for 30 runs_are replace 2 || fail "replace did not make a second job: $(sched replace .)"
wait_for 30 eval '[ "$(sched skip .skipped)" == 1 ]' || fail "skip did not skip: $(sched skip .)"
eq "skip: no second job" "$(sched skip .runs)/$(sched skip .last_job_id)" "1/${FIRST[skip]}"
eq "allow: the first job still queued beside the second" "$(job_field "${FIRST[allow]}" .state)" queued
wait_for 30 state_is "${FIRST[replace]}" canceled || fail "replace left its old job: $(job_field "${FIRST[replace]}" .state)"
pass "replace: the old job canceled, a new one made ($(sched replace .last_job_id))"
eq "the definitions survive restarts" "$(sched kolkata '[.cron, .timezone, .job.command] | @tsv')" \
    "$(printf '0 9 * * MON-FRI\tAsia/Kolkata\techo namaste')"

# ---- delete -----------------------------------------------------------------------------------
expect 204 DELETE /v1/schedules/allow
expect_error 404 not_found name GET /v1/schedules/allow
eq "its jobs stay, still saying their schedule" "$(job_field "${FIRST[allow]}" .schedule)" allow
eq "spawnpool ls --schedule finds them" \
    "$("$SPAWNPOOL_BIN" ls --server "$BASE" --schedule allow --json | jq -c '[.jobs[].schedule] | unique')" '["allow"]'
eq "... both of them" "$("$SPAWNPOOL_BIN" ls --server "$BASE" --schedule allow --json | jq '.jobs | length')" 2

# ---- the client -------------------------------------------------------------------------------
OUT=$("$SPAWNPOOL_BIN" schedule add backup --server "$BASE" --cron '0 3 * * *' --tz Europe/Berlin \
    --overlap skip --name nightly-backup --timeout 600 -- tar czf /tmp/b.tgz /etc)
grep -q '^backup  *0 3 \* \* \*  *Europe/Berlin ' <<<"$OUT" || fail "schedule add printed: $OUT"
pass "spawnpool schedule add prints the schedule's row"
J=$(curl -s "$BASE/v1/schedules/backup")
eq "its job is what submit would send" "$(jq -c '[.job.argv[0], .job.name, .job.timeout, .overlap]' <<<"$J")" \
    '["tar","nightly-backup",600,"skip"]'
OUT=$("$SPAWNPOOL_BIN" schedule set backup --server "$BASE" --cron '30 4 * * *' --tz UTC --no-catch-up --json)
eq "spawnpool schedule set changes what it is given" "$(jq -c '[.cron, .timezone, .catch_up, .overlap]' <<<"$OUT")" \
    '["30 4 * * *","UTC",false,"skip"]'
[[ $(jq -r .next_run_at <<<"$OUT") == *T04:30:00.000Z ]] || fail "set: next run not worked out anew: $OUT"
rc=0
"$SPAWNPOOL_BIN" schedule set backup --server "$BASE" 2>/dev/null || rc=$?
eq "schedule set with nothing to set: usage (2)" "$rc" 2
"$SPAWNPOOL_BIN" schedule pause backup --server "$BASE" >/dev/null || fail "schedule pause"
eq "spawnpool schedule pause" "$(sched backup .paused)" true
OUT=$("$SPAWNPOOL_BIN" schedules --server "$BASE")
grep -q '^backup .* yes$' <<<"$OUT" || fail "spawnpool schedules: $OUT"
pass "spawnpool schedules lists it, paused"
eq "spawnpool schedule show --json" "$("$SPAWNPOOL_BIN" schedule show backup --server "$BASE" --json | jq -r .name)" backup
rc=0
"$SPAWNPOOL_BIN" schedule add bad --server "$BASE" --cron '99 * * * *' -- true 2>"$T/err" || rc=$?
eq "a refused schedule: exit 3" "$rc" 3
grep -q "out of range" "$T/err" || fail "no reason given: $(cat "$T/err")"
rc=0
"$SPAWNPOOL_BIN" schedule add nocron --server "$BASE" -- true 2>/dev/null || rc=$?
eq "schedule add without --cron: usage (2)" "$rc" 2
"$SPAWNPOOL_BIN" schedule rm backup --server "$BASE" >/dev/null || fail "schedule rm"
rc=0
"$SPAWNPOOL_BIN" schedule show backup --server "$BASE" 2>/dev/null || rc=$?
eq "a removed schedule is not found (4)" "$rc" 4
sp_stop

# the README's example, as written, on a fresh server
rm -rf "$T/data"
sp_start
run_example schedules
example_shows '{"name":"nightly","overlap":"skip","next_run_at":"'
[[ $(grep -o '"next_run_at":"[^"]*"' <<<"$EXAMPLE_OUT") == *T01:30:00.000Z\" ||
   $(grep -o '"next_run_at":"[^"]*"' <<<"$EXAMPLE_OUT") == *T00:30:00.000Z\" ]] ||
    fail "02:30 Berlin is 01:30 UTC in winter, 00:30 in summer: $EXAMPLE_OUT"
pass "the example's next run is 02:30 Berlin time"
example_shows '{"paused":true,"next_runs":[]}'
eq "the example ends with the delete's 204" "$(tail -n 1 <<<"$EXAMPLE_OUT")" 204
sp_stop
