#!/usr/bin/env bash
# GET /v1/nodes and `spawnpool nodes` (issue 15, point 3; docs/cluster.md). On SQLite: one
# node, the server itself, alive (also past --node-timeout: it has no lease to renew there),
# "this", its URL the server's, its running jobs counted; `spawnpool show` has a node: line
# once a node took the job (none while it waits); docs/cluster.md's nodes-list example runs
# as written against the node restarted with a token file (its /etc/spawnpool/token is the
# test's file). On PostgreSQL
# (SPAWNPOOL_TEST_DB=postgres): a second node b on the same database is listed by both nodes,
# each saying which one it is; b's --advertise-url is its url; the jobs running on a node are
# counted there; after `kill -9` of b, a lists b as not alive once its lease is older than a's
# --node-timeout (3 s here), then dead (dead_since set, its epoch moved on); b started again
# registers afresh (alive, dead_since null, epoch on); a's own waiters and dependents of the job
# its rescue ended lost wake and are canceled; stopped and declared dead over a day ago,
# it is forgotten (no longer listed).
source "$(dirname "$0")/lib.sh"

sp_start --node a --node-timeout 3
VERSION=$("$SPAWNPOOL_BIN" --version | awk '{print $2}')

# nodes_of URL: the nodes as URL's server lists them (in $T/nodes), 200 required
nodes_of() {
    local status
    status=$(curl -s -o "$T/nodes" -w '%{http_code}' "$1/v1/nodes")
    [ "$status" == 200 ] || fail "GET $1/v1/nodes: $status $(cat "$T/nodes")"
}
# node_field URL NAME JQ: a field of node NAME as URL's server lists it
node_field() {
    nodes_of "$1"
    jq -r --arg n "$2" ".nodes[] | select(.name == \$n) | $3" "$T/nodes"
}
# the cluster test's clock and the database's may differ a little: times are checked for form
# and order, and against this machine's clock within a minute
rfc3339() { [[ $1 =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$ ]]; }
near_now() { rfc3339 "$1" && [ $(($(date +%s%3N) - $(epoch_ms "$1"))) -lt 60000 ]; }

# --- the node that answers: a, on either store
nodes_of "$BASE"
eq "the fields of a node, and no others" "$(jq -c '.nodes[0] | keys_unsorted' "$T/nodes")" \
    '["name","url","version","started_at","heartbeat_at","alive","dead_since","epoch","running","this"]'
eq "a: alive, this, not dead, its version, epoch 1, nothing running" \
    "$(jq -c '.nodes[] | select(.name == "a") | [.alive, .this, .dead_since, .version, .epoch, .running]' "$T/nodes")" \
    "[true,true,null,\"$VERSION\",1,0]"
eq "a's url: the server's address (its default --advertise-url)" "$(node_field "$BASE" a .url)" "$SP_BASE"
STARTED=$(node_field "$BASE" a .started_at)
near_now "$STARTED" || fail "a's started_at is not a recent RFC 3339 time: $STARTED"
near_now "$(node_field "$BASE" a .heartbeat_at)" || fail "a's heartbeat_at: $(jq -c . "$T/nodes")"
pass "a's started_at and heartbeat_at: RFC 3339, recent"
expect_error 405 method_not_allowed - POST /v1/nodes '{}'
expect_error 400 invalid_argument name GET "/v1/nodes?name=a"

# a job running on a node is counted there
submit "$(jq -nc --arg c "$(hold 1)" '{command: $c}')"
J1=$ID
wait_for 60 state_is "$J1" running || fail "job $J1 does not run"
eq "job $J1 runs on a" "$(job_field "$J1" .node)" a
eq "a: 1 running" "$(node_field "$BASE" a .running)" 1
release 1
wait_for 60 state_is "$J1" succeeded || fail "job $J1 did not succeed"
eq "a: 0 running once it ended" "$(node_field "$BASE" a .running)" 0

