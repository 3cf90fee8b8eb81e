#!/usr/bin/env bash
# Named queues (multiprocessing's Queue): concurrency limits and pause, without blocking
# other queues; settings from the config or PATCH, kept across restarts.
source "$(dirname "$0")/lib.sh"
echo '{"queues": {"batch": {"concurrency": 1}}}' >"$T/config.json"
WORKERS=3
sp_start --config "$T/config.json"
DB="$T/data/spawnpool.db"

# concurrency 1: never two at once; a job of another queue is not held up behind them (the
# batch jobs hold until it has ended, so the server has dispatched past them)
JOB="{\"command\":\"$(hold batch)\",\"queue\":\"batch\"}"
req POST /v1/jobs "[$JOB,$JOB,$JOB]"
IDS=$(jq -r '[.jobs[].id] | join(",")' <<<"$BODY")
submit '{"argv":["true"]}'; OTHER=$ID
eq "another queue's job runs meanwhile" "$(wait_job "$OTHER" | jq -r .state)" succeeded
wait_for 60 states_are queued,queued,running ${IDS//,/ } ||
    fail "batch jobs are $(states ${IDS//,/ }), want one running and the others queued"
pass "while one batch job runs and the others wait"
expect 200 GET /v1/queues
check "queues listed with their settings" jq -e '.queues[] | select(.name == "batch") | .concurrency == 1 and .paused == false' <<<"$BODY"
release batch
curl -s "$BASE/v1/jobs/wait?ids=$IDS&timeout=60" >/dev/null
OVERLAPS=$(sqlite3 "$DB" "SELECT count(*) FROM jobs a JOIN jobs b ON a.id < b.id WHERE a.id IN ($IDS) AND b.id IN ($IDS) AND a.started_at < b.finished_at AND b.started_at < a.finished_at")
eq "concurrency 1: no two batch jobs overlapped" "$OVERLAPS" 0

# pause: starts nothing, still takes submits; resume: they run
expect 200 PATCH /v1/queues/slow '{"paused":true}'
eq "paused" "$(jq -c '[.name,.paused,.concurrency]' <<<"$BODY")" '["slow",true,null]'
submit '{"argv":["true"],"queue":"slow"}'; HELD=$ID
submit '{"argv":["true"]}'; FREE=$ID
eq "other queues run" "$(wait_job "$FREE" | jq -r .state)" succeeded
eq "the paused queue's job, submitted before, waits" "$(job_field "$HELD" .state)" queued
eq "listed as queued there" "$(curl -s "$BASE/v1/queues" | jq '.queues[] | select(.name == "slow") | .queued')" 1
expect 200 PATCH /v1/queues/slow '{"paused":false}'
eq "resumed: it runs" "$(wait_job "$HELD" | jq -r .state)" succeeded

# settings are saved: a restart keeps them (and the PATCH beats the config)
expect 200 PATCH /v1/queues/batch '{"concurrency":2}'
expect 200 PATCH /v1/queues/slow '{"paused":true}'
# ... and the paused queue's jobs wait through it (parked with their queue at start)
submit '{"argv":["true"],"queue":"slow","priority":1}'; LOW=$ID
submit '{"argv":["true"],"queue":"slow","priority":5}'; HIGH=$ID
submit "{\"argv\":[\"true\"],\"queue\":\"slow\",\"after\":[$HIGH]}"; AFTER=$ID
sp_stop
sp_start --config "$T/config.json"
expect 200 GET /v1/queues
eq "batch concurrency kept" "$(jq '.queues[] | select(.name == "batch") | .concurrency' <<<"$BODY")" 2
eq "slow still paused" "$(jq '.queues[] | select(.name == "slow") | .paused' <<<"$BODY")" true
eq "its jobs are still queued there" "$(jq '.queues[] | select(.name == "slow") | .queued' <<<"$BODY")" 3
submit '{"argv":["true"]}' # submitted after them: once it ran, they had their chance
eq "a job of another queue runs" "$(wait_job "$ID" | jq -r .state)" succeeded
eq "and none of the paused queue's started" "$(states $LOW $HIGH $AFTER)" queued,queued,queued
expect 200 PATCH /v1/queues/slow '{"paused":false,"concurrency":1}'
eq "resumed: the one waiting on another runs" "$(wait_job "$AFTER" | jq -r .state)" succeeded
eq "and the others" "$(states $LOW $HIGH)" succeeded,succeeded
eq "the higher priority first" "$(sqlite3 "$DB" "SELECT job_id FROM job_events WHERE job_id IN ($LOW,$HIGH,$AFTER) AND to_state = 'running' ORDER BY id LIMIT 1")" "$HIGH"
expect 200 PATCH /v1/queues/slow '{"paused":true,"concurrency":null}'
expect 200 PATCH /v1/queues/batch '{"concurrency":null}'
eq "null: no limit" "$(jq -r .concurrency <<<"$BODY")" null

# bad input
expect_error 400 invalid_argument concurrency PATCH /v1/queues/batch '{"concurrency":0}'
expect_error 400 invalid_argument paused PATCH /v1/queues/batch '{"paused":"yes"}'
expect_error 400 invalid_argument limit PATCH /v1/queues/batch '{"limit":1}'
expect_error 400 invalid_argument - PATCH /v1/queues/batch '{}'
expect_error 400 invalid_argument name PATCH '/v1/queues/a%20b' '{"paused":true}'
expect_error 405 method_not_allowed - GET /v1/queues/batch
expect_error 405 method_not_allowed - POST /v1/queues '{}'
sp_stop
