#!/usr/bin/env bash
# A job's output read through another node (issue 15, point 5; docs/architecture.md, "Output
# from any node"): nodes a and b share one PostgreSQL database, each with its own data dir.
# Through the node that does not run the job: the output equals what its own node serves
# (stdout, stderr, offsets inside and across chunks), follow=1 shows lines while the job still
# runs, goes on with a retry's attempt and ends when the job ends; a running job's sizes are
# what its node shipped; after `kill -9` of the running node's master, what it wrote before
# (shipped within about a second) stays readable, and the job, recovered lost, keeps its sizes.
source "$(dirname "$0")/lib.sh"
sp_on_postgres || {
    echo "SKIPPED: PostgreSQL only (several nodes share one database): SPAWNPOOL_TEST_DB=postgres"
    exit 0
}

sp_pg_url "$T/shared"
DB_URL=$SP_PG_URL
declare -A URL PID
# node_start NAME: `spawnpool serve --node NAME` on the shared database (data dir $T/NAME)
node_start() {
    local name=$1 out="$T/$1.out"
    : >"$out"
    "$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/$name" --workers 2 --node "$name" \
        --node-timeout 3 --database "$DB_URL" >"$out" 2>>"$T/server.err" &
    PID[$name]=$!
    BG_PIDS+=("$!")
    wait_for 60 grep -q '^spawnpool: listening on ' "$out" ||
        fail "node $name did not start (log: $(tail -n 5 "$T/server.err"))"
    URL[$name]=$(sed -n 's/^spawnpool: listening on //p' "$out" | head -n 1)
}
# the jobs wait for gates: released at the end whatever happens, so none is left behind
release_all() { for g in 1 2 3 4; do release "$g"; done; }
# (cleanup reads the test's status from $?: it is kept across release_all)
trap 'rc=$?; release_all; (exit "$rc"); cleanup' EXIT

# both nodes run before the jobs are submitted (to a): b takes up no job it did not see queued
# at its start (until nodes claim jobs: then whichever node runs a job, the other reads it)
node_start a
node_start b
BASE=${URL[a]} # (lib.sh's submit, job_field, state_is)
export BASE

# owner ID / reader ID: the node that runs the job (its `node`; none yet: a, where it was
# submitted) and the other one
owner() {
    local n
    n=$(curl -s "${URL[a]}/v1/jobs/$1" | jq -r '.node // "a"')
    echo "$n"
}
reader() { if [ "$(owner "$1")" == a ]; then echo b; else echo a; fi; }
# out NODE ID [QUERY]: the job's output as NODE serves it
out() { curl -s "${URL[$1]}/v1/jobs/$2/output${3:+?$3}"; }
# same_output ID QUERY: the reader serves the same bytes as the owner (files compared: binary)
same_output() {
    curl -s -o "$T/own" "${URL[$(owner "$1")]}/v1/jobs/$1/output?$2" &&
        curl -s -o "$T/read" "${URL[$(reader "$1")]}/v1/jobs/$1/output?$2" && cmp -s "$T/own" "$T/read"
}
contains() { grep -q -- "$2" "$1" 2>/dev/null; }
# serves NODE ID TEXT: NODE serves job ID's stdout with TEXT in it
serves() { out "$1" "$2" | grep -q -- "$3"; }

# --- job 1: more than one chunk (chunks are at most 256 KiB), stderr, then it holds
big=300000
submit "$(jq -nc --arg c "printf 'line-1\n'; head -c $big /dev/zero | tr '\\0' x; printf '\nline-2\n'; echo err-1 >&2; $(hold 1); printf 'line-3\n'; $(hold 2); printf 'line-4\n'" \
    '{command: $c}')"
J1=$ID
wait_for 60 state_is "$J1" running || fail "job $J1 does not run"
O=$(owner "$J1")
R=$(reader "$J1")
pass "job $J1 runs on node $O; read through node $R"

curl -sN "${URL[$R]}/v1/jobs/$J1/output?follow=1" >"$T/follow1" &
BG_PIDS+=("$!")
wait_for 60 contains "$T/follow1" line-2 || fail "follow=1 through $R shows no line-2: $(head -c 100 "$T/follow1")"
eq "job $J1 still runs while its lines show through $R" "$(job_field "$J1" .state)" running
pass "follow=1 through node $R shows the lines of a job that still runs on $O"

wait_for 60 same_output "$J1" "stream=stdout" || fail "stdout through $R differs from $O's"
size=$(stat -c %s "$T/own")
eq "stdout holds the whole of what was written so far" "$size" $((7 + big + 8))
pass "stdout through $R equals $O's ($size bytes, more than one chunk)"
wait_for 60 same_output "$J1" "stream=stderr" || fail "stderr through $R differs from $O's"
eq "stderr through $R" "$(out "$R" "$J1" stream=stderr)" err-1
for off in 0 5 262143 262144 262150 $((size - 3)) "$size" $((size + 100)); do
    same_output "$J1" "offset=$off" || fail "offset=$off: through $R $(wc -c <"$T/read") bytes, $O $(wc -c <"$T/own")"
