#!/usr/bin/env bash
# Idle clients cannot starve others: one client holds 1000 idle connections open while a
# second one is still served (a job submitted, waited for and its output read). The server
# starts under the common soft limit of 1024 open files and must raise its own to fit
# --max-connections (2048 here: 1000 stay under the point where the oldest idle ones are
# closed to make room); the jobs it runs still get the limit it was started with.
source "$(dirname "$0")/lib.sh"
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 8192 ] ||
    { echo "# SKIP: hard open-files limit $(ulimit -Hn) is below 8192"; exit 0; }
ulimit -Sn 2048 # this shell holds the 1000 connections
SP_WRAP="prlimit --nofile=1024:" sp_start --max-connections-per-address 0 --max-connections 2048
SOFT=$(awk '/^Max open files/ {print $4}' "/proc/$SP_PID/limits")
check "the server raised its soft open-files limit to fit --max-connections 2048, each with an output file ($SOFT)" [ "$SOFT" -gt 4160 ]
HOSTPORT=${BASE#http://}
FDS=()
for _ in $(seq 1000); do
    exec {fd}<>"/dev/tcp/${HOSTPORT%:*}/${HOSTPORT##*:}" || fail "could not open connection ${#FDS[@]}"
    FDS+=("$fd")
done
pass "1000 idle connections are open"
wait_for 60 server_fds_over 1000 || fail "the server holds $(fd_count "$SP_PID") fds"
pass "and the server has accepted them"
eq "a second client is served" "$(curl -s -m 60 "$BASE/healthz" | jq -r .status)" ok
ID=$(curl -s -m 60 -X POST --json '{"argv":["sh","-c","ulimit -Sn"]}' "$BASE/v1/jobs" | jq -r .id)
eq "its job runs" "$(curl -s -m 60 "$BASE/v1/jobs/$ID/wait?timeout=60" | jq -r .state)" succeeded
eq "with the open-files limit the server was started with" "$(curl -s -m 60 "$BASE/v1/jobs/$ID/output")" 1024
for fd in "${FDS[@]}"; do exec {fd}>&-; done
# (30 s, not 60: at 60 s of silence the server drops a connection anyway)
wait_for 30 server_fds_under 100 || fail "closed connections still held"
pass "closed connections are released"
sp_stop