# the CLI's table, and --json as the API's body
OUT=$("$SPAWNPOOL_BIN" nodes --server "$BASE") || fail "spawnpool nodes exited $?"
grep -qE '^NAME +ALIVE +RUNNING +HEARTBEAT +URL$' <<<"$OUT" || fail "spawnpool nodes: header: $OUT"
grep -qE "^a \(this\) +yes +0 +[0-9:]+ +${SP_BASE//./\\.}\$" <<<"$OUT" || fail "spawnpool nodes: a's row: $OUT"
pass "spawnpool nodes: a (this), alive, 0 running, its heartbeat and URL"
eq "spawnpool nodes --json: the API's body" \
    "$("$SPAWNPOOL_BIN" nodes --json --server "$BASE" | jq -c '[.nodes[] | [.name, .this]]')" '[["a",true]]'

# spawnpool show: a node: line, right before worker:, once a node took the job; none before
SHOW=$("$SPAWNPOOL_BIN" show --server "$BASE" "$J1") || fail "spawnpool show $J1 exited $?"
eq "spawnpool show $J1: node: a, right before worker:" \
    "$(grep -A1 '^node:' <<<"$SHOW" | sed -E 's/ +/ /g; s/^(worker:) [0-9]+$/\1 N/')" $'node: a\nworker: N'
submit '{"argv": ["true"], "delay": 3600}'
J_LATER=$ID
eq "job $J_LATER, waiting: node null" "$(job_field "$J_LATER" .node)" null
SHOW=$("$SPAWNPOOL_BIN" show --server "$BASE" "$J_LATER") || fail "spawnpool show $J_LATER exited $?"
! grep -q '^node:' <<<"$SHOW" || fail "spawnpool show of a waiting job has a node: line: $SHOW"
pass "spawnpool show of a waiting job has no node: line"

# docs/cluster.md's example as written, against a node with a token file (off loopback a node
# needs one): the curl with the bearer token, and the CLI with SPAWNPOOL_TOKEN_FILE; a
# restarts with the file (the same data dir: the same store), then again without it
printf '# the nodes token\nnodes-example-s3cret\n' >"$T/token"
sp_stop
sp_start --node a --node-timeout 3 --token-file "$T/token"
eq "with a token file GET /v1/nodes without it is refused" \
    "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/nodes")" 401
mkdir -p "$T/bin" && ln -s "$SPAWNPOOL_BIN" "$T/bin/spawnpool" # (the docs' example calls spawnpool)
SP_EXAMPLE_TOKEN_FILE=$T/token PATH="$T/bin:$PATH" run_example nodes-list
example_shows "a	true	0"
example_shows "a (this)  yes"
sp_stop
sp_start --node a --node-timeout 3

if ! sp_on_postgres; then
    eq "SQLite: one node" "$(jq '.nodes | length' "$T/nodes")" 1
    # no lease on SQLite: past --node-timeout (3 s) the node that answers is still alive,
    # every time it is asked meanwhile
    past_timeout() {
        [ "$(node_field "$BASE" a .alive)" == true ] || fail "a listed not alive on SQLite: $(cat "$T/nodes")"
        [ $(($(date +%s%3N) - $(epoch_ms "$STARTED"))) -gt 4000 ]
    }
    wait_for 60 past_timeout || fail "the clock did not move 4 s"
    pass "SQLite: a is alive more than --node-timeout after it started"
    [ "$FAILS" -eq 0 ] && echo "PASS"
    exit 0
fi

