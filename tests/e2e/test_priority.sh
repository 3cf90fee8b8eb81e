#!/usr/bin/env bash
# Dispatch order: highest priority first, FIFO among equals; a queued job starts as soon as
# a worker is free.
source "$(dirname "$0")/lib.sh"
WORKERS=1
sp_start
submit "{\"command\":\"$(hold blocker)\"}"; BLOCKER=$ID
wait_for 60 state_is "$BLOCKER" running || fail "blocker never ran"
req POST /v1/jobs '[{"argv":["true"],"name":"low1","priority":-1},{"argv":["true"],"name":"mid1"},{"argv":["true"],"name":"high","priority":5},{"argv":["true"],"name":"mid2"},{"argv":["true"],"name":"low2","priority":-1},{"argv":["true"],"name":"mid3"}]'
eq "batch accepted" "$STATUS" 201
release blocker
for id in $(jq -r '.jobs[].id' <<<"$BODY"); do wait_job "$id" >/dev/null; done
# started_at has ms resolution: check the order of the running events instead
ORDER=$(sqlite3 "$T/data/spawnpool.db" "SELECT group_concat(j.name, ',') FROM (SELECT e.job_id FROM job_events e WHERE e.to_state = 'running' ORDER BY e.id) r JOIN jobs j ON j.id = r.job_id WHERE j.name IS NOT NULL")
eq "start order" "$ORDER" "high,mid1,mid2,mid3,low1,low2"
sp_stop
