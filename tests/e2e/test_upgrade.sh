#!/usr/bin/env bash
# The binary on disk is replaced while the server runs (a package upgrade): a worker that
# dies is replaced from the binary the server is running, not from whatever the path now
# holds, so the pool does not fall into a respawn loop (issue 11). The new file here is
# not a spawnpool at all, which a re-exec by path would run.
source "$(dirname "$0")/lib.sh"
cp "$SPAWNPOOL_BIN" "$T/spawnpool"
SPAWNPOOL_BIN="$T/spawnpool" sp_start
printf '#!/bin/sh\necho "not the server that runs" >&2\nexit 3\n' >"$T/spawnpool.new"
chmod +x "$T/spawnpool.new"
mv "$T/spawnpool.new" "$T/spawnpool" # as a package manager does: a new file, renamed over
OLD=$(curl -s "$BASE/v1/workers" | jq '.workers[0].pid')
kill -KILL "$OLD"
replaced() {
    curl -s "$BASE/v1/workers" | jq -e --argjson old "$OLD" \
        '.workers[0].pid != $old and .workers[0].pid != null and .workers[0].state == "idle"' >/dev/null
}
wait_for 60 replaced || fail "worker 0 was not replaced: $(curl -s "$BASE/v1/workers" | jq -c '.workers[0]')"
pass "the killed worker was replaced by a working one"
eq "once, not in a loop" "$(curl -s "$BASE/metrics" | awk '$1 == "spawnpool_worker_restarts_total" {print $2}')" 1
submit '{"argv": ["echo", "still here"]}'
eq "jobs run" "$(wait_job "$ID" | jq -r .state)" succeeded
sp_stop