# --- PostgreSQL: a second node on the same database
B_ADV=http://b.test:8080
b_start() {
    : >"$T/b.out"
    "$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/data-b" --workers 2 --node b \
        --database "$SP_PG_URL" --advertise-url "$B_ADV" >"$T/b.out" 2>>"$T/server.err" &
    B_PID=$!
    BG_PIDS+=("$B_PID")
    wait_for 60 grep -q '^spawnpool: listening on ' "$T/b.out" ||
        fail "node b did not start (log: $(tail -n 5 "$T/server.err"))"
    B=$(sed -n 's/^spawnpool: listening on //p' "$T/b.out" | head -n 1)
}
b_start
# both listed, by name, alive, each node saying which one it is
listing() { nodes_of "$1" && jq -c '[.nodes[] | [.name, .alive, .this]]' "$T/nodes"; }
eq "a lists a (this) and b, both alive" "$(listing "$BASE")" '[["a",true,true],["b",true,false]]'
eq "b lists a and b (this), both alive" "$(listing "$B")" '[["a",true,false],["b",true,true]]'
eq "b's url: its --advertise-url" "$(node_field "$BASE" b .url)" "$B_ADV"
eq "each node's sessions say which node they are (pg_stat_activity)" \
    "$(psql -XAtq "$SP_PG_URL" -c "SELECT string_agg(DISTINCT application_name, ',' ORDER BY application_name) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'spawnpool%'")" \
    "spawnpool a,spawnpool b"
eq "a's url as b lists it" "$(node_field "$B" a .url)" "$SP_BASE"
EPOCH_B=$(node_field "$BASE" b .epoch)
[[ $EPOCH_B =~ ^[1-9][0-9]*$ ]] || fail "b's epoch: $EPOCH_B"
renewed() { [ "$(node_field "$BASE" b .heartbeat_at)" != "$1" ]; }
HB=$(node_field "$BASE" b .heartbeat_at)
wait_for 60 renewed "$HB" || fail "b's heartbeat_at never moved on from $HB"
pass "b renews its lease: heartbeat_at moved on from $HB"

# a job runs on one node or the other: counted there, in both listings
submit "$(jq -nc --arg c "$(hold 2)" '{command: $c}')"
J2=$ID
wait_for 60 state_is "$J2" running || fail "job $J2 does not run"
N=$(job_field "$J2" .node)
[ "$N" == a ] || [ "$N" == b ] || fail "job $J2 runs on node '$N'"
for url in "$BASE" "$B"; do
    eq "job $J2's node $N: 1 running (as $url lists it)" "$(node_field "$url" "$N" .running)" 1
done
release 2
wait_for 60 state_is "$J2" succeeded || fail "job $J2 did not succeed"

OUT=$("$SPAWNPOOL_BIN" nodes --server "$B") || fail "spawnpool nodes exited $?"
grep -qE "^a +yes +[0-9]+ +[0-9:]+ +${SP_BASE//./\\.}\$" <<<"$OUT" || fail "spawnpool nodes through b: a's row: $OUT"
grep -qE "^b \(this\) +yes +[0-9]+ +[0-9:]+ +${B_ADV//./\\.}\$" <<<"$OUT" || fail "spawnpool nodes through b: b's row: $OUT"
pass "spawnpool nodes through b: a, and b (this), both alive"

# a job that runs on b, a job after it submitted through a, and a wait for it through a: once
# a declares b dead and ends the job lost, a's own waiter wakes and the dependent is canceled
# (a does not hear its own notifications: it must act on the ends its rescue records)
ON_B=""
for i in 1 2 3 4 5 6 7 8; do
    id=$(curl -s -X POST -H 'Content-Type: application/json' --data "$(jq -nc --arg c "$(hold 3)" '{command: $c}')" "$B/v1/jobs" | jq -r .id)
    wait_for 60 state_is "$id" running || fail "job $id does not run"
    [ "$(job_field "$id" .node)" == b ] && ON_B=$id && break
    curl -s -X POST "$BASE/v1/jobs/$id/terminate" >/dev/null # (it ran on a: another try)
done
[ -n "$ON_B" ] || fail "no job of 8 ran on b"
submit "{\"argv\": [\"true\"], \"after\": [$ON_B]}"
AFTER_B=$ID
curl -s "$BASE/v1/jobs/$ON_B/wait?timeout=120" >"$T/wait_on_b" &
WAITER=$!
BG_PIDS+=("$WAITER")

