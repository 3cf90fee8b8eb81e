#!/usr/bin/env bash
# Readers never wait for the writer: HTTP threads read through read-only connections of their
# own, so while the main loop is stuck in a write (here: another process holds the database's
# write lock, so the main loop's BEGIN IMMEDIATE waits for it, batch open), GET /v1/jobs/{id},
# GET /v1/jobs, a /wait on an ended job, its output and the event stream all still answer at
# once, and what they answer is the last commit. Readers leave no read transaction open: a
# TRUNCATE checkpoint from outside is not kept waiting by one.
source "$(dirname "$0")/lib.sh"
sp_sqlite_only "it holds SQLite's write lock and checkpoints its WAL"
sp_start --http-threads 2
DB=$T/data/spawnpool.db

submit '{"argv":["echo","before the lock"]}'
J1=$ID
submit '{"argv":["true"]}'
J2=$ID
wait_job "$J2" >/dev/null
wait_job "$J1" >/dev/null
eq "job $J1 succeeded" "$(job_field "$J1" .state)" succeeded

# another process takes the write lock and keeps it until we say so
mkfifo "$T/sql"
sqlite3 "$DB" <"$T/sql" >"$T/sql.out" 2>&1 &
SQL_PID=$!
exec 3>"$T/sql"
echo "BEGIN IMMEDIATE; SELECT 'locked';" >&3
wait_for 60 grep -q '^locked$' "$T/sql.out" || fail "the sqlite3 shell did not take the write lock"
pass "another process holds the database's write lock"

# a submit makes the main loop write: it blocks in its batch (busy_timeout: 5 s per try)
curl -s -m 120 -o "$T/post.body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary '{"argv":["echo","during the lock"]}' "$BASE/v1/jobs" >"$T/post.status" &
POST=$!

# while it waits, every read answers at once (2 s is a claim about speed: a reader that waited
# for the writer would take the 5 s of the writer's busy timeout at least), for 3 s
slow=0 rounds=0 end=$((SECONDS + 3))
while [ $SECONDS -lt $end ]; do
    rounds=$((rounds + 1))
    got=$(curl -s -m 2 "$BASE/v1/jobs/$J1" | jq -r .state) || true
    [ "$got" == succeeded ] || { slow=$((slow + 1)); echo "GET /v1/jobs/$J1 answered '$got'"; }
    got=$(curl -s -m 2 "$BASE/v1/jobs?limit=10" | jq -r '.jobs | length') || true
    [ "$got" == 2 ] || { slow=$((slow + 1)); echo "GET /v1/jobs listed '$got' jobs, want 2 (the committed ones)"; }
    got=$(curl -s -m 2 "$BASE/v1/jobs/$J1/wait?timeout=30" | jq -r .state) || true
    [ "$got" == succeeded ] || { slow=$((slow + 1)); echo "/wait on ended job $J1 answered '$got'"; }
    got=$(curl -s -m 2 "$BASE/v1/jobs/wait?ids=$J1,$J2&timeout=30" | jq -r .done) || true
    [ "$got" == true ] || { slow=$((slow + 1)); echo "/v1/jobs/wait answered done '$got'"; }
    got=$(curl -s -m 2 "$BASE/v1/jobs/$J1/output") || true
    [ "$got" == "before the lock" ] || { slow=$((slow + 1)); echo "output of $J1: '$got'"; }
done
eq "reads during the writer's wait answered at once ($rounds rounds)" "$slow" 0
# the stream sends what is committed (its curl ends at -m: the stream itself never does)
curl -s -N -m 2 "$BASE/v1/events?last_event_id=0" >"$T/events" || true
eq "the event stream sent the committed events" "$(grep -c '^event: state' "$T/events")" 6

# the lock goes: the submit is answered (how, and when, is the write side's business), the
# server goes on
echo "ROLLBACK;" >&3
exec 3>&-
wait "$SQL_PID"
wait "$POST"
pass "the submit was answered after the lock went ($(cat "$T/post.status"))"
# (a refused submit leaves the store degraded until its retry commits: /healthz says when)
wait_for 30 healthz_is ok || fail "the store did not heal after the lock went"
submit '{"argv":["echo","after the lock"]}'
eq "a job submitted afterwards runs" "$(wait_job "$ID" | jq -r .state)" succeeded
eq "and is read at once" "$(curl -s -m 2 "$BASE/v1/jobs/$ID/output")" "after the lock"

# no reader keeps a read transaction open between requests: a TRUNCATE checkpoint (which waits
# for every reader of the WAL) completes, the first column 0 meaning "not blocked"
for _ in $(seq 20); do curl -s "$BASE/v1/jobs/$J1" "$BASE/v1/jobs?limit=5" >/dev/null; done
got=$(sqlite3 "$DB" ".timeout 10000" "PRAGMA wal_checkpoint(TRUNCATE);")
eq "a TRUNCATE checkpoint is not blocked by a reader" "${got%%|*}" 0
eq "reads go on after the checkpoint" "$(job_field "$J1" .state)" succeeded

# long-polls register without a lock across their read, and miss no end: 40 short jobs end
# while 40 waits (one per job) are being registered; every wait answers its job ended, long
# before its 60 s timeout (a missed end would hold its wait until then). The window is a few
# microseconds, so this is a guard, not a proof: tests/unit/test_waiters.c plays each
# interleaving in order (and fails when the registration does not report an end between).
BATCH=$(jq -nc '[range(40) | {argv: ["sleep", "0.0\(. % 5)"]}]')
req POST /v1/jobs "$BATCH"
[ "$STATUS" == 201 ] || fail "batch submit: $STATUS $BODY"
IDS=($(jq -r '.jobs[].id' <<<"$BODY"))
START=$SECONDS
PIDS=()
for id in "${IDS[@]}"; do
    curl -s -m 90 "$BASE/v1/jobs/$id/wait?timeout=60" >"$T/wait.$id" &
    PIDS+=($!)
done
wait "${PIDS[@]}"
ENDED=0
for id in "${IDS[@]}"; do [ "$(jq -r .state "$T/wait.$id")" == succeeded ] && ENDED=$((ENDED + 1)); done
eq "every wait answered its job ended" "$ENDED" 40
check "and long before the waits' 60 s timeout ($((SECONDS - START)) s)" test $((SECONDS - START)) -lt 45

sp_stop
echo "PASS"
