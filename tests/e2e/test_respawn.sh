#!/usr/bin/env bash
# A worker that keeps dying is respawned with a rate limit (backoff), never in a tight
# loop; once it can start again it comes back. Here the replacement cannot start because
# the binary it re-execs is gone.
source "$(dirname "$0")/lib.sh"
mkdir -p "$T/bin"
cp "$SPAWNPOOL_BIN" "$T/bin/spawnpool"
SPAWNPOOL_BIN="$T/bin/spawnpool" sp_start
mv "$T/bin/spawnpool" "$T/bin/spawnpool.away"
W0=$(curl -s "$BASE/v1/workers" | jq -r '.workers[0].pid')
kill -KILL "$W0"
START=$SECONDS
restarts() { curl -s "$BASE/metrics" | awk '/^spawnpool_worker_restarts_total/ {print $2}'; }
wait_for 5 bash -c "[ \$(curl -s $BASE/metrics | awk '/^spawnpool_worker_restarts_total/ {print \$2}') -ge 3 ]" ||
    fail "replacements did not fail as expected"
while [ $((SECONDS - START)) -lt 3 ]; do sleep 0.2; done
N=$(restarts)
check "failing replacements are rate-limited ($N deaths in 3 s)" test "$N" -le 8
grep -q "worker 0 .* exited with status 126: replacing it" "$T/server.err" || fail "deaths not logged"
submit '{"argv":["true"]}'
eq "the other worker keeps running jobs" "$(wait_job "$ID" | jq -r .state)" succeeded
mv "$T/bin/spawnpool.away" "$T/bin/spawnpool"
back() { [ "$(curl -s "$BASE/v1/workers" | jq -r '.workers[0].state')" == idle ]; }
wait_for 15 back || fail "worker 0 did not come back"
pass "worker 0 is back once it can start"
sp_stop
