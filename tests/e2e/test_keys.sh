#!/usr/bin/env bash
# Concurrency keys (Lock / Semaphore): at most concurrency_limit running jobs share a key;
# jobs held back by a key never block unrelated jobs behind them.
source "$(dirname "$0")/lib.sh"
WORKERS=3
sp_start
DB="$T/data/spawnpool.db"

# a lock: never two at once, and an unrelated job behind them is not held up (the key's jobs
# hold until the unrelated one has ended, so the server has dispatched past them)
JOB="{\"command\":\"$(hold deploy)\",\"concurrency_key\":\"deploy\"}"
req POST /v1/jobs "[$JOB,$JOB,$JOB]"
LOCKED=$(jq -r '[.jobs[].id] | join(",")' <<<"$BODY")
eq "the limit defaults to 1 (a lock)" "$(jq -c '[.jobs[0].concurrency_key,.jobs[0].concurrency_limit]' <<<"$BODY")" '["deploy",1]'
submit '{"argv":["true"]}'; FREE=$ID
eq "an unrelated job passes the saturated key" "$(wait_job "$FREE" | jq -r .state)" succeeded
wait_for 60 states_are queued,queued,running ${LOCKED//,/ } ||
    fail "the key's jobs are $(states ${LOCKED//,/ }), want one running and the others queued"
pass "while one of the key's jobs runs and the others wait"
release deploy
curl -s "$BASE/v1/jobs/wait?ids=$LOCKED&timeout=60" >/dev/null
eq "limit 1: no two ever overlapped" "$(sqlite3 "$DB" "SELECT count(*) FROM jobs a JOIN jobs b ON a.id < b.id WHERE a.id IN ($LOCKED) AND b.id IN ($LOCKED) AND a.started_at < b.finished_at AND b.started_at < a.finished_at")" 0

# a semaphore of 2
JOB="{\"command\":\"$(hold db)\",\"concurrency_key\":\"db\",\"concurrency_limit\":2}"
req POST /v1/jobs "[$JOB,$JOB,$JOB,$JOB]"
SEM=$(jq -r '[.jobs[].id] | join(",")' <<<"$BODY")
submit '{"argv":["true"]}'
eq "an unrelated job passes it" "$(wait_job "$ID" | jq -r .state)" succeeded
wait_for 60 states_are queued,queued,running,running ${SEM//,/ } ||
    fail "the key's jobs are $(states ${SEM//,/ }), want two running and two queued"
pass "while two of the key's jobs run and two wait"
release db
curl -s "$BASE/v1/jobs/wait?ids=$SEM&timeout=60" >/dev/null
MOST=$(sqlite3 "$DB" "SELECT max(n) FROM (SELECT a.id, (SELECT count(*) FROM jobs b WHERE b.id IN ($SEM) AND b.started_at <= a.started_at AND a.started_at < b.finished_at) AS n FROM jobs a WHERE a.id IN ($SEM)) AS x")
eq "limit 2: at most two at once" "$MOST" 2
eq "all ran" "$(sqlite3 "$DB" "SELECT count(*) FROM jobs WHERE id IN ($SEM) AND state = 'succeeded'")" 4

# a terminated job that waited on a key does not take a live one's place
submit "{\"command\":\"$(hold k2)\",\"concurrency_key\":\"k2\"}"; KA=$ID
submit '{"argv":["true"],"concurrency_key":"k2"}'; KB=$ID
submit '{"argv":["true"],"concurrency_key":"k2"}'; KC=$ID
wait_for 60 state_is "$KA" running || fail "never ran"
expect 200 POST "/v1/jobs/$KB/terminate"
release k2
eq "the job behind it still runs" "$(wait_job "$KC" | jq -r .state)" succeeded

# bad input
expect_error 400 invalid_argument concurrency_limit POST /v1/jobs '{"argv":["true"],"concurrency_limit":2}'
expect_error 400 invalid_argument concurrency_limit POST /v1/jobs '{"argv":["true"],"concurrency_key":"k","concurrency_limit":0}'
expect_error 400 invalid_argument concurrency_key POST /v1/jobs '{"argv":["true"],"concurrency_key":""}'
expect_error 400 invalid_argument concurrency_key POST /v1/jobs '{"argv":["true"],"concurrency_key":5}'
sp_stop
