#!/usr/bin/env bash
# Gang groups (Barrier): no member starts until group_size members are queued and as many
# workers are free; then all start in the same dispatch round. A group larger than the pool
# is refused; terminating a member before the start cancels the group.
source "$(dirname "$0")/lib.sh"
WORKERS=3
sp_start
DB="$T/data/spawnpool.db"

submit '{"argv":["sleep","0.2"],"group":"g1","group_size":3}'; M1=$ID
submit '{"argv":["sleep","0.2"],"group":"g1","group_size":3}'; M2=$ID
eq "two of three: nobody starts" "$(curl -s "$BASE/v1/jobs/wait?ids=$M1,$M2&mode=any&timeout=0.5" | jq -c '[.jobs[].state]')" '["queued","queued"]'
submit '{"argv":["sleep","0.2"],"group":"g1","group_size":3}'; M3=$ID
curl -s "$BASE/v1/jobs/wait?ids=$M1,$M2,$M3&timeout=10" >/dev/null
eq "all three ran" "$(sqlite3 "$DB" "SELECT count(*) FROM jobs WHERE id IN ($M1,$M2,$M3) AND state = 'succeeded'")" 3
eq "reserved for their workers in one batch (one running event time apart at most 50 ms)" \
    "$(sqlite3 "$DB" "SELECT max(started_at) - min(started_at) <= 50 FROM jobs WHERE id IN ($M1,$M2,$M3)")" 1
check "each on its own worker" test "$(sqlite3 "$DB" "SELECT count(DISTINCT worker) FROM jobs WHERE id IN ($M1,$M2,$M3)")" -eq 3

# the group waits for free workers: with one worker busy it cannot start, nor do jobs behind it
submit '{"argv":["sleep","0.6"]}'; BUSY=$ID
wait_for 5 state_is "$BUSY" running || fail "never ran"
req POST /v1/jobs '[{"argv":["true"],"group":"g2","group_size":3},{"argv":["true"],"group":"g2","group_size":3},{"argv":["true"],"group":"g2","group_size":3}]'
G2=$(jq -r '[.jobs[].id] | join(",")' <<<"$BODY")
curl -s "$BASE/v1/jobs/wait?ids=$G2&timeout=10" >/dev/null
check "the group started only after the busy worker was free" test \
    "$(sqlite3 "$DB" "SELECT min(started_at) FROM jobs WHERE id IN ($G2)")" -ge \
    "$(sqlite3 "$DB" "SELECT finished_at FROM jobs WHERE id = $BUSY")"

# a group half submitted survives a restart
submit '{"argv":["true"],"group":"g4","group_size":2}'; H1=$ID
sp_stop
sp_start
submit '{"argv":["true"],"group":"g4","group_size":2}'; H2=$ID
eq "completed after the restart: both ran" "$(curl -s "$BASE/v1/jobs/wait?ids=$H1,$H2&timeout=10" | jq -c '[.jobs[].state]')" '["succeeded","succeeded"]'

# a group name used again takes its new size
req POST /v1/jobs '[{"argv":["true"],"group":"g1","group_size":2},{"argv":["true"],"group":"g1","group_size":2}]'
eq "g1 again, size 2: both ran" "$(curl -s "$BASE/v1/jobs/wait?ids=$(jq -r '[.jobs[].id] | join(",")' <<<"$BODY")&timeout=10" | jq -c '[.jobs[].state]')" '["succeeded","succeeded"]'

# refused and canceled
expect_error 400 invalid_argument group_size POST /v1/jobs '{"argv":["true"],"group":"big","group_size":4}'
expect_error 400 invalid_argument group_size POST /v1/jobs '{"argv":["true"],"group":"g"}'
expect_error 400 invalid_argument group POST /v1/jobs '{"argv":["true"],"group_size":2}'
expect_error 400 invalid_argument max_attempts POST /v1/jobs '{"argv":["true"],"group":"g","group_size":2,"max_attempts":2}'
submit '{"argv":["true"],"group":"g3","group_size":3}'; C1=$ID
submit '{"argv":["true"],"group":"g3","group_size":3}'; C2=$ID
expect 200 POST "/v1/jobs/$C1/terminate"
eq "terminated member canceled" "$(jq -r .state <<<"$BODY")" canceled
J=$(wait_job "$C2" 5)
eq "the rest of its group too" "$(jq -r .state <<<"$J")" canceled
check "saying why" jq -e '.error | test("group g3")' <<<"$J"
# a member canceled before its group was ever seen does not block the name afterwards
submit '{"argv":["sleep","30"]}'; LONGJ=$ID
submit "{\"argv\":[\"true\"],\"group\":\"g5\",\"group_size\":2,\"after\":[$LONGJ]}"; W5=$ID
expect 200 POST "/v1/jobs/$W5/terminate"
req POST /v1/jobs '[{"argv":["true"],"group":"g5","group_size":2},{"argv":["true"],"group":"g5","group_size":2}]'
eq "g5 runs afterwards" "$(curl -s "$BASE/v1/jobs/wait?ids=$(jq -r '[.jobs[].id] | join(",")' <<<"$BODY")&timeout=10" | jq -c '[.jobs[].state]')" '["succeeded","succeeded"]'
expect 202 POST "/v1/jobs/$LONGJ/terminate" '{"grace":0}'
sp_stop