done
pass "offsets inside, across and past the chunks: the same bytes through $R as $O"
eq "offset at the last bytes" "$(out "$R" "$J1" "offset=$((size - 3))")" -2
eq "offset past the end: nothing" "$(out "$R" "$J1" "offset=$((size + 100))" | wc -c)" 0

# --- a new line: shipped within about a second (SHIP_EVERY_MS 500 in server/output_ship.c;
# 3 s allows for a loaded machine), shown live through the follower
release 1
wait_for 60 serves "$O" "$J1" line-3 || fail "line-3 not written on $O"
t0=$(date +%s%3N)
wait_for 60 serves "$R" "$J1" line-3 || fail "line-3 never readable through $R"
lag=$(($(date +%s%3N) - t0))
[ "$lag" -lt 3000 ] || fail "line-3 readable through $R only ${lag} ms after $O had it"
pass "a new line is readable through $R ${lag} ms after $O has it"
wait_for 60 contains "$T/follow1" line-3 || fail "the follower through $R did not get line-3"
pass "the follower through $R gets the new line live"
eq "its size so far through $R (what $O shipped), while it runs" \
    "$(curl -s "${URL[$R]}/v1/jobs/$J1" | jq -c '[.state, .output.stdout_bytes, .output.stderr_bytes]')" \
    "[\"running\",$((7 + big + 8 + 7)),6]"

# --- job 2: a retry, followed through the other node from its first attempt to its end
submit "$(jq -nc --arg c "if [ -e $T/attempt1 ]; then printf 'second\n'; $(hold 4); exit 0; fi; : >$T/attempt1; printf 'first\n'; $(hold 3); exit 1" \
    '{command: $c, max_attempts: 2, retry_backoff: 0}')"
J2=$ID
wait_for 60 state_is "$J2" running || fail "job $J2 does not run"
R2=$(reader "$J2")
curl -sN "${URL[$R2]}/v1/jobs/$J2/output?follow=1" >"$T/follow2" &
F2=$!
BG_PIDS+=("$F2")
wait_for 60 contains "$T/follow2" first || fail "the follower of job $J2 through $R2 shows no 'first'"
release 3
wait_for 60 contains "$T/follow2" second || fail "the follower through $R2 does not go on with the retry: $(cat "$T/follow2")"
pass "follow=1 through $R2 goes on with the retry's attempt"
kill -0 "$F2" 2>/dev/null || fail "the follower through $R2 ended while the job runs"
release 4
wait_for 60 state_is "$J2" succeeded || fail "job $J2 did not succeed"
follower_done() { ! kill -0 "$F2" 2>/dev/null; }
wait_for 60 follower_done || fail "the follower through $R2 did not end with the job"
eq "the follower through $R2 saw each attempt in turn" "$(cat "$T/follow2")" $'first\nsecond'
eq "job $J2's output through $R2 (its last attempt)" "$(out "$R2" "$J2")" second
eq "... as its own node serves it" "$(out "$(owner "$J2")" "$J2")" second
eq "job $J2's recorded size" "$(job_field "$J2" .output.stdout_bytes)" 7

# --- kill -9 of job 1's node: what it wrote before stays readable through the other
out "$R" "$J1" >"$T/before"
sp_kill_node() {
    kill -KILL "${PID[$1]}"
    wait "${PID[$1]}" 2>/dev/null
}
sp_kill_node "$O"
pass "node $O's master killed (-9)"
out "$R" "$J1" >"$T/after"
cmp -s "$T/before" "$T/after" || fail "after the kill, job $J1's output through $R differs"
grep -q line-3 "$T/after" || fail "after the kill, line-3 is no longer readable through $R"
eq "after the kill, every byte written before is readable through $R" "$(wc -c <"$T/after")" \
    $((7 + big + 8 + 7))
eq "... and from an offset" "$(out "$R" "$J1" "offset=$((7 + big + 8))")" line-3
eq "... and stderr" "$(out "$R" "$J1" stream=stderr)" err-1
lost_on_r() { [ "$(curl -s "${URL[$R]}/v1/jobs/$J1" | jq -r .state)" == lost ]; }
wait_for 60 lost_on_r || fail "job $J1 of the dead node $O was not recovered"
eq "recovered lost by $R, it keeps the sizes of what was shipped" \
    "$(curl -s "${URL[$R]}/v1/jobs/$J1" | jq -c '[.output.stdout_bytes, .output.stderr_bytes]')" "[$((7 + big + 8 + 7)),6]"

# the other node stops as usual (its shipper's last round included)
kill -TERM "${PID[$R]}"
rc=0
wait "${PID[$R]}" || rc=$?
eq "node $R exits 0 on SIGTERM" "$rc" 0

# the database was up throughout: no shipping failed
! grep -E "output shipping" "$T/server.err" || fail "the shipper logged failures"
pass "no shipping failure logged"

[ "$FAILS" -eq 0 ] && echo "PASS"
