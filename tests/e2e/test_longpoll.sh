#!/usr/bin/env bash
# /wait is a long-poll: it returns as soon as the job ends, or at its timeout, and holds no
# thread while waiting; output?follow=1 streams until the job ends.
source "$(dirname "$0")/lib.sh"
sp_start --http-threads 1

# wakes on completion, well before its timeout: the wait is held (long_polls) before the job
# is let go
submit "{\"command\":\"$(hold j1)\"}"; J1=$ID
curl -s "$BASE/v1/jobs/$J1/wait?timeout=120" >"$T/j1" &
W=$!
wait_for 60 long_polls_are 1 || fail "the wait is not held"
START=$(date +%s%N)
release j1
wait "$W"
MS=$((($(date +%s%N) - START) / 1000000))
eq "wait returns the finished job" "$(jq -r .state "$T/j1")" succeeded
check "woke on completion (${MS} ms after), not at the 120 s timeout" test "$MS" -lt 60000

# returns the job as it is at the deadline (a job that runs until it is terminated)
submit "{\"command\":\"$(hold long)\"}"; LONG=$ID
START=$(date +%s%N)
J=$(curl -s -m 120 "$BASE/v1/jobs/$LONG/wait?timeout=0.4")
MS=$((($(date +%s%N) - START) / 1000000))
check "deadline answer is the running job" jq -e '.state == "running" or .state == "queued"' <<<"$J"
check "answered at the deadline (${MS} ms), not when the job ends" test "$MS" -ge 350 -a "$MS" -lt 60000
eq "timeout=0 answers at once" "$(curl -s "$BASE/v1/jobs/$LONG/wait?timeout=0" | jq -r .id)" "$LONG"

# 20 suspended waiters on one HTTP thread do not stop other requests: /metrics answers that
# it holds all 20, and a GET is answered well before any of them ends (at their 300 s
# timeout, or when the job is terminated after the GET)
PIDS=()
for i in $(seq 20); do
    curl -s -o "$T/wait.$i" "$BASE/v1/jobs/$LONG/wait?timeout=300" &
    PIDS+=($!)
done
wait_for 60 long_polls_are 20 || fail "the server holds $(metric spawnpool_long_polls) waits, want 20"
START=$(date +%s%N)
expect 200 GET "/v1/jobs/$LONG"
MS=$((($(date +%s%N) - START) / 1000000))
check "a GET is answered while 20 waits are held (${MS} ms)" test "$MS" -lt 60000
expect 202 POST "/v1/jobs/$LONG/terminate"
for p in "${PIDS[@]}"; do wait "$p"; done
for i in $(seq 20); do
    [ "$(jq -r .state "$T/wait.$i")" == terminated ] || fail "waiter $i: $(cat "$T/wait.$i")"
done
pass "all 20 waiters woke when the job ended"

# follow=1 streams output as it comes and ends with the job
submit '{"argv":["/bin/sh","-c","for i in 1 2 3 4 5; do echo line $i; sleep 0.1; done"]}'; F=$ID
OUT=$(curl -s -N --max-time 60 "$BASE/v1/jobs/$F/output?follow=1")
eq "followed output is complete" "$OUT" "$(printf 'line %s\n' 1 2 3 4 5)"
eq "the job ended" "$(job_field "$F" .state)" succeeded
eq "follow of a finished job" "$(curl -s --max-time 60 "$BASE/v1/jobs/$F/output?follow=1&offset=7")" \
    "$(printf 'line %s\n' 2 3 4 5)"
submit '{"argv":["true"]}'; wait_job "$ID" >/dev/null
eq "follow of an empty output ends" "$(curl -s --max-time 60 "$BASE/v1/jobs/$ID/output?follow=1" | wc -c)" 0

# output cap: --max-output per stream, truncated marked
sp_stop
sp_start --max-output 1000
submit '{"argv":["/bin/sh","-c","head -c 50000 /dev/zero | tr \"\\\\0\" x"]}'
J=$(wait_job "$ID")
eq "capped stdout" "$(jq -c '[.output.stdout_bytes,.output.truncated]' <<<"$J")" "[1000,true]"
eq "capture file holds the cap" "$(curl -s "$BASE/v1/jobs/$ID/output" | wc -c)" 1000
eq "job itself succeeded" "$(jq -r .state <<<"$J")" succeeded
sp_stop
