#!/usr/bin/env bash
# A full disk (issue 11, finding 7): the data dir lives on a 16 MiB tmpfs, jobs are running,
# then the disk is filled while an outside reader pins the WAL (so SQLite must grow it, and
# fails). Whatever was acknowledged must not be lost or run twice: submits get 503 with
# Retry-After, /healthz says the store is degraded, and when space returns the server
# recovers by itself and records every job's end exactly once; a graceful stop then says
# every state is recorded, and a restart runs nothing again.
# Needs root (mount); skipped otherwise unless SPAWNPOOL_REQUIRE_TMPFS=1.
source "$(dirname "$0")/lib.sh"
sp_sqlite_only "it fills the disk under the SQLite file; PostgreSQL keeps its data on its own server"
SMALL="$T/small"
mkdir -p "$SMALL"
if ! mount -t tmpfs -o size=16m tmpfs "$SMALL" 2>"$T/mount.err"; then
    [ "${SPAWNPOOL_REQUIRE_TMPFS:-0}" == 1 ] && fail "cannot mount a tmpfs: $(cat "$T/mount.err")"
    echo "skip: cannot mount a tmpfs ($(cat "$T/mount.err")); needs root"
    exit 0
fi
unmount() { umount -l "$SMALL" 2>/dev/null; }
trap 'rc=$?; unmount; (exit $rc); cleanup' EXIT
DATA="$SMALL/data"
DB="$DATA/spawnpool.db"
MARKS="$T/marks"
: >"$MARKS"
start() { WORKERS=2 sp_start --data-dir "$DATA" "$@"; }
start

# an outside reader holds a snapshot: the WAL cannot start over, it must grow
(
    echo "BEGIN;"
    echo "SELECT 'reading', count(*) FROM jobs;"
    until [ -e "$T/stop-reader" ] || [ ! -d "$T" ]; do sleep 0.05; done
    echo "COMMIT;"
) | sqlite3 "$DB" >"$T/reader.out" 2>&1 &
BG_PIDS+=("$!")
wait_for 30 grep -q reading "$T/reader.out" || fail "the outside reader never read"

# a client that keeps the main loop busy (an event stream polls every 250 ms): batches that
# only journal while the retry waits must not push the retry away for good (hostile review)
curl -s -N "$BASE/v1/events" >/dev/null 2>&1 &
BG_PIDS+=("$!")

body="["
for i in $(seq 1 10); do
    [ "$i" -gt 1 ] && body+=","
    body+="{\"command\": \"echo $i >> $MARKS; $(hold go)\", \"max_attempts\": 3, \"name\": \"j$i\"}"
done
body+="]"
req POST /v1/jobs "$body"
[ "$STATUS" == 201 ] || fail "submit: $STATUS $BODY"
IDS=$(jq -r '.jobs[].id' <<<"$BODY")
two_running() { [ "$(curl -s "$BASE/healthz" | jq -r .jobs.running)" == 2 ]; }
wait_for 60 two_running || fail "two jobs never ran"
pass "10 jobs acknowledged, 2 running"

dd if=/dev/zero of="$SMALL/fill" bs=64k >/dev/null 2>&1 || true
check "the disk is full" test "$(df --output=avail "$SMALL" | tail -n 1)" -lt 64
release go # the jobs end, one after another, while nothing can be written
wait_for 120 healthz_is store_degraded || fail "healthz never said the store is degraded"
pass "healthz says store_degraded"
req POST /v1/jobs '{"command": "true"}'
eq "a submit while the disk is full: 503" "$STATUS" 503
eq "... store_unavailable" "$(jq -r .error.code <<<"$BODY")" store_unavailable
check "... with Retry-After" grep -qi '^Retry-After: ' "$T/headers"
eq "metric spawnpool_store_degraded" "$(metric spawnpool_store_degraded)" 1

sleep_until_busy() { [ "$(curl -s "$BASE/healthz" | jq -r .store.failed_commits)" -ge 3 ]; }
wait_for 60 sleep_until_busy || fail "the store did not retry while the disk was full"
rm -f "$SMALL/fill"
wait_for 30 healthz_is ok || fail "the server did not recover once space returned (an event stream open)"
pass "space back: the server recovers by itself"
all_ended() { [ "$(curl -s "$BASE/v1/jobs?state=succeeded&limit=100" | jq '.jobs | length')" == 10 ]; }
wait_for 120 all_ended || fail "not every job ended succeeded: $(curl -s "$BASE/v1/jobs?limit=100" | jq -c '[.jobs[] | [.id, .state, .attempt]]')"
pass "all 10 jobs recorded succeeded"
eq "each ran once (attempt 1)" "$(curl -s "$BASE/v1/jobs?limit=100" | jq '[.jobs[] | select(.attempt != 1)] | length')" 0
eq "each marker once" "$(sort -n "$MARKS" | uniq | wc -l) $(wc -l <"$MARKS")" "10 10"
: >"$T/stop-reader"
sp_stop
check "a graceful stop says every state is recorded" grep -q "every job's state is recorded" "$T/server.err"
start
for id in $IDS; do
    eq "job $id after the restart" "$(job_field "$id" '[.state, .attempt] | join(" ")')" "succeeded 1"
done
eq "nothing ran again" "$(wc -l <"$MARKS")" 10
check "integrity_check" test "$(sqlite3 "$DB" 'PRAGMA integrity_check')" == ok
sp_stop
