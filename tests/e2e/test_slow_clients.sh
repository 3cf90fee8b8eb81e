#!/usr/bin/env bash
# Slow clients cannot lock others out. 1,100 connections from one address (127.0.0.2: over
# the default --max-connections 1024) each send a request head one byte per second, the
# slow-loris attack that MHD's idle timeout never ends. The per-address limit (a quarter of
# --max-connections) refuses most of them at once, --head-timeout cuts off the rest, and a
# normal client on 127.0.0.1 submits and waits for a job meanwhile. A body sent one byte per
# second is cut off by --body-timeout and creates nothing. An honest keep-alive client is
# unaffected.
source "$(dirname "$0")/lib.sh"
TRICKLE_BIN=${TRICKLE_BIN:-$(dirname "$SPAWNPOOL_BIN")/tests/test_trickle}
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 2048 ] ||
    { echo "# SKIP: hard open-files limit $(ulimit -Hn) is below 2048"; exit 0; }
ulimit -Sn 2048 # the trickle client holds up to 1,100 sockets

"$SPAWNPOOL_BIN" serve --help | grep -q -- '--head-timeout .*default 20' || fail "--head-timeout's default is not 20 s"
"$SPAWNPOOL_BIN" serve --help | grep -q -- '--body-timeout .*default 60' || fail "--body-timeout's default is not 60 s"
pass "--head-timeout 20 s and --body-timeout 60 s by default"

# the server itself, not the recording proxy (lib.sh): the trickling client's connections come
# from 127.0.0.2 and the normal client's from 127.0.0.1, which the server must tell apart
SP_DIRECT=1
sp_start --head-timeout 3 --body-timeout 3
PORT=${BASE##*:}
metric() { curl -s -m 5 "$BASE/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
TRICKLERS=()
stop_tricklers() { for p in "${TRICKLERS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; TRICKLERS=(); }
trap 'stop_tricklers; cleanup' EXIT

"$TRICKLE_BIN" 127.0.0.1 "$PORT" 127.0.0.2 1100 head >"$T/loris.out" &
TRICKLERS+=($!)
wait_for 60 grep -q '^connected 1100' "$T/loris.out" || fail "the trickling client could not connect"
pass "1,100 trickling connections tried"
held() { [ "$(fd_count "$SP_PID")" -gt 200 ]; }
wait_for 60 held || fail "the server holds only $(fd_count "$SP_PID") fds"
pass "the server holds a quarter of them ($(fd_count "$SP_PID") fds)"

# a normal client, meanwhile, from another address
START=$SECONDS
ID=$(curl -s -m 10 --json '{"argv":["echo","served"]}' "$BASE/v1/jobs" | jq -r .id)
[[ $ID =~ ^[0-9]+$ ]] || fail "a normal client could not submit while the slow ones trickle"
eq "a normal client submits and waits" "$(curl -s -m 20 "$BASE/v1/jobs/$ID/wait?timeout=15" | jq -r .state)" succeeded
eq "and reads the output" "$(curl -s -m 10 "$BASE/v1/jobs/$ID/output")" served
echo "# served in $((SECONDS - START)) s while $(tail -n 1 "$T/loris.out")"

cut_off() { [ "$(metric 'spawnpool_http_timeouts_total{phase="head"}')" -ge 200 ]; }
wait_for 60 cut_off || fail "head timeouts: $(metric 'spawnpool_http_timeouts_total{phase="head"}')"
pass "--head-timeout cut off the held ones ($(metric 'spawnpool_http_timeouts_total{phase="head"}'))"
all_closed() { tail -n 1 "$T/loris.out" | grep -q '^open 0 closed 1100$'; }
wait_for 60 all_closed || fail "the slow client still has connections: $(tail -n 1 "$T/loris.out")"
pass "every trickling connection has been closed by the server"
released() { [ "$(fd_count "$SP_PID")" -lt 100 ]; }
wait_for 60 released || fail "the server still holds $(fd_count "$SP_PID") fds"
pass "and released"
stop_tricklers

# a body that never completes
"$TRICKLE_BIN" 127.0.0.1 "$PORT" 127.0.0.3 10 body >"$T/body.out" &
TRICKLERS+=($!)
body_cut() { [ "$(metric 'spawnpool_http_timeouts_total{phase="body"}')" -ge 10 ]; }
wait_for 60 body_cut || fail "body timeouts: $(metric 'spawnpool_http_timeouts_total{phase="body"}')"
pass "--body-timeout cut off 10 trickled bodies"
stop_tricklers
eq "they created no job" "$(curl -s "$BASE/v1/jobs" | jq '.jobs | length')" 1

# many addresses: 5 x 256 connections that stay within the per-address limit and send
# almost nothing, 1,280 in all, over --max-connections; with a deadline far away only the
# eviction of the longest-waiting connection near the limit makes room for a real request
sp_stop
sp_start --head-timeout 600
PORT=${BASE##*:}
for i in 2 3 4 5 6; do
    "$TRICKLE_BIN" 127.0.0.1 "$PORT" "127.0.0.$i" 256 head >"$T/many.$i.out" &
    TRICKLERS+=($!)
done
all_connected() { for i in 2 3 4 5 6; do grep -q '^connected 256' "$T/many.$i.out" || return 1; done; }
wait_for 60 all_connected || fail "the trickling clients could not connect"
pass "1,280 connections from 5 addresses tried"
ID=$(curl -s -m 30 --json '{"argv":["echo","served"]}' "$BASE/v1/jobs" | jq -r .id)
[[ $ID =~ ^[0-9]+$ ]] || fail "a normal client could not submit while 5 addresses hold every connection"
eq "a normal client is served beside them" "$(curl -s -m 60 "$BASE/v1/jobs/$ID/wait?timeout=30" | jq -r .state)" succeeded
EVICTED=$(metric spawnpool_http_evicted_total)
check "by evicting the connections that waited longest for a head ($EVICTED)" [ "$EVICTED" -gt 0 ]
check "which no deadline had cut yet" [ "$(metric 'spawnpool_http_timeouts_total{phase="head"}')" -eq 0 ]
stop_tricklers

# an honest client on one keep-alive connection: requests well inside the deadline
OUT=$(curl -s -w '%{num_connects}\n' -o /dev/null "$BASE/healthz" -o /dev/null "$BASE/v1/jobs" -o /dev/null "$BASE/v1/workers")
eq "three requests on one keep-alive connection" "$(awk '{s += $1} END {print s}' <<<"$OUT")" 1
sp_stop
