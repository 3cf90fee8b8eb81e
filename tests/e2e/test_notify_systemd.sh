#!/usr/bin/env bash
# sd_notify without systemd (server/notify_systemd.c): with $NOTIFY_SOCKET set, the server
# sends READY=1 and its STATUS= once it listens, RELOADING=1 with MONOTONIC_USEC= then
# READY=1 around a SIGHUP reload, STOPPING=1 when SIGTERM starts the drain; jobs do not see
# NOTIFY_SOCKET. The real systemd is tests/container/systemd.sh's.
source "$(dirname "$0")/lib.sh"
LISTENER=${NOTIFY_LISTENER_BIN:-$(dirname "$SPAWNPOOL_BIN")/tests/test_notify_listener}
[ -x "$LISTENER" ] || fail "no notify listener at $LISTENER (build the tests)"
"$LISTENER" "$T/notify.sock" >"$T/notify.out" 2>"$T/notify.err" &
LPID=$!
BG_PIDS+=("$LPID") # (killed by lib.sh's cleanup, which also stops the server and its proxy)
wait_for 60 grep -q '^listening$' "$T/notify.out" || fail "the listener did not start"
NOTIFY_SOCKET=$T/notify.sock sp_start
wait_for 60 grep -q '^READY=1$' "$T/notify.out" || fail "no READY=1 after the server listened"
port=${SP_BASE##*:} # (the server's own port: BASE may be the recording proxy)
check "READY=1 carries the status" grep -qx "STATUS=listening on port $port with 2 workers" "$T/notify.out"

ID=$(curl -s --json '{"command": "env | grep -c NOTIFY_SOCKET || true"}' "$BASE/v1/jobs" | jq -r .id)
eq "the env job succeeded" "$(wait_job "$ID" | jq -r .state)" succeeded
eq "jobs do not see NOTIFY_SOCKET" "$(curl -s "$BASE/v1/jobs/$ID/output?stream=stdout")" 0

kill -HUP "$SP_PID"
wait_for 60 grep -qx 'STATUS=reloaded' "$T/notify.out" || fail "no READY=1 STATUS=reloaded after SIGHUP"
check "RELOADING=1 comes with MONOTONIC_USEC" grep -A1 -x 'RELOADING=1' "$T/notify.out"
grep -A1 -x 'RELOADING=1' "$T/notify.out" | grep -qE '^MONOTONIC_USEC=[0-9]+$' || fail "no MONOTONIC_USEC= after RELOADING=1"
# the order: READY (start), RELOADING, READY (reloaded)
eq "the states in order" "$(grep -E '^(READY|RELOADING|STOPPING)=1$' "$T/notify.out" | tr '\n' ' ')" "READY=1 RELOADING=1 READY=1 "

sp_stop
check "STOPPING=1 once the drain began" grep -qx 'STOPPING=1' "$T/notify.out"
eq "the states in order" "$(grep -E '^(READY|RELOADING|STOPPING)=1$' "$T/notify.out" | tr '\n' ' ')" "READY=1 RELOADING=1 READY=1 STOPPING=1 "
