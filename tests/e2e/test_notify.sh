#!/usr/bin/env bash
# notify_url: when a job ends, its final JSON is POSTed there (http/https only), retried
# with backoff on failure, every outcome recorded in job_events; pending callbacks survive
# a restart. Every POST says User-Agent: spawnpool/<version> and is signed with HMAC-SHA256
# under the server's secret (Spawnpool-Timestamp, Spawnpool-Signature: v1=<hex>), which a
# receiver checks with openssl as the README shows.
source "$(dirname "$0")/lib.sh"
RECEIVER_BIN=${RECEIVER_BIN:-$(dirname "$SPAWNPOOL_BIN")/tests/test_receiver}
mkdir "$T/req"
"$RECEIVER_BIN" 1 "$T/req" >"$T/received.txt" &
RECV=$!
# cleanup takes the test's exit status from $?: keep it past the kill (a failure exits 1)
trap 'rc=$?; kill "$RECV" 2>/dev/null; (exit $rc); cleanup' EXIT
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

# every attempt is signed: HMAC-SHA256 under the secret made in the data dir, over
# "<timestamp>.<body>", recomputed here the way the README tells a receiver to
SECRET_FILE="$T/data/notify-secret"
eq "a secret was made in the data dir, mode 0600" "$(stat -c %a "$SECRET_FILE")" 600
check "a long random secret" grep -qE '^[0-9a-f]{64}$' "$SECRET_FILE"
header() { # FILE NAME: the value of a header of a kept request
    grep -i "^$2:" "$1" | head -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'
}
verify() { # N SECRET: request N carries a valid signature under SECRET
    local ts sig want
    ts=$(header "$T/req/$1.head" Spawnpool-Timestamp)
    sig=$(header "$T/req/$1.head" Spawnpool-Signature)
    want=$({ printf '%s.' "$ts"; cat "$T/req/$1.body"; } | openssl dgst -sha256 -hmac "$2" | awk '{print $NF}')
    [ -n "$ts" ] && [ "$sig" == "v1=$want" ] && [ $(( $(date +%s) - ts )) -lt 60 ]
}
VERSION=$("$SPAWNPOOL_BIN" --version | awk '{print $2}')
for n in 0 1; do
    eq "request $n: User-Agent" "$(header "$T/req/$n.head" User-Agent)" "spawnpool/$VERSION"
    check "request $n: the signature verifies" verify "$n" "$(cat "$SECRET_FILE")"
done
if verify 1 "not the secret"; then fail "another secret verifies too"; else pass "another secret does not verify"; fi
# the receiver's check as docs/multiprocessing.md shows it (example notify-verify), on the
# request as received: body.json, TS and SIG, and the secret in ./notify-secret
cp "$T/req/1.body" "$T/body.json"
cp "$SECRET_FILE" "$T/notify-secret"
TS=$(header "$T/req/1.head" Spawnpool-Timestamp)
SIG=$(header "$T/req/1.head" Spawnpool-Signature)
export TS SIG
run_example notify-verify
example_shows "genuine and fresh"
if readme_example notify-verify | (cd "$T" && SIG=v1=0 bash -e) >/dev/null 2>&1; then
    fail "the docs' check accepts a wrong signature"
fi
pass "the docs' check refuses a wrong signature"

# an unreachable URL: pending across a restart
submit '{"argv":["true"],"notify_url":"http://127.0.0.1:9/nowhere"}'; U=$ID
wait_job "$U" >/dev/null
wait_for 60 bash -c "[ \$(sqlite3 '$DB' 'SELECT attempts FROM notifications WHERE job_id = $U') -ge 1 ]" || fail "no attempt"
sp_stop
eq "still pending after the stop" "$(sqlite3 "$DB" "SELECT count(*) FROM notifications WHERE job_id = $U")" 1
sp_start
wait_for 60 bash -c "[ \$(sqlite3 '$DB' 'SELECT attempts FROM notifications WHERE job_id = $U') -ge 2 ]" || fail "not resumed after the restart"
pass "retries resume after a restart"

# a queued job's callback survives a restart too (whether a live job has a notify_url is
# found out when the queued jobs are read at start)
expect 200 PATCH /v1/queues/later '{"paused":true}'
submit "{\"argv\":[\"true\"],\"queue\":\"later\",\"notify_url\":\"http://127.0.0.1:$RPORT/later\"}"; L=$ID
sp_stop
sp_start
expect 200 PATCH /v1/queues/later '{"paused":false}'
eq "the queued job ran" "$(wait_job "$L" | jq -r .state)" succeeded
wait_for 10 test -e "$T/req/2.head" || fail "no callback for the job queued across the restart"
check "its callback came" grep -q '"id":'"$L"',' "$T/req/2.body"

# a secret of one's own: --notify-secret-file
sp_stop
printf 'my shared secret\n' >"$T/secret"
sp_start --notify-secret-file "$T/secret"
submit "{\"argv\":[\"true\"],\"notify_url\":\"http://127.0.0.1:$RPORT/own\"}"
wait_for 10 test -e "$T/req/3.head" || fail "no callback under the own secret"
check "signed with the given secret (its trailing newline left out)" verify 3 "my shared secret"
: >"$T/empty"
sp_refused "an empty secret file" --notify-secret-file "$T/empty"
check "it says why" grep -q "notify-secret-file $T/empty holds no secret" "$T/refused.err"
sp_refused "a secret file that is a directory" --notify-secret-file "$T"
check "it names the file" grep -q "notify-secret-file $T" "$T/refused.err"

expect_error 400 invalid_argument notify_url POST /v1/jobs '{"argv":["true"],"notify_url":"ftp://x/y"}'
expect_error 400 invalid_argument notify_url POST /v1/jobs '{"argv":["true"],"notify_url":"file:///etc/passwd"}'
expect_error 400 invalid_argument notify_url POST /v1/jobs '{"argv":["true"],"notify_url":"http://a b"}'
sp_stop
