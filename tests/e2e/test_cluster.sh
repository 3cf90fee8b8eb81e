#!/usr/bin/env bash
# Several nodes on one PostgreSQL (issue 15): three `spawnpool serve` (their own data dirs and
# ports, --node a/b/c, one --database). Jobs submitted round-robin all run exactly once (each
# appends its id to a file); a job fed by another's output (stdin_from) runs on the node that
# has it; a gang group starts whole on one node; a concurrency key with limit 1 never overlaps across nodes; a
# queue paused through one node holds on all of them until resumed through another; a
# schedule's due time runs once, not once per node; event streams wait for an event whose
# transaction is still open rather than skip it; wait,
# output and terminate through another node than the one running the job; `kill -9` of a node
# under load: its jobs are recovered within the node timeout, none runs twice with
# max_attempts 1, no process of it is left; a node stopped (SIGSTOP) past the timeout is
# declared dead; its workers kill its jobs while it is still stopped (their lease word is not
# renewed), and once it goes on (SIGCONT) it fences itself and records nothing over the rescue; a job asked to terminate (through another node) while its node was
# frozen is not run again by the rescue. PostgreSQL only (the e2e suite's second run).
source "$(dirname "$0")/lib.sh"
sp_on_postgres || {
    echo "SKIPPED: several nodes need the PostgreSQL store (SPAWNPOOL_TEST_DB=postgres)"
    exit 0
}

TIMEOUT=3 # --node-timeout: short, so that a dead node is found quickly
declare -A PID URL
# node_start NAME: starts a node on the test's database (PID[NAME]); node_ready NAME waits
# until it listens (URL[NAME])
node_start() {
    local n=$1
    : >"$T/$n.out"
    "$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/data-$n" --workers 2 --node "$n" \
        --node-timeout "$TIMEOUT" --stream-keepalive 0.2 --database "$SP_PG_URL" >"$T/$n.out" 2>>"$T/$n.err" &
    PID[$n]=$!
    BG_PIDS+=("${PID[$n]}")
}
node_ready() {
    local n=$1
    wait_for 60 grep -q '^spawnpool: listening on ' "$T/$n.out" || fail "node $n did not start: $(tail -n 5 "$T/$n.err")"
    URL[$n]=$(sed -n 's/^spawnpool: listening on //p' "$T/$n.out" | head -n 1)
}
sp_pg_url "$T/cluster" # the database the three share: new, so they all start on it at once
for n in a b c; do node_start "$n"; done
for n in a b c; do node_ready "$n"; done
pass "three nodes started at once on a new database (they migrate it in turn)"
DUP=0
"$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/data-dup" --node a --node-timeout "$TIMEOUT" \
    --database "$SP_PG_URL" >/dev/null 2>"$T/dup.err" || DUP=$?
eq "a second server named a is refused (exit 2)" "$DUP" 2
check "saying why" grep -q "another server renews this name's lease" "$T/dup.err"

# post NODE PATH BODY: the answer's body
post() { curl -s -X POST -H 'Content-Type: application/json' --data "$3" "${URL[$1]}$2"; }
get() { curl -s "${URL[$1]}$2"; }
state_on() { get "$1" "/v1/jobs/$2" | jq -r .state; }

# --- exactly once, round-robin ------------------------------------------------------------
RAN=$T/ran
IDS=()
nodes=(a b c)
for i in $(seq 0 59); do
    id=$(post "${nodes[$((i % 3))]}" /v1/jobs "{\"command\": \"echo \$SPAWNPOOL_JOB_ID >> $RAN\"}" | jq -r .id)
    [[ $id =~ ^[0-9]+$ ]] || fail "submit $i: $id"
    IDS+=("$id")
done
all_ended() {
    local ids
    ids=$(IFS=,; echo "$*")
    [ "$(get a "/v1/jobs/wait?ids=$ids&timeout=30" | jq -r .done)" == true ]
}
wait_for 120 all_ended "${IDS[@]}" || fail "the 60 jobs did not all end"
eq "all 60 succeeded" "$(get b "/v1/jobs?state=succeeded&limit=100" | jq '.jobs | length')" 60
eq "each ran exactly once" "$(sort -n "$RAN" | uniq | wc -l),$(wc -l <"$RAN")" "60,60"
eq "... and those that ran are the ones submitted" "$(sort -n "$RAN" | tr '\n' ' ')" "$(printf '%s\n' "${IDS[@]}" | sort -n | tr '\n' ' ')"
SPREAD=$(get c "/v1/jobs?state=succeeded&limit=100" | jq -r '[.jobs[].node] | unique | length')
check "they ran on more than one node ($SPREAD)" test "$SPREAD" -ge 2

