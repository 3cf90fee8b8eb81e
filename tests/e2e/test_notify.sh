#!/usr/bin/env bash
# notify_url: when a job ends, its final JSON is POSTed there (http/https only), retried
# with backoff on failure, every outcome recorded in job_events; pending callbacks survive
# a restart.
source "$(dirname "$0")/lib.sh"
RECEIVER_BIN=${RECEIVER_BIN:-$(dirname "$SPAWNPOOL_BIN")/tests/test_receiver}
"$RECEIVER_BIN" 1 >"$T/received.txt" &
RECV=$!
trap 'kill $RECV 2>/dev/null; cleanup' EXIT
wait_for 60 test -s "$T/received.txt" || fail "receiver did not start"
RPORT=$(head -n 1 "$T/received.txt")
sp_start
DB="$T/data/spawnpool.db"

submit "{\"argv\":[\"/bin/sh\",\"-c\",\"exit 4\"],\"notify_url\":\"http://127.0.0.1:$RPORT/hook\"}"; N=$ID
eq "shown in the job" "$(jq -r .notify_url <<<"$BODY")" "http://127.0.0.1:$RPORT/hook"
wait_job "$N" >/dev/null
# the receiver answers 500 once: the callback is retried (after 1 s) and then delivered
wait_for 60 bash -c "[ \$(tail -n +2 '$T/received.txt' | grep -c '\"id\":$N') -ge 2 ]" || fail "callback not retried: $(cat "$T/received.txt")"
LAST=$(tail -n +2 "$T/received.txt" | grep "\"id\":$N" | tail -n 1)
eq "the final job was posted" "$(jq -c '[.id,.state,.exit_code]' <<<"$LAST")" "[$N,\"failed\",4]"
wait_for 60 bash -c "sqlite3 '$DB' \"SELECT detail FROM job_events WHERE job_id = $N\" | grep -q 'notify_url answered 200 (attempt 2)'" ||
    fail "outcome not recorded: $(sqlite3 "$DB" "SELECT detail FROM job_events WHERE job_id = $N")"
check "the failed attempt is recorded too" bash -c "sqlite3 '$DB' \"SELECT detail FROM job_events WHERE job_id = $N\" | grep -q 'notify_url failed (attempt 1 of 10): HTTP 500'"
eq "nothing left to send" "$(sqlite3 "$DB" "SELECT count(*) FROM notifications")" 0

# an unreachable URL: pending across a restart
submit '{"argv":["true"],"notify_url":"http://127.0.0.1:9/nowhere"}'; U=$ID
wait_job "$U" >/dev/null
wait_for 60 bash -c "[ \$(sqlite3 '$DB' 'SELECT attempts FROM notifications WHERE job_id = $U') -ge 1 ]" || fail "no attempt"
sp_stop
eq "still pending after the stop" "$(sqlite3 "$DB" "SELECT count(*) FROM notifications WHERE job_id = $U")" 1
sp_start
wait_for 60 bash -c "[ \$(sqlite3 '$DB' 'SELECT attempts FROM notifications WHERE job_id = $U') -ge 2 ]" || fail "not resumed after the restart"
pass "retries resume after a restart"

expect_error 400 invalid_argument notify_url POST /v1/jobs '{"argv":["true"],"notify_url":"ftp://x/y"}'
expect_error 400 invalid_argument notify_url POST /v1/jobs '{"argv":["true"],"notify_url":"file:///etc/passwd"}'
expect_error 400 invalid_argument notify_url POST /v1/jobs '{"argv":["true"],"notify_url":"http://a b"}'
sp_stop
