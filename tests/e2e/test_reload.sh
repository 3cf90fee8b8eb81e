#!/usr/bin/env bash
# SIGHUP reloads without a restart: a token added to the token file is accepted and a
# removed one refused, while a job that was running keeps running; allowed origins and
# hosts from the config file change too; a setting that needs a restart is logged as such;
# a broken config or an empty token file keeps the old settings and says why.
source "$(dirname "$0")/lib.sh"
printf 'old-token\n' >"$T/tokens"
echo '{"allow_origin": ["http://one.example"]}' >"$T/config.json"
sp_start --token-file "$T/tokens" --config "$T/config.json"
eq "the lock file names the master" "$(cat "$T/data/spawnpool.lock")" "$SP_PID"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
auth() { echo "Authorization: Bearer $1"; }
# reloaded [N]: waits for the Nth "reload done" or "reload failed" line of the log
reloads=0
hup() {
    reloads=$((reloads + 1))
    kill -HUP "$(cat "$T/data/spawnpool.lock")" # the master's pid, as the README says
    wait_for 60 bash -c "[ \$(grep -cE 'reload (done|failed)' '$T/server.err') -ge $reloads ]" ||
        fail "no reload logged after SIGHUP #$reloads"
}

ID=$(curl -s -H "$(auth old-token)" --json '{"argv":["sleep","600"]}' "$BASE/v1/jobs" | jq -r .id)
running() { [ "$(curl -s -H "$(auth old-token)" "$BASE/v1/jobs/$ID" | jq -r .state)" == running ]; }
wait_for 60 running || fail "the job never ran"
eq "the new token is refused before the reload" "$(code -H "$(auth new-token)" "$BASE/v1/jobs")" 401
eq "an origin not yet allowed is refused" "$(code -H 'Origin: http://two.example' "$BASE/healthz")" 403

printf 'old-token\nnew-token\n' >"$T/tokens"
echo '{"allow_origin": ["http://two.example"], "allow_host": "spawn.internal"}' >"$T/config.json"
hup
eq "after SIGHUP the added token is accepted" "$(code -H "$(auth new-token)" "$BASE/v1/jobs")" 200
eq "and the old one still" "$(code -H "$(auth old-token)" "$BASE/v1/jobs")" 200
eq "the newly allowed origin is let in" "$(code -H 'Origin: http://two.example' "$BASE/healthz")" 200
eq "the origin taken out is refused" "$(code -H 'Origin: http://one.example' "$BASE/healthz")" 403
eq "the added host is accepted" "$(code -H 'Host: spawn.internal' "$BASE/healthz")" 200
check "the log says what changed" grep -q 'reload: tokens: 1 added, 0 removed, 2 in use' "$T/server.err"
check "naming origins" grep -q 'reload: allow-origin http://two.example added' "$T/server.err"
grep -q 'new-token' "$T/server.err" && fail "a token was written to the log"
pass "no token in the log"

printf 'new-token\n' >"$T/tokens"
hup
eq "a removed token is refused" "$(code -H "$(auth old-token)" "$BASE/v1/jobs")" 401
eq "the job kept running through the reloads" "$(curl -s -H "$(auth new-token)" "$BASE/v1/jobs/$ID" | jq -r .state)" running

echo '{"allow_origin": ["http://two.example"], "allow_host": "spawn.internal", "max_body": "100"}' >"$T/config.json"
hup
check "a setting that needs a restart is logged as such" grep -q 'applied only at the next start: max-body' "$T/server.err"
BIG=$(printf '{"argv":["echo","%0150d"]}' 0)
eq "and not applied (a 170-byte body is still taken)" "$(code -H "$(auth new-token)" --json "$BIG" "$BASE/v1/jobs")" 201

echo '{"allow_origin": [' >"$T/config.json"
hup
check "a broken config is refused, with the reason" grep -q 'reload failed, the current settings stay: config file' "$T/server.err"
eq "the settings in force stay" "$(code -H 'Origin: http://two.example' -H "$(auth new-token)" "$BASE/v1/jobs")" 200
echo '{}' >"$T/config.json"
: >"$T/tokens"
hup
check "an empty token file is refused" grep -q 'holds no token' "$T/server.err"
eq "the token in force stays" "$(code -H "$(auth new-token)" "$BASE/v1/jobs")" 200
eq "and no token is not let in" "$(code "$BASE/v1/jobs")" 401
eq "the job is still running" "$(curl -s -H "$(auth new-token)" "$BASE/v1/jobs/$ID" | jq -r .state)" running

# a rotation that is not an atomic rename: the file is gone for a moment
rm "$T/tokens"
hup
check "a missing token file is an error on reload (not a new random token)" grep -q 'reload failed.*token file' "$T/server.err"
test -e "$T/tokens" && fail "the reload made a token file"
eq "the token in force stays" "$(code -H "$(auth new-token)" "$BASE/v1/jobs")" 200
# files that would stall a reload, which runs in the main loop
mkfifo "$T/tokens"
hup
check "a FIFO as token file is refused at once" grep -q 'token file .* is not a regular file' "$T/server.err"
rm "$T/tokens"
printf 'new-token\n%02000d\n' 0 >"$T/tokens"
hup
check "a line over 1023 bytes is refused, not cut into several tokens" grep -q 'a line of over 1023 bytes' "$T/server.err"
eq "the token in force stays" "$(code -H "$(auth new-token)" "$BASE/v1/jobs")" 200
printf 'Case-Token\ncase-token\n' >"$T/tokens"
hup
eq "tokens that differ only in case are both kept (1)" "$(code -H "$(auth Case-Token)" "$BASE/v1/jobs")" 200
eq "tokens that differ only in case are both kept (2)" "$(code -H "$(auth case-token)" "$BASE/v1/jobs")" 200
eq "the job ran through all of it" "$(curl -s -H "$(auth case-token)" "$BASE/v1/jobs/$ID" | jq -r .state)" running
sp_stop