# --- a job fed by another's output runs where that output is ------------------------------
for round in 1 2 3; do
    PRODUCER=$(post a /v1/jobs "{\"command\": \"seq 1 $((round * 1000))\"}" | jq -r .id)
    CONSUMER=$(post "${nodes[$round % 3]}" /v1/jobs "{\"argv\": [\"wc\", \"-l\"], \"stdin_from\": $PRODUCER, \"after\": [$PRODUCER]}" | jq -r .id)
    wait_for 60 all_ended "$CONSUMER" || fail "consumer $CONSUMER did not end"
    eq "round $round: the consumer read its producer's output" "$(get b "/v1/jobs/$CONSUMER/output" | tr -d ' \n')" "$((round * 1000))"
    eq "round $round: on the producer's node" "$(get c "/v1/jobs/$CONSUMER" | jq -r .node)" "$(get c "/v1/jobs/$PRODUCER" | jq -r .node)"
done

# --- each job's notify_url is called once, by its node -------------------------------------
RECEIVER_BIN=${RECEIVER_BIN:-$(dirname "$SPAWNPOOL_BIN")/tests/test_receiver}
"$RECEIVER_BIN" 0 >"$T/received.txt" &
BG_PIDS+=($!)
wait_for 60 test -s "$T/received.txt" || fail "the receiver did not start"
RPORT=$(head -n 1 "$T/received.txt")
HOOKED=()
for i in $(seq 0 11); do
    HOOKED+=("$(post "${nodes[$((i % 3))]}" /v1/jobs "{\"argv\": [\"true\"], \"notify_url\": \"http://127.0.0.1:$RPORT/hook\"}" | jq -r .id)")
done
wait_for 60 all_ended "${HOOKED[@]}" || fail "the jobs with a notify_url did not end"
none_due() { [ "$(psql -XAtq "$SP_PG_URL" -c 'SELECT count(*) FROM notifications')" == 0 ]; }
wait_for 60 none_due || fail "callbacks still wait: $(psql -XAtq "$SP_PG_URL" -c 'SELECT count(*) FROM notifications')"
got_all() { [ "$(tail -n +2 "$T/received.txt" | wc -l)" -ge 12 ]; }
wait_for 60 got_all || fail "not every callback arrived: $(tail -n +2 "$T/received.txt" | wc -l) of 12"
IDS_SQL=$(IFS=,; echo "${HOOKED[*]}")
eq "each callback sent once (one delivery recorded per job, not one per node)" \
    "$(psql -XAtq "$SP_PG_URL" -c "SELECT count(*) FROM job_events WHERE job_id IN ($IDS_SQL) AND detail LIKE 'notify_url answered%'")" 12
eq "and the receiver got 12 calls" "$(tail -n +2 "$T/received.txt" | wc -l)" 12

# --- a concurrency key with limit 1 across the nodes ---------------------------------------
KEYED=()
for i in $(seq 0 23); do # (short jobs: a place freed is contended by the three at once)
    KEYED+=("$(post "${nodes[$((i % 3))]}" /v1/jobs '{"command": "sleep 0.1", "concurrency_key": "k", "concurrency_limit": 1}' | jq -r .id)")
done
wait_for 120 all_ended "${KEYED[@]}" || fail "the keyed jobs did not end"
OVERLAPS=0
spans=$(for id in "${KEYED[@]}"; do get a "/v1/jobs/$id" | jq -r '[.started_at, .finished_at, .node] | @tsv'; done)
while IFS=$'\t' read -r s1 f1 n1; do
    while IFS=$'\t' read -r s2 f2 n2; do
        [ "$s1" == "$s2" ] && continue
        [[ $s1 < $f2 && $s2 < $f1 ]] && OVERLAPS=$((OVERLAPS + 1))
    done <<<"$spans"
done <<<"$spans"
eq "limit 1: no two overlapped, whatever node ran them" "$OVERLAPS" 0
echo "# the keyed jobs ran on: $(cut -f3 <<<"$spans" | sort | uniq -c | tr '\n' ' ')"

# --- a gang group starts whole on one node ------------------------------------------------
for round in 1 2 3; do
    G1=$(post a /v1/jobs "{\"command\": \"sleep 0.3\", \"group\": \"g$round\", \"group_size\": 2}" | jq -r .id)
    G2=$(post "${nodes[$round % 3]}" /v1/jobs "{\"command\": \"sleep 0.3\", \"group\": \"g$round\", \"group_size\": 2}" | jq -r .id)
    wait_for 60 all_ended "$G1" "$G2" || fail "group g$round did not end"
    eq "group g$round: both on one node" "$(get b "/v1/jobs/$G1" | jq -r .node)" "$(get c "/v1/jobs/$G2" | jq -r .node)"
    eq "group g$round: both succeeded" "$(get a "/v1/jobs/$G1" | jq -r .state),$(get a "/v1/jobs/$G2" | jq -r .state)" "succeeded,succeeded"
done

# --- a queue paused through one node holds on all ------------------------------------------
curl -s -X PATCH -H 'Content-Type: application/json' --data '{"paused": true}' "${URL[a]}/v1/queues/held" >/dev/null
HELD=()
for n in a b c; do HELD+=("$(post "$n" /v1/jobs '{"argv": ["true"], "queue": "held"}' | jq -r .id)"); done
# each node then runs a job of another queue: it has had its chance to start a held one
MARKS=()
for n in a b c; do MARKS+=("$(post "$n" /v1/jobs '{"argv": ["true"]}' | jq -r .id)"); done
wait_for 60 all_ended "${MARKS[@]}" || fail "the marker jobs did not end"
for id in "${HELD[@]}"; do eq "job $id of the paused queue still queued" "$(state_on c "$id")" queued; done
curl -s -X PATCH -H 'Content-Type: application/json' --data '{"paused": false}' "${URL[c]}/v1/queues/held" >/dev/null
wait_for 60 all_ended "${HELD[@]}" || fail "the held jobs did not run once the queue was resumed through c"
pass "resumed through another node: they ran"

# --- a schedule's due time runs once over all nodes ------------------------------------------
post a /v1/schedules '{"name": "every", "cron": "0 0 1 1 *", "job": {"argv": ["true"]}}' >/dev/null
for round in 1 2 3; do
    # its time made due on all three at once (moved into the past, and the nodes told to read
    # the schedules again, as a change through the API tells them)
    psql -XAtq "$SP_PG_URL" -c "UPDATE schedules SET next_run_at = $(($(date +%s%3N) - 1000)) WHERE name = 'every'" >/dev/null
    psql -XAtq "$SP_PG_URL" -c "SELECT pg_notify('spawnpool', 'test s')" >/dev/null
    runs_are() { [ "$(get b "/v1/jobs?schedule=every&limit=100" | jq '.jobs | length')" -ge "$1" ]; }
    wait_for 60 runs_are "$round" || fail "round $round: the schedule did not run"
    # every node has read it again (its next run back in the future) before the next round
    settled() { [ "$(get c /v1/schedules/every | jq -r '.runs')" == "$round" ]; }
    wait_for 60 settled || fail "round $round: runs $(get c /v1/schedules/every | jq -r .runs), want $round"
done
eq "three due times, three runs in all (never one per node)" "$(get a "/v1/jobs?schedule=every&limit=100" | jq '.jobs | length')" 3

# --- events in commit order across writers -------------------------------------------------
# An event whose transaction is still open (here: psql's, as another node's batch would be)
# has a smaller id than events committed meanwhile: a stream must wait for it rather than send
# those first (it would never send it: Last-Event-ID would be past it).
sp_pg_session "BEGIN; INSERT INTO job_events (job_id, at, from_state, to_state, detail) VALUES (${IDS[0]}, 0, 'succeeded', 'succeeded', 'held back') RETURNING id;"
wait_for 60 grep -qE '^[0-9]+$' "$T/sql.out" || fail "the held event was not written: $(cat "$T/sql.out")"
HELD=$(grep -E '^[0-9]+$' "$T/sql.out" | head -n 1)
curl -sN -H "Last-Event-ID: $((HELD - 1))" "${URL[b]}/v1/events" >"$T/stream" &
BG_PIDS+=($!)
wait_for 60 grep -q '^: keep-alive' "$T/stream" || fail "the stream did not start"
LATER=$(post a /v1/jobs '{"argv": ["true"]}' | jq -r .id)
later_written() { [ "$(psql -XAtq "$SP_PG_URL" -c "SELECT count(*) FROM job_events WHERE job_id = $LATER")" -ge 1 ]; }
wait_for 60 later_written || fail "job $LATER has no events"
sp_pg_session_end "COMMIT;" # (within the two seconds a stream waits for a gap: a batch takes ms)
got_later() { grep -q "\"id\":$LATER," "$T/stream"; }
wait_for 60 got_later || fail "job $LATER's events were not sent"
eq "the held event is sent, first" "$(grep -m 1 '^id:' "$T/stream")" "id: $HELD"
SENT=$(grep '^id:' "$T/stream" | cut -d' ' -f2 | tr '\n' ' ')
eq "and every event after it in id order, none skipped" "$SENT" "$(psql -XAtq "$SP_PG_URL" -c "SELECT id FROM job_events WHERE id >= $HELD AND id <= $(grep '^id:' "$T/stream" | tail -n 1 | cut -d' ' -f2) ORDER BY id" | tr '\n' ' ')"

# --- wait, output and terminate through another node ---------------------------------------
LONG=$(post a /v1/jobs '{"command": "echo started; exec sleep 300"}' | jq -r .id)
wait_for 60 bash -c "[ \"\$(curl -s ${URL[a]}/v1/jobs/$LONG | jq -r .state)\" == running ]" || fail "job $LONG never ran"
OWNER=$(get a "/v1/jobs/$LONG" | jq -r .node)
OTHER=a
[ "$OWNER" == a ] && OTHER=b
wait_for 60 bash -c "curl -s '${URL[$OTHER]}/v1/jobs/$LONG/output' | grep -q started" ||
    fail "its output is not readable through node $OTHER"
pass "output of a job on $OWNER read through $OTHER"
post a "/v1/jobs/$LONG/terminate" '{}' >/dev/null
# terminate and wait through another node than the one running the job, one per node (a
# node that submitted a job another node runs still has it in its own heap: a stale entry)
for n in a b c; do
    J=$(post "$n" /v1/jobs '{"command": "exec sleep 300"}' | jq -r .id)
    wait_for 60 bash -c "[ \"\$(curl -s ${URL[a]}/v1/jobs/$J | jq -r .state)\" == running ]" || fail "job $J never ran"
    RUNS_ON=$(get a "/v1/jobs/$J" | jq -r .node)
    VIA=$n
    [ "$RUNS_ON" == "$n" ] && VIA=$([ "$n" == a ] && echo b || echo a)
    curl -s "${URL[$VIA]}/v1/jobs/$J/wait?timeout=60" >"$T/waited" &
    WAITER=$!
    T0=$(date +%s%3N)
    CODE=$(curl -s -o "$T/terminate" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data '{}' "${URL[$VIA]}/v1/jobs/$J/terminate")
    eq "terminate of job $J (on $RUNS_ON, submitted to $n) through $VIA: accepted" "$CODE" 202
    wait "$WAITER"
    T1=$(date +%s%3N)
    eq "... and the wait on $VIA says terminated" "$(jq -r .state "$T/waited")" terminated
    echo "# terminate + wait across nodes: $((T1 - T0)) ms"
done

# --- kill -9 of a node under load -----------------------------------------------------------
RAN2=$T/ran2
LOAD=()
for i in $(seq 0 11); do
    LOAD+=("$(post "${nodes[$((i % 3))]}" /v1/jobs "{\"command\": \"echo \$SPAWNPOOL_JOB_ID >> $RAN2; exec sleep 2.00417$$\", \"max_attempts\": 1}" | jq -r .id)")
done
running_on_b() { [ "$(get a "/v1/jobs?state=running&limit=100" | jq '[.jobs[] | select(.node == "b")] | length')" -ge 1 ]; }
wait_for 60 running_on_b || fail "nothing ran on b"
ON_B=$(get a "/v1/jobs?state=running&limit=100" | jq -r '[.jobs[] | select(.node == "b") | .id] | join(" ")')
kill -KILL "${PID[b]}"
T0=$(date +%s)
wait_for 120 all_ended "${LOAD[@]}" || fail "the jobs of the killed node were not recovered"
T1=$(date +%s)
for id in $ON_B; do eq "job $id of the killed node: lost" "$(state_on a "$id")" lost; done
echo "# b's jobs recovered $((T1 - T0)) s after kill -9 (node timeout ${TIMEOUT} s)"
check "recovered within the node timeout and a renewal or two" test $((T1 - T0)) -le $((TIMEOUT + 5))
eq "none ran twice" "$(sort "$RAN2" | uniq -d | wc -l)" 0
no_sleep_left() { ! ps -eo args | grep -q "^sleep 2.00417$$"; }
wait_for 60 no_sleep_left || fail "a job process of the killed node is left: $(ps -eo pid,args | grep "sleep 2.00417$$")"
pass "no process of the killed node is left"

# --- a frozen node fences itself -------------------------------------------------------------
FROZEN=$(post c /v1/jobs "{\"command\": \"exec sleep 300.00417$$\", \"max_attempts\": 1}" | jq -r .id)
# it may run on a or c: c is the one frozen, so make sure it runs there
wait_for 60 bash -c "[ \"\$(curl -s ${URL[c]}/v1/jobs/$FROZEN | jq -r .state)\" == running ]" || fail "job $FROZEN never ran"
VICTIM=$(get c "/v1/jobs/$FROZEN" | jq -r .node)
SURVIVOR=a
[ "$VICTIM" == a ] && SURVIVOR=c
# and a job with attempts left on it, asked to terminate while it is frozen (through another
# node): the rescue must not run it again
ASKED=""
for i in 1 2 3 4 5 6 7 8; do
    id=$(post "$VICTIM" /v1/jobs "{\"command\": \"exec sleep 300.00418$$\", \"max_attempts\": 3}" | jq -r .id)
    wait_for 60 bash -c "[ \"\$(curl -s ${URL[$VICTIM]}/v1/jobs/$id | jq -r .state)\" == running ]" || fail "job $id never ran"
    [ "$(get "$VICTIM" "/v1/jobs/$id" | jq -r .node)" == "$VICTIM" ] && ASKED=$id && break
    post "$VICTIM" "/v1/jobs/$id/terminate" '{}' >/dev/null # (it ran elsewhere: another try)
done
[ -n "$ASKED" ] || fail "no job of 8 ran on $VICTIM"
kill -STOP "${PID[$VICTIM]}"
eq "terminate of job $ASKED on the frozen node $VICTIM through $SURVIVOR: accepted" \
    "$(curl -s -o /dev/null -w '%{http_code}' -X POST "${URL[$SURVIVOR]}/v1/jobs/$ASKED/terminate")" 202
wait_for 60 bash -c "[ \"\$(curl -s ${URL[$SURVIVOR]}/v1/jobs/$FROZEN | jq -r .state)\" == lost ]" ||
    fail "the frozen node's job was not recovered"
pass "the frozen node $VICTIM was declared dead: its job lost"
eq "the job asked to terminate ended terminated by the rescue, not run again (3 attempts)" \
    "$(get "$SURVIVOR" "/v1/jobs/$ASKED" | jq -r '[.state, .attempt] | @csv')" '"terminated",1'
check "saying why" bash -c "curl -s ${URL[$SURVIVOR]}/v1/jobs/$ASKED | jq -e '.error | test(\"terminate was asked\")'"
no_frozen_left() { ! ps -eo args | grep -qE "^sleep 300.0041[78]$$"; }
wait_for 60 no_frozen_left || fail "the stopped node's jobs still run (its workers did not fence them)"
pass "while its node is still stopped, its workers killed its jobs (its lease was not renewed)"
kill -CONT "${PID[$VICTIM]}"
wait_for 60 grep -q "node $VICTIM: registered again" "$T/$VICTIM.err" || fail "$VICTIM did not register again: $(tail -n 5 "$T/$VICTIM.err")"
grep -q "fencing itself" "$T/$VICTIM.err" || fail "woken up, $VICTIM did not fence itself"
pass "woken up, it fenced itself"
eq "and recorded nothing over the rescue" "$(state_on "$SURVIVOR" "$FROZEN")" lost
AFTER=$(post "$VICTIM" /v1/jobs '{"argv": ["true"]}' | jq -r .id)
wait_for 60 all_ended "$AFTER" || fail "the node that came back does not run jobs again"
pass "the node that came back works again"

for n in a c; do
    kill -TERM "${PID[$n]}"
    wait "${PID[$n]}" || fail "node $n did not exit 0"
done
pass "the nodes stopped cleanly"
