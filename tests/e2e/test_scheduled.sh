#!/usr/bin/env bash
# Delayed jobs (issue 13, part 2): run_at / delay make a job `scheduled` until then; it becomes
# queued when its time comes (an event says so) and runs like any job; it can be terminated
# (canceled) or changed (PATCH) meanwhile, and survives a restart.
source "$(dirname "$0")/lib.sh"
sp_start

# a delay: scheduled now, run no earlier than its run_at
submit '{"argv": ["echo", "later"], "delay": 1.5}'
DELAYED=$ID
eq "a delayed job is scheduled" "$(jq -r .state <<<"$BODY")" scheduled
RUN_AT=$(jq -r .run_at <<<"$BODY")
CREATED=$(jq -r .created_at <<<"$BODY")
D=$(($(epoch_ms "$RUN_AT") - $(epoch_ms "$CREATED")))
[ "$D" -ge 1400 ] && [ "$D" -le 1600 ] || fail "run_at is $D ms after created_at, want ~1500"
pass "run_at is created_at + delay ($D ms)"
# a time far ahead: it waits
submit '{"argv": ["echo", "new year"], "run_at": "2031-01-01T00:00:00+01:00", "name": "ny"}'
FAR=$ID
eq "run_at is stored in UTC" "$(jq -r .run_at <<<"$BODY")" "2030-12-31T23:00:00.000Z"
J=$(wait_job "$DELAYED")
# (checked once the delayed one ran: on a loaded machine 1.5 s may pass before any check)
eq "healthz counts scheduled jobs" "$(curl -s "$BASE/healthz" | jq .jobs.scheduled)" 1
expect 200 GET "/v1/jobs?state=scheduled"
eq "the list filters by state scheduled" "$(jq -c '[.jobs[].id]' <<<"$BODY")" "[$FAR]"
eq "the delayed job ran" "$(jq -r .state <<<"$J")" succeeded
STARTED=$(jq -r .started_at <<<"$J")
[ "$(epoch_ms "$STARTED")" -ge "$(epoch_ms "$RUN_AT")" ] || fail "started $STARTED before run_at $RUN_AT"
pass "it started at or after its run_at ($STARTED >= $RUN_AT)"
# (the events after id 0: the job's whole history, then the stream is cut by --max-time)
curl -s -N --max-time 2 "$BASE/v1/events?job=$DELAYED&last_event_id=0" >"$T/events" || true
grep -q '"state":"queued","from":"scheduled"' "$T/events" ||
    fail "no scheduled -> queued event: $(cat "$T/events")"
pass "an event records scheduled -> queued"

# a time already past: queued at once
submit '{"argv": ["true"], "run_at": "2020-01-01T00:00:00Z"}'
eq "a past run_at queues at once" "$(wait_job "$ID" | jq -r .state)" succeeded

# waiting for its time and for a dependency: both
submit '{"argv": ["sh", "-c", "'"$(hold dep)"'"]}'
DEP=$ID
submit '{"argv": ["echo", "after both"], "delay": 0.5, "after": ['"$DEP"']}'
BOTH=$ID
wait_for 30 eval '[ "$(job_field "$BOTH" .state)" == queued ]' ||
    fail "the job did not become queued after its delay: $(job_field "$BOTH" .state)"
pass "past its run_at, it waits (queued) for its dependency"
release dep
eq "then it runs" "$(wait_job "$BOTH" | jq -r .state)" succeeded

# changed and terminated while scheduled
expect 200 PATCH "/v1/jobs/$FAR" '{"priority": 7, "queue": "yearly"}'
eq "PATCH of a scheduled job" "$(jq -c '[.state, .priority, .queue]' <<<"$BODY")" '["scheduled",7,"yearly"]'
submit '{"argv": ["true"], "delay": 3600}'
GONE=$ID
expect 200 POST "/v1/jobs/$GONE/terminate"
eq "terminating a scheduled job cancels it" "$(jq -r .state <<<"$BODY")" canceled
eq "it never started" "$(job_field "$GONE" .started_at)" null
expect 409 DELETE "/v1/jobs/$FAR"

# bad input
expect_error 400 invalid_argument run_at POST /v1/jobs '{"argv": ["true"], "run_at": "tomorrow"}'
expect_error 400 invalid_argument run_at POST /v1/jobs '{"argv": ["true"], "run_at": "2026-02-30T00:00:00Z"}'
expect_error 400 invalid_argument run_at POST /v1/jobs '{"argv": ["true"], "run_at": 1767225600}'
expect_error 400 invalid_argument delay POST /v1/jobs '{"argv": ["true"], "delay": -1}'
expect_error 400 invalid_argument delay POST /v1/jobs '{"argv": ["true"], "delay": "5"}'
expect_error 400 invalid_argument delay POST /v1/jobs \
    '{"argv": ["true"], "delay": 5, "run_at": "2030-01-01T00:00:00Z"}'

# a restart keeps scheduled jobs scheduled, and runs one whose time came while it was down
submit '{"argv": ["echo", "after restart"], "delay": 2}'
SOON=$ID
sp_stop
sp_start
eq "after a restart the far job is still scheduled" "$(job_field "$FAR" .state)" scheduled
eq "... with its new priority" "$(job_field "$FAR" .priority)" 7
eq "the soon job runs after the restart" "$(wait_job "$SOON" | jq -r .state)" succeeded
eq "metrics count the scheduled job" "$(metric 'spawnpool_jobs{state="scheduled"}')" 1

# the client: --delay and --at
OUT=$("$SPAWNPOOL_BIN" submit --server "$BASE" --delay 600 --json -- echo hi)
eq "spawnpool submit --delay" "$(jq -r .state <<<"$OUT")" scheduled
OUT=$("$SPAWNPOOL_BIN" submit --server "$BASE" --delay 2h --json -- echo hi)
D=$(($(epoch_ms "$(jq -r .run_at <<<"$OUT")") - $(epoch_ms "$(jq -r .created_at <<<"$OUT")")))
[ "$D" -ge 7199000 ] && [ "$D" -le 7201000 ] || fail "--delay 2h: run_at is $D ms after created_at"
pass "spawnpool submit --delay 2h: a span ($D ms)"
rc=0
"$SPAWNPOOL_BIN" submit --server "$BASE" --delay 2x -- echo hi 2>/dev/null || rc=$?
eq "--delay 2x: a usage error, nothing sent" "$rc" 2
OUT=$("$SPAWNPOOL_BIN" submit --server "$BASE" --at 2030-06-01T12:00:00Z --json -- echo hi)
eq "spawnpool submit --at" "$(jq -r .run_at <<<"$OUT")" "2030-06-01T12:00:00.000Z"
rc=0
"$SPAWNPOOL_BIN" submit --server "$BASE" --at soon -- echo hi 2>"$T/err" || rc=$?
eq "spawnpool submit --at soon: the server refuses it (exit 3)" "$rc" 3
grep -q "RFC 3339" "$T/err" || fail "no helpful message: $(cat "$T/err")"
OUT=$("$SPAWNPOOL_BIN" run --server "$BASE" --delay 0.3 -- echo ran later)
eq "spawnpool run --delay waits for the job" "$OUT" "ran later"
sp_stop

# the README's example, as written, on a fresh server
rm -rf "$T/data"
sp_start
run_example scheduled
example_shows '{"state":"scheduled","run_at":'
example_shows '2030-01-01T08:00:00.000Z'
eq "the example's list counts both" "$(tail -n 1 <<<"$EXAMPLE_OUT")" 2
sp_stop
