#!/usr/bin/env bash
# `spawnpool set ID... [--priority N] [--queue Q]` over PATCH /v1/jobs/{id}: a queued job
# changes and says so; one that no longer waits is refused (exit 1) while the others still
# change; usage errors send nothing (exit 2); no such job is 4; a priority out of the API's
# range is refused by the server too.
source "$(dirname "$0")/lib.sh"
WORKERS=1 sp_start
cli() {
    RC=0
    OUT=$("$SPAWNPOOL_BIN" "$@" --server "$BASE" 2>"$T/cli.err") || RC=$?
    ERR=$(cat "$T/cli.err")
}
expect 200 PATCH /v1/queues/held '{"paused": true}'
expect 200 PATCH /v1/queues/held2 '{"paused": true}'
submit '{"argv": ["true"], "queue": "held", "name": "a"}'
A=$ID
submit '{"argv": ["true"], "queue": "held", "name": "b"}'
B=$ID
submit '{"argv": ["true"], "name": "done"}'
DONE=$ID
wait_job "$DONE" >/dev/null

cli set "$A" --priority 7
eq "set --priority: exit 0" "$RC" 0
eq "... says what the job is now" "$OUT" "job $A: priority 7, queue held"
eq "... and the job has it" "$(job_field "$A" '[.priority, .queue, .state] | join(",")')" "7,held,queued"
cli set --queue held2 "$A" "$B" --priority -3
eq "set of two, options anywhere: exit 0" "$RC" 0
eq "... both changed" "$(job_field "$A" .priority),$(job_field "$B" .queue)" "-3,held2"
cli set --json "$B" --priority 2
eq "set --json: the API's answer" "$(jq -c '[.id, .priority, .queue]' <<<"$OUT")" "[$B,2,\"held2\"]"

# one that no longer waits: refused, the others still changed
cli set "$DONE" "$A" --priority 9
eq "set of an ended job: exit 1" "$RC" 1
grep -q "^spawnpool: job $DONE is not waiting" <<<"$ERR" || fail "set of an ended job says: $ERR"
pass "set of an ended job says why"
eq "... and the other job still changed" "$(job_field "$A" .priority)" 9
cli set 999999 --priority 1
eq "set of no job: exit 4" "$RC" 4

# usage: nothing sent
cli set "$A"
eq "set with nothing to change: exit 2" "$RC" 2
grep -q "what to change" <<<"$ERR" || fail "set with nothing to change says: $ERR"
cli set --priority 1
eq "set without an id: exit 2" "$RC" 2
cli set "$A" --priority high
eq "set --priority high: exit 2" "$RC" 2
cli set "$A" --priority 1000000001
eq "set --priority out of range: exit 2" "$RC" 2
cli set "$A" --nice 3
eq "set --nice: exit 2" "$RC" 2
eq "... none of which changed the job" "$(job_field "$A" .priority)" 9
cli set "$A" --queue 'no spaces'
eq "set --queue with a space: the server refuses it (exit 3)" "$RC" 3
grep -q "queue" <<<"$ERR" || fail "set --queue 'no spaces' says: $ERR"
# the API keeps a PATCH's priority in the range a submit takes
expect_error 400 invalid_argument priority PATCH "/v1/jobs/$A" '{"priority": 1000000001}'
expect_error 400 invalid_argument priority PATCH "/v1/jobs/$A" '{"priority": -1000000001}'
expect 200 PATCH "/v1/jobs/$A" '{"priority": -1000000000}'
sp_stop
