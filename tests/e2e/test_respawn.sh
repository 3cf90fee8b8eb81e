#!/usr/bin/env bash
# A worker that keeps dying is respawned with a rate limit (backoff), never in a tight
# loop; once it can live again it comes back. Here every replacement of worker 0 is killed
# as soon as the server lists it (a worker that dies young), until the test stops doing so.
source "$(dirname "$0")/lib.sh"
sp_start
pid0() { curl -s "$BASE/v1/workers" | jq -r '.workers[0].pid'; }
W0=$(pid0)
# the killer: each new worker 0, killed the moment it is seen
(
    last=$W0
    kill -KILL "$W0"
    while [ ! -e "$T/stop-killing" ]; do
        p=$(pid0)
        if [ "$p" != null ] && [ "$p" != "$last" ]; then
            kill -KILL "$p" 2>/dev/null
            last=$p
        fi
        sleep 0.005
    done
) &
KILLER=$!
trap 'touch "$T/stop-killing"; wait "$KILLER" 2>/dev/null; cleanup' EXIT
restarts_over() { [ "$(metric spawnpool_worker_restarts_total)" -gt "$1" ]; }
wait_for 60 restarts_over 4 || fail "replacements were not killed as expected"
# the rate, by the server's clock: after a worker that died young the next one starts 0.1 s
# later, then twice as long after each further young death. Between the first and the fourth
# death that is at least 0.1 + 0.2 + 0.4 s (in a tight loop: a few ms)
DEATHS=($(sed -n 's/^\([^ ]*\) warn worker 0 .* killed by signal 9.*: replacing it$/\1/p' "$T/server.err"))
[ ${#DEATHS[@]} -ge 4 ] || fail "deaths not logged: $(grep 'worker 0' "$T/server.err" | tail -n 3)"
MS=$(($(epoch_ms "${DEATHS[3]}") - $(epoch_ms "${DEATHS[0]}")))
check "failing replacements are rate-limited (4 deaths in $MS ms)" test "$MS" -ge 700
submit '{"argv":["true"]}'
eq "the other worker keeps running jobs" "$(wait_job "$ID" | jq -r .state)" succeeded
touch "$T/stop-killing"
wait "$KILLER"
back() { [ "$(curl -s "$BASE/v1/workers" | jq -r '.workers[0].state')" == idle ]; }
wait_for 60 back || fail "worker 0 did not come back"
pass "worker 0 is back once it can live"
sp_stop
