#!/usr/bin/env bash
# The cluster bench (issue 15): one run, one table (stdout); progress goes to stderr.
#   bash tests/bench/setup.sh      # once: builds the harness's C programs (cluster_client)
#   bash tests/bench/cluster.sh
# It starts a throwaway PostgreSQL (tests/pg/pgctl.sh) and, on it, spawnpool nodes, and prints:
#   1. 3 nodes vs 1 node on `sleep 0.2` jobs (W workers per node): jobs/s and the ratio;
#   2. /bin/true throughput of one node on PostgreSQL vs one node on SQLite (W workers);
#   3. the cross-node wake-up latency: submit on node A (its workers all busy with long jobs)
#      -> start on node B, p50/p99 of started_at - created_at; beside it the same on one node.
# Rounds of 1. and 2. are interleaved (each round runs every contender once, the order
# rotating), so a slow minute of the shared machine hits all alike. Nothing here asserts a
# timing. Knobs (environment): SPAWNPOOL_BIN (build/spawnpool), W (workers per node, 4),
# NODES (3), SLEEP_N (300 sleep jobs per round), SLEEP_BATCH (20 jobs per array submit, the
# batches round-robin over the nodes), TRUE_N (1000 /bin/true jobs per round), BATCH (100),
# R (rounds, 3), WAKE_N (200), WAKE_PROBE (20 jobs submitted on busy A), WAKE_CAP (5 s a wake-up job at most), A_HOLD (3: the jobs each
# busy worker of node A holds to start next, filled before the wake-up part), PG_SYNC (on: PostgreSQL's synchronous_commit and fsync),
# BENCH_TMP (/var/tmp), BENCH_KEEP (0; 1 keeps the work dir: server logs, PostgreSQL's log).
# See tests/bench/README.md, "Cluster".
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${SPAWNPOOL_BIN:-$ROOT/build/spawnpool}
B=${BENCH_BUILD:-$HERE/build}
PGCTL=$ROOT/tests/pg/pgctl.sh
W=${W:-4}
NODES=${NODES:-3}
SLEEP_N=${SLEEP_N:-300}
SLEEP_BATCH=${SLEEP_BATCH:-20}
SLEEP_S=0.2
TRUE_N=${TRUE_N:-1000}
BATCH=${BATCH:-100}
R=${R:-3}
WAKE_N=${WAKE_N:-200}
WAKE_CAP=${WAKE_CAP:-5}
WAKE_PROBE=${WAKE_PROBE:-20}
A_HOLD=${A_HOLD:-3}
PG_SYNC=${PG_SYNC:-on}
SLEEP_JOB="{\"argv\":[\"sleep\",\"$SLEEP_S\"]}"
TRUE_JOB='{"argv":["/bin/true"]}'
LONG_JOB='{"argv":["sleep","600"]}'