# --- b dies: a lists it as not alive once its lease is older than 3 s, then declared dead
mapfile -t B_WORKERS < <(curl -s "$B/v1/workers" | jq -r '.workers[].pid | numbers')
kill -KILL "$B_PID"
wait "$B_PID" 2>/dev/null
t0=$(date +%s%3N)
pass "node b killed (-9)"
b_is() { [ "$(node_field "$BASE" b "$1")" == "$2" ]; }
wait_for 60 b_is .alive false || fail "a still lists b as alive: $(cat "$T/nodes")"
pass "a lists b as not alive $(($(date +%s%3N) - t0)) ms after the kill (--node-timeout 3)"
declared() { rfc3339 "$(node_field "$BASE" b .dead_since)"; }
wait_for 60 declared || fail "b never declared dead: $(cat "$T/nodes")"
pass "b declared dead $(($(date +%s%3N) - t0)) ms after the kill: dead_since $(node_field "$BASE" b .dead_since)"
eq "b's epoch moved on (its writes are fenced)" "$(node_field "$BASE" b .epoch)" $((EPOCH_B + 1))
waited() { ! kill -0 "$WAITER" 2>/dev/null; }
wait_for 30 waited || fail "a wait through a (the rescuer) for b's job $ON_B did not wake when the rescue ended it"
eq "the wait through the rescuer woke with the job's end" "$(jq -r .state "$T/wait_on_b")" lost
wait_for 30 state_is "$AFTER_B" canceled || fail "the job after $ON_B was not canceled: $(job_field "$AFTER_B" '[.state, .error] | @csv')"
pass "the job after it, submitted through the rescuer, was canceled (its dependency ended lost)"
eq "b, dead, is still not alive" "$(node_field "$BASE" b .alive)" false
OUT=$("$SPAWNPOOL_BIN" nodes --server "$BASE")
grep -qE "^b +dead +0 " <<<"$OUT" || fail "spawnpool nodes: b's row after its death: $OUT"
grep -qE "^a \(this\) +yes " <<<"$OUT" || fail "spawnpool nodes: a's row after b's death: $OUT"
pass "spawnpool nodes: b dead, a (this) alive"
gone() { for p in "${B_WORKERS[@]}"; do ! kill -0 "$p" 2>/dev/null || return 1; done; }
wait_for 60 gone || fail "b's workers (${B_WORKERS[*]}) outlived its master"
pass "b's ${#B_WORKERS[@]} workers exited after their master"

# --- b again: it registers afresh
b_start
back() { b_is .alive true && b_is .dead_since null; }
wait_for 60 back || fail "b started again is not listed alive and undead: $(cat "$T/nodes")"
eq "b registered again: its epoch one more" "$(node_field "$BASE" b .epoch)" $((EPOCH_B + 2))
eq "b again lists itself as this" "$(listing "$B")" '[["a",true,false],["b",true,true]]'
kill -TERM "$B_PID"
rc=0
wait "$B_PID" || rc=$?
eq "b exits 0 on SIGTERM" "$rc" 0

# --- a node declared dead a day ago is forgotten (a restarted container's old name, say)
wait_for 60 declared || fail "b, stopped, was never declared dead: $(cat "$T/nodes")"
sqlite3 "$T/data/spawnpool.db" "UPDATE nodes SET rescued_at = rescued_at - 25 * 3600 * 1000 WHERE name = 'b'" ||
    fail "could not age b's death"
forgotten() { [ "$(listing "$BASE")" == '[["a",true,true]]' ]; }
wait_for 60 forgotten || fail "b, dead for a day, is still listed: $(cat "$T/nodes")"
pass "a node dead for a day is forgotten: a alone is listed"

[ "$FAILS" -eq 0 ] && echo "PASS"
