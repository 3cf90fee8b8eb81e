#!/usr/bin/env bash
# Gang groups (Barrier): no member starts until group_size members are queued and as many
# workers are free; then all start in the same dispatch round. A group larger than the pool
# is refused; terminating a member before the start cancels the group.
source "$(dirname "$0")/lib.sh"
WORKERS=3
sp_start
DB="$T/data/spawnpool.db"

MEMBER="{\"command\":\"$(hold g1)\",\"group\":\"g1\",\"group_size\":3}"
submit "$MEMBER"; M1=$ID
submit "$MEMBER"; M2=$ID
submit '{"argv":["true"]}'
eq "a job submitted after them runs" "$(wait_job "$ID" | jq -r .state)" succeeded
eq "two of three: nobody starts" "$(states "$M1" "$M2")" queued,queued
submit "$MEMBER"; M3=$ID
# they hold until released: all three must be running at once
wait_for 60 states_are running,running,running "$M1" "$M2" "$M3" ||
    fail "the complete group is $(states "$M1" "$M2" "$M3"), want all three running"
pass "the complete group runs, all three at once"
release g1
curl -s "$BASE/v1/jobs/wait?ids=$M1,$M2,$M3&timeout=60" >/dev/null
eq "all three ran" "$(sqlite3 "$DB" "SELECT count(*) FROM jobs WHERE id IN ($M1,$M2,$M3) AND state = 'succeeded'")" 3
check "each on its own worker" test "$(sqlite3 "$DB" "SELECT count(DISTINCT worker) FROM jobs WHERE id IN ($M1,$M2,$M3)")" -eq 3

# the group waits for free workers: with one worker busy it cannot start, nor do jobs behind it
submit "{\"command\":\"$(hold busy)\"}"; BUSY=$ID
wait_for 60 state_is "$BUSY" running || fail "never ran"
req POST /v1/jobs '[{"argv":["true"],"group":"g2","group_size":3},{"argv":["true"],"group":"g2","group_size":3},{"argv":["true"],"group":"g2","group_size":3}]'
G2=$(jq -r '[.jobs[].id] | join(",")' <<<"$BODY")
submit '{"argv":["true"]}'; BEHIND=$ID
eq "the group waits while a worker is busy" "$(states ${G2//,/ })" queued,queued,queued
release busy
curl -s "$BASE/v1/jobs/wait?ids=$G2,$BEHIND&timeout=60" >/dev/null
check "the group started only after the busy worker was free" test \
    "$(sqlite3 "$DB" "SELECT min(started_at) FROM jobs WHERE id IN ($G2)")" -ge \
    "$(sqlite3 "$DB" "SELECT finished_at FROM jobs WHERE id = $BUSY")"
check "and a job behind it did not pass it on the two free workers" test \
    "$(sqlite3 "$DB" "SELECT started_at FROM jobs WHERE id = $BEHIND")" -ge \
    "$(sqlite3 "$DB" "SELECT finished_at FROM jobs WHERE id = $BUSY")"

# a group half submitted survives a restart
submit '{"argv":["true"],"group":"g4","group_size":2}'; H1=$ID
sp_stop
sp_start
submit '{"argv":["true"],"group":"g4","group_size":2}'; H2=$ID
eq "completed after the restart: both ran" "$(curl -s "$BASE/v1/jobs/wait?ids=$H1,$H2&timeout=60" | jq -c '[.jobs[].state]')" '["succeeded","succeeded"]'

# a group name used again takes its new size
req POST /v1/jobs '[{"argv":["true"],"group":"g1","group_size":2},{"argv":["true"],"group":"g1","group_size":2}]'
eq "g1 again, size 2: both ran" "$(curl -s "$BASE/v1/jobs/wait?ids=$(jq -r '[.jobs[].id] | join(",")' <<<"$BODY")&timeout=60" | jq -c '[.jobs[].state]')" '["succeeded","succeeded"]'

# refused and canceled
expect_error 400 invalid_argument group_size POST /v1/jobs '{"argv":["true"],"group":"big","group_size":4}'
expect_error 400 invalid_argument group_size POST /v1/jobs '{"argv":["true"],"group":"g"}'
expect_error 400 invalid_argument group POST /v1/jobs '{"argv":["true"],"group_size":2}'
expect_error 400 invalid_argument max_attempts POST /v1/jobs '{"argv":["true"],"group":"g","group_size":2,"max_attempts":2}'
submit '{"argv":["true"],"group":"g3","group_size":3}'; C1=$ID
submit '{"argv":["true"],"group":"g3","group_size":3}'; C2=$ID
expect 200 POST "/v1/jobs/$C1/terminate"
eq "terminated member canceled" "$(jq -r .state <<<"$BODY")" canceled
J=$(wait_job "$C2")
eq "the rest of its group too" "$(jq -r .state <<<"$J")" canceled
check "saying why" jq -e '.error | test("group g3")' <<<"$J"
# a member canceled before its group was ever seen does not block the name afterwards
submit '{"argv":["sleep","300"]}'; LONGJ=$ID
submit "{\"argv\":[\"true\"],\"group\":\"g5\",\"group_size\":2,\"after\":[$LONGJ]}"; W5=$ID
expect 200 POST "/v1/jobs/$W5/terminate"
req POST /v1/jobs '[{"argv":["true"],"group":"g5","group_size":2},{"argv":["true"],"group":"g5","group_size":2}]'
eq "g5 runs afterwards" "$(curl -s "$BASE/v1/jobs/wait?ids=$(jq -r '[.jobs[].id] | join(",")' <<<"$BODY")&timeout=60" | jq -c '[.jobs[].state]')" '["succeeded","succeeded"]'
expect 202 POST "/v1/jobs/$LONGJ/terminate" '{"grace":0}'

# a paused queue holds its gang members back too (a gang is no way around a pause)
expect 200 PATCH /v1/queues/gq '{"paused": true}'
req POST /v1/jobs '[{"argv":["true"],"group":"g6","group_size":2,"queue":"gq"},{"argv":["true"],"group":"g6","group_size":2,"queue":"gq"}]'
G6=$(jq -r '[.jobs[].id] | join(",")' <<<"$BODY")
submit '{"argv":["true"]}'
eq "a job submitted after them runs" "$(wait_job "$ID" | jq -r .state)" succeeded
eq "the gang of the paused queue stays queued" "$(states ${G6//,/ })" queued,queued
expect 200 PATCH /v1/queues/gq '{"paused": false}'
eq "it runs once the queue is resumed" "$(curl -s "$BASE/v1/jobs/wait?ids=$G6&mode=all&timeout=60" | jq -c '[.jobs[].state]')" '["succeeded","succeeded"]'
sp_stop