log() { printf '[cluster-bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

[ -x "$BIN" ] || die "no spawnpool binary at $BIN (build it, or set SPAWNPOOL_BIN)"
[ -x "$B/cluster_client" ] || die "$B/cluster_client is missing: run bash tests/bench/setup.sh first"
for t in curl jq awk; do command -v "$t" >/dev/null || die "$t is missing"; done
bash "$PGCTL" available >/dev/null || die "no PostgreSQL server binaries: apt-get install postgresql"
[[ "$PG_SYNC" =~ ^(on|off)$ ]] || die "PG_SYNC is on or off"

mkdir -p "${BENCH_TMP:-/var/tmp}"
WORK=$(mktemp -d "${BENCH_TMP:-/var/tmp}/spcb.XXXXXX") # short: PostgreSQL's socket is inside
chmod 711 "$WORK"                                      # (PostgreSQL runs as another user)
PG=$WORK/pg
PG_STARTED=0
declare -A LIVE=() # pid -> name of every server we started and have not stopped

poll() { # SECONDS COMMAND...: runs the command every 10 ms until it succeeds; 1 if it never does
    local n=$(($1 * 100))
    shift
    for _ in $(seq "$n"); do
        "$@" && return 0
        sleep 0.01
    done
    return 1
}

stop_pid() { # PID: SIGTERM, 20 s to drain, then SIGKILL (the master, by its pid)
    local pid=$1 rc=0
    kill -TERM "$pid" 2>/dev/null || true
    poll 20 bash -c "! kill -0 $pid 2>/dev/null" || true
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || rc=$?
    unset "LIVE[$pid]"
    [ "$rc" = 0 ] || log "warning: server $pid exited with status $rc"
}

cleanup() {
    local rc=$?
    for pid in "${!LIVE[@]}"; do stop_pid "$pid"; done
    [ "$PG_STARTED" = 0 ] || bash "$PGCTL" stop "$PG" >/dev/null 2>&1 ||
        log "warning: could not stop PostgreSQL in $PG"
    if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.1f", n / t }'; }
ms() { [ "$1" = none ] && { echo "n/a"; return; }; awk -v s="$1" 'BEGIN { printf "%.0f ms", s * 1000 }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# start NAME DATABASE|"" [FLAGS...]: a server (a node on that database, or SQLite when it is
# empty) with W workers in $WORK/NAME; sets ADDR[NAME], PID[NAME]; waits until its W workers
# are idle
declare -A ADDR=() PID=()
start() {
    local name=$1 db=$2 dir=$WORK/$1
    shift 2
    local flags=(--listen 127.0.0.1:0 --data-dir "$dir" --workers "$W" --kill-grace 1
        --shutdown-grace 10 --max-queued 1000000 "$@")
    [ -z "$db" ] || flags+=(--database "$db" --node "$name")
    mkdir -p "$dir"
    "$BIN" serve "${flags[@]}" >"$dir.out" 2>"$dir.err" &
    PID[$name]=$!
    LIVE[$!]=$name
    listening() {
        kill -0 "${PID[$name]}" 2>/dev/null || die "server $name exited: $(tail -n 5 "$dir.err")"
        grep -q '^spawnpool: listening on http://' "$dir.out"
    }
    poll 30 listening || die "server $name did not listen within 30 s: $(tail -n 5 "$dir.err")"
    local a
    a=$(sed -n 's|^spawnpool: listening on http://||p' "$dir.out" | head -n 1)
    ADDR[$name]=$a
    idle() { [ "$(curl -s "http://$a/healthz" | jq -r '.workers.idle // 0')" -ge "$W" ]; }
    poll 30 idle || die "server $name: $W workers not idle within 30 s"
}

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MACHINE="$(nproc) CPUs ($CPU), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
VERSION=$("$BIN" --version 2>/dev/null | head -n1 || echo '?')
LOAD0=$(load)
log "machine: $MACHINE; loadavg $LOAD0"

# ---- PostgreSQL: a throwaway cluster; durable as PostgreSQL is by default (PG_SYNC=on) ------
log "PostgreSQL in $PG"
PG_STARTED=1
bash "$PGCTL" start "$PG" >/dev/null
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "$PG/sock" -U spawnpool -d postgres)
# (pgctl.sh makes a cluster for tests: fsync, full_page_writes and synchronous_commit off)
"${PSQL[@]}" -c "ALTER SYSTEM SET fsync = $PG_SYNC" -c "ALTER SYSTEM SET full_page_writes = $PG_SYNC" \
    -c "ALTER SYSTEM SET synchronous_commit = $PG_SYNC" -c "SELECT pg_reload_conf()" >/dev/null
PG_VERSION=$("${PSQL[@]}" -tAc "SHOW server_version")
PG_SETTINGS=$("${PSQL[@]}" -tAc "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers')")
DB_ONE=$(bash "$PGCTL" createdb "$PG" bench_one)
DB_MANY=$(bash "$PGCTL" createdb "$PG" bench_many)
DB_WAKE=$(bash "$PGCTL" createdb "$PG" bench_wake)

# ---- the servers of parts 1 and 2 -----------------------------------------------------------
log "starting: node solo (database bench_one), $NODES nodes (bench_many), SQLite, SQLite --durability full"
start solo "$DB_ONE"
MANY=()
for i in $(seq "$NODES"); do
    start "n$i" "$DB_MANY"
    MANY+=("${ADDR[n$i]}")
done
start lite ""
start litefull "" --durability full

# ---- parts 1 and 2: interleaved rounds ------------------------------------------------------
declare -A T=() # T[contender,round] = seconds
CONTENDERS=(sleep1 sleepN pg lite litefull)
bench() { # CONTENDER: one run; sets T[CONTENDER,$r]
    local out n
    case $1 in
    sleep1) n=$SLEEP_N out=$("$B/cluster_client" run "$SLEEP_N" "$SLEEP_BATCH" "$SLEEP_JOB" "${ADDR[solo]}") ;;
    sleepN) n=$SLEEP_N out=$("$B/cluster_client" run "$SLEEP_N" "$SLEEP_BATCH" "$SLEEP_JOB" "${MANY[@]}") ;;
    pg) n=$TRUE_N out=$("$B/cluster_client" run "$TRUE_N" "$BATCH" "$TRUE_JOB" "${ADDR[solo]}") ;;
    lite) n=$TRUE_N out=$("$B/cluster_client" run "$TRUE_N" "$BATCH" "$TRUE_JOB" "${ADDR[lite]}") ;;
    litefull) n=$TRUE_N out=$("$B/cluster_client" run "$TRUE_N" "$BATCH" "$TRUE_JOB" "${ADDR[litefull]}") ;;
    esac
    T[$1,$r]=$(kv elapsed "$out")
    log "  $1: $(fmt "${T[$1,$r]}" %.3f) s, $(rate "$n" "${T[$1,$r]}") jobs/s ($out; loadavg $(load))"
    [ "$(kv succeeded "$out")" = "$n" ] || log "warning: $1: not all $n jobs succeeded: $out"
    [ "$1" != sleepN ] || SPREAD=$(kv nodes "$out")
}
SPREAD=''
for ((r = 1; r <= R; r++)); do
    log "round $r/$R"
    for ((k = 0; k < ${#CONTENDERS[@]}; k++)); do
        bench "${CONTENDERS[$(((k + r - 1) % ${#CONTENDERS[@]}))]}"
    done
done

# ---- part 3: cross-node wake-up ---------------------------------------------------------------
# Node A alone on its database takes long jobs until its W workers are busy and each holds
# A_HOLD more to start next (a busy worker holds up to DISPATCH_HOLD = 3 jobs claimed ahead,
# server/dispatch_internal.h, while its node is alone); those held are canceled (a node that
# sees another one come gives them back for it to run: B would be busy with them), then node
# B starts: every job submitted on A from then on can only start on B. A job that has not
# ended within WAKE_CAP seconds is counted and left.
log "wake-up: node A busy with $W long jobs (it held $((W * A_HOLD)) more, canceled), then node B"
start wa "$DB_WAKE"
LONG_IDS=()
for _ in $(seq $((W * (1 + A_HOLD)))); do
    LONG_IDS+=("$(curl -s -X POST "http://${ADDR[wa]}/v1/jobs" -H 'Content-Type: application/json' -d "$LONG_JOB" | jq -r .id)")
done
held() { psql -X -tA -h "$PG/sock" -U spawnpool -d bench_wake -c "SELECT count(*) FILTER (WHERE state = 'running') || ' ' || count(*) FILTER (WHERE state = 'queued' AND worker IS NOT NULL) FROM jobs"; }
held_is() { [ "$(held)" = "$1" ]; }
poll 30 held_is "$W $((W * A_HOLD))" || die "node A: running and held '$(held)', expected '$W $((W * A_HOLD))'"
for id in "${LONG_IDS[@]:$W}"; do
    curl -s -o /dev/null -X POST "http://${ADDR[wa]}/v1/jobs/$id/terminate"
done
poll 30 held_is "$W 0" || die "node A: running and held '$(held)', expected '$W 0'"
start wb "$DB_WAKE"
WAKE_X=$("$B/cluster_client" wake "$WAKE_N" "$TRUE_JOB" "${ADDR[wa]}" "$WAKE_CAP")
log "  A -> B: $WAKE_X"
WAKE_B=$("$B/cluster_client" wake "$WAKE_N" "$TRUE_JOB" "${ADDR[wb]}" "$WAKE_CAP")
log "  B -> B: $WAKE_B"
WAKE_L=$("$B/cluster_client" wake "$WAKE_N" "$TRUE_JOB" "${ADDR[lite]}" "$WAKE_CAP")
log "  SQLite: $WAKE_L"
# how many of WAKE_PROBE jobs submitted on busy A wait for A (claimed ahead) instead of
# starting on idle B
WAKE_P=$("$B/cluster_client" wake "$WAKE_PROBE" "$TRUE_JOB" "${ADDR[wa]}" 1)
log "  A -> B, A busy: $WAKE_P"
for id in "${LONG_IDS[@]:0:$W}"; do
    curl -s -o /dev/null -X POST "http://${ADDR[wa]}/v1/jobs/$id/terminate"
done
LOAD1=$(load)

# ---- the table --------------------------------------------------------------------------------
ROWS=()
row() { ROWS+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4"$'\t'"$5"); } # section measure value ratio target
col() { local c=$1 i; for ((i = 1; i <= R; i++)); do echo "${T[$c,$i]}"; done; }
jps() { # N CONTENDER: jobs/s of the median round
    local t
    mapfile -t t < <(col "$2")
    rate "$1" "$(median "${t[@]}")"
}
paired() { # A B: median over rounds of A's seconds / B's seconds
    local i v=()
    for ((i = 1; i <= R; i++)); do v+=("$(awk -v a="${T[$1,$i]}" -v b="${T[$2,$i]}" 'BEGIN { print a / b }')"); done
    fmt "$(median "${v[@]}")" '%.2fx'
}
ideal1=$(awk -v w="$W" -v s="$SLEEP_S" 'BEGIN { printf "%.0f", w / s }')
S="scale-out (sleep $SLEEP_S)"
row "$S" "1 node, $W workers" "$(jps "$SLEEP_N" sleep1) jobs/s" "" "ceiling $ideal1 jobs/s (W / $SLEEP_S s)"
row "$S" "$NODES nodes, $W workers each" "$(jps "$SLEEP_N" sleepN) jobs/s" "$(paired sleep1 sleepN)" \
    ">= 2.7x; ceiling $((ideal1 * NODES)) jobs/s; jobs run per node: $SPREAD"
P="/bin/true, 1 node"
row "$P" "SQLite (--durability normal)" "$(jps "$TRUE_N" lite) jobs/s" "" ""
row "$P" "PostgreSQL" "$(jps "$TRUE_N" pg) jobs/s" "$(paired lite pg)" "aim >= 0.8x (PostgreSQL / SQLite normal)"
row "$P" "SQLite --durability full" "$(jps "$TRUE_N" litefull) jobs/s" "" \
    "PostgreSQL / this: $(paired litefull pg) (both fsync each commit when PG_SYNC=on)"
wk() { # LABEL OUT NOTE
    row "wake-up (submit -> start)" "$1" "$(ms "$(kv ts_p50 "$2")") / $(ms "$(kv ts_p99 "$2")")" "" \
        "max $(ms "$(kv ts_max "$2")"); started on $(kv nodes "$2"); not ended in ${WAKE_CAP} s $(kv failed "$2") (never started $(kv unstarted "$2"))$3"
}
wk "A -> B (A's workers busy), p50 / p99" "$WAKE_X" "; client POST -> end p50 $(ms "$(kv rtt_p50 "$WAKE_X")")"
wk "B -> B (same node, PostgreSQL)" "$WAKE_B" ""
wk "one node on SQLite" "$WAKE_L" ""
row "wake-up (submit -> start)" "A -> B, A's workers busy, B idle" \
    "$(kv unstarted "$WAKE_P") of $WAKE_PROBE" "" \
    "jobs claimed by busy A (not started within 1 s, while B was idle); the others: p50 $(ms "$(kv ts_p50 "$WAKE_P")"), started on $(kv nodes "$WAKE_P")"

{
    echo
    echo "spawnpool cluster benchmark (issue 15), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine:    $MACHINE"
    echo "load:       nproc $(nproc); loadavg at start $LOAD0, at the end $LOAD1"
    echo "spawnpool:  $BIN ($VERSION)"
    echo "PostgreSQL: $PG_VERSION, one local server on a Unix socket ($PG_SETTINGS)"
    echo "rounds:     R=$R interleaved (order rotates); sleep: $SLEEP_N jobs a round in arrays of $SLEEP_BATCH"
    echo "            round-robin over the nodes; /bin/true: $TRUE_N jobs in arrays of $BATCH; timed from"
    echo "            the first POST to all ended (the last id's /wait, then GET /v1/jobs?state=queued,running"
    echo "            until empty). jobs/s = median over rounds;"
    echo "            ratio = median over rounds of the paired time ratio (the row above / this row)"
    echo "wake-up:    $WAKE_N jobs submitted one at a time, each waited for; started_at - created_at"
    echo "            (ms resolution, both stamped by servers on this machine)"
    echo
    printf '%s\n' "${ROWS[@]}" | awk -F'\t' '
        { for (i = 1; i <= 5; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
        END {
            h[1] = "section"; h[2] = "measure"; h[3] = "value"; h[4] = "ratio"; h[5] = "target (issue 15) / note"
            for (i = 1; i <= 5; i++) if (length(h[i]) > w[i]) w[i] = length(h[i])
            line = ""
            for (i = 1; i <= 5; i++) line = line sprintf(i == 3 ? "%" w[i] "s" : "%-" w[i] "s", h[i]) (i < 5 ? " | " : "")
            sub(/ +$/, "", line)
            print line
            sep = ""
            for (i = 1; i <= 5; i++) { s = ""; for (j = 0; j < w[i]; j++) s = s "-"; sep = sep s (i < 5 ? "-|-" : "") }
            print sep
            for (r = 1; r <= NR; r++) {
                line = ""
                for (i = 1; i <= 5; i++) line = line sprintf(i == 3 || i == 4 ? "%" w[i] "s" : "%-" w[i] "s", c[r, i]) (i < 5 ? " | " : "")
                sub(/ +$/, "", line)
                print line
            }
        }'
}
