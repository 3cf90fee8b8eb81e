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
restarts_over() { [ "$(metric spawnpool_worker_restarts_total)" -gt "$1" ]; }
wait_for 60 restarts_over 4 || fail "replacements did not fail as expected"
grep -q "worker 0 .* exited with status 126: replacing it" "$T/server.err" || fail "deaths not logged"
# the rate, by the server's clock: after a worker that died young the next one starts 0.1 s
# later, then twice as long after each further young death. Between the first and the fourth
# failed replacement that is at least 0.1 + 0.2 + 0.4 s (in a tight loop: a few ms)
DEATHS=($(sed -n 's/^\([^ ]*\) warn worker 0 .* exited with status 126: replacing it$/\1/p' "$T/server.err"))
MS=$(($(epoch_ms "${DEATHS[3]}") - $(epoch_ms "${DEATHS[0]}")))
check "failing replacements are rate-limited (4 deaths in $MS ms)" test "$MS" -ge 700
submit '{"argv":["true"]}'
eq "the other worker keeps running jobs" "$(wait_job "$ID" | jq -r .state)" succeeded
mv "$T/bin/spawnpool.away" "$T/bin/spawnpool"
back() { [ "$(curl -s "$BASE/v1/workers" | jq -r '.workers[0].state')" == idle ]; }
wait_for 60 back || fail "worker 0 did not come back"
pass "worker 0 is back once it can start"
sp_stop
