#!/usr/bin/env bash
# The spawnpool benchmark: one run, one table (stdout); progress goes to stderr.
#   bash tests/bench/setup.sh     # once: peers, tools, the harness's C programs
#   bash tests/bench/run.sh
# Knobs (environment): SPAWNPOOL_BIN, C (concurrency, 2), N (jobs per throughput round, 1000),
# R (rounds, 5), BATCH (jobs per array submit, 100), LAT_N (latency jobs, 1000),
# WRK_THREADS (2), WRK_CONNS (64), WRK_DURATION (5s), HTTP_THREADS (2, both servers),
# MILLION (rows of the big database, 1000000; 0 skips that part), MILLION_QUEUED (queued jobs
# of the start-up database, 1000000; 0 skips that part), MIXED_N (jobs of the burst under GETs,
# 8000; 0 skips that part), MIXED_DURATION (3s, in seconds), BENCH_CACHE (/var/tmp/spawnpool-bench),
# BENCH_TMP (/var/tmp), POST_PAUSE (1), PEERS, BENCH_KEEP (0), CLI_N (calls of the client
# overhead rows, 200; 0 skips them).
# See tests/bench/README.md for what each row means. Nothing here asserts a timing.
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${SPAWNPOOL_BIN:-$ROOT/build/spawnpool}
B=${BENCH_BUILD:-$HERE/build}
C=${C:-2}
N=${N:-1000}
R=${R:-5}
BATCH=${BATCH:-100}
LAT_N=${LAT_N:-1000}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-64}
WRK_DURATION=${WRK_DURATION:-5s}
HTTP_THREADS=${HTTP_THREADS:-2}
MILLION=${MILLION:-1000000}
MILLION_QUEUED=${MILLION_QUEUED:-1000000}
MIXED_N=${MIXED_N:-8000}
MIXED_DURATION=${MIXED_DURATION:-3s}
CLI_N=${CLI_N:-200}
CACHE=${BENCH_CACHE:-/var/tmp/spawnpool-bench}
POST_PAUSE=${POST_PAUSE:-1}
PEERS=${PEERS:-loop xargs parallel tsp spawnpool spawnpool-full}
MAX_QUEUED=10000000

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- what we need ----------------------------------------------------------------------
[ -x "$BIN" ] || die "no spawnpool binary at $BIN (build it, or set SPAWNPOOL_BIN)"
for p in spawn_loop bench_client bare_server; do
    [ -x "$B/$p" ] || die "$B/$p is missing: run bash tests/bench/setup.sh first"
done
for t in wrk parallel sqlite3 curl jq xargs ps; do
    command -v "$t" >/dev/null || die "$t is missing: run bash tests/bench/setup.sh first"
done
TSP=${TSP:-$(dpkg -L task-spooler 2>/dev/null | grep -E '/bin/(tsp|ts)$' | head -n1 || true)}
[ -x "$TSP" ] || die "task-spooler (tsp) is missing: run bash tests/bench/setup.sh first"

HAVE_FULL=0
# (the help captured first: grep -q would quit at the match and the binary's next write get
# SIGPIPE, failing the pipeline under pipefail: 'flag not in this binary' although it is)
grep -q -- '--durability' <<<"$("$BIN" serve --help 2>&1)" && HAVE_FULL=1
# the million finished jobs must stay (retention would delete 900,000 of them meanwhile)
KEEP_ALL=()
grep -q -- '--retain-jobs' <<<"$("$BIN" serve --help 2>&1)" && KEEP_ALL=(--retain off --retain-jobs off)

mkdir -p "${BENCH_TMP:-/var/tmp}"
WORK=$(mktemp -d "${BENCH_TMP:-/var/tmp}/spawnpool-bench-run.XXXXXX")
SEQ=0
declare -A LIVE=()   # pid -> 1 for every server we started and have not stopped
declare -A PAUSED=() # pid -> 1 for every worker we SIGSTOPped
TSP_SOCKETS=()

cleanup() {
    local rc=$?
    for pid in "${!PAUSED[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done
    for pid in "${!LIVE[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${!LIVE[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for s in "${TSP_SOCKETS[@]}"; do
        [ -S "$s" ] && TS_SOCKET=$s "$TSP" -K >/dev/null 2>&1 || true
    done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; }
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
file_kb() { awk '/^RssFile:/ { print $2 }' "/proc/$1/status"; } # mapped files (the db, mmapped)
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
ms() { [ "$1" = none ] && { echo "n/a"; return; }; awk -v s="$1" 'BEGIN { printf "%.3f ms", s * 1000 }'; }

# start_server CMD...: runs a server in the background; sets SRV_PID and SRV_ADDR (HOST:PORT)
# from its first stdout line "...: listening on http://HOST:PORT", SRV_START_S (seconds from
# exec to that line) and SRV_T0 (the exec's $EPOCHREALTIME).
start_server() {
    local out=$WORK/server.$((++SEQ)).out
    local t0=$EPOCHREALTIME
    SRV_T0=$t0
    "$@" >"$out" 2>"$out.err" &
    SRV_PID=$!
    LIVE[$SRV_PID]=1
    for _ in $(seq 6000); do
        if [ -s "$out" ] && [[ $(head -n1 "$out") =~ listening\ on\ http://([^[:space:]]+) ]]; then
            SRV_ADDR=${BASH_REMATCH[1]}
            SRV_START_S=$(secs "$t0" "$EPOCHREALTIME")
            return 0
        fi
        kill -0 "$SRV_PID" 2>/dev/null || { cat "$out.err" >&2; die "server exited: $*"; }
        sleep 0.005
    done
    die "no listening line in 30 s from: $*"
}

stop_server() {
    local pid=$1 w
    for w in "${!PAUSED[@]}"; do kill -CONT "$w" 2>/dev/null || true; unset "PAUSED[$w]"; done
    kill -TERM "$pid" 2>/dev/null || true
    local rc=0
    wait "$pid" || rc=$?
    unset "LIVE[$pid]"
    [ "$rc" = 0 ] || log "warning: server $pid exited with status $rc"
}

wait_idle() { # ADDR WORKERS: until the pool is up
    for _ in $(seq 1000); do
        local idle
        idle=$(curl -s "http://$1/healthz" | jq -r '.workers.idle // 0' 2>/dev/null || echo 0)
        [ "$idle" -ge "$2" ] 2>/dev/null && return 0
        sleep 0.01
    done
    die "the pool at $1 did not get $2 idle workers"
}

spawnpool_start() { # DATA_DIR extra flags...
    local dir=$1
    shift
    mkdir -p "$dir"
    start_server "$BIN" serve --listen 127.0.0.1:0 --data-dir "$dir" --http-threads "$HTTP_THREADS" \
        --max-queued "$MAX_QUEUED" --kill-grace 1 --shutdown-grace 10 "$@"
}

# ---- the table --------------------------------------------------------------------------
ROWS=()
row() { ROWS+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4"$'\t'"$5"); } # section measure value ratio target

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MACHINE="$(nproc) CPUs ($CPU), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
VERSION=$("$BIN" --version 2>/dev/null | head -n1 || echo '?')
log "machine: $MACHINE"
log "spawnpool: $BIN ($VERSION); durability flag: $([ $HAVE_FULL = 1 ] && echo yes || echo no)"
log "work dir: $WORK"

# ---- a. (and f.) throughput, interleaved rounds -----------------------------------------
declare -A T=() # T[contender,round] = seconds
MASTER_RSS='' WORKER_RSS=''

peer_loop() { ELAPSED=$("$B/spawn_loop" "$N" "$C" /bin/true); }
peer_xargs() {
    local t0=$EPOCHREALTIME
    seq "$N" | xargs -P "$C" -n 1 /bin/true
    ELAPSED=$(secs "$t0" "$EPOCHREALTIME")
}
peer_parallel() {
    local t0=$EPOCHREALTIME
    seq "$N" | parallel --will-cite -j "$C" -N0 /bin/true
    ELAPSED=$(secs "$t0" "$EPOCHREALTIME")
}
tsp_pending() { # 0 while a job of the queue is not finished yet
    "$TSP" -l | awk 'NR > 1 && $2 != "finished" && $2 != "skipped" { busy = 1 } END { exit !busy }'
}
peer_tsp() {
    local dir=$WORK/tsp.$((++SEQ))
    mkdir -p "$dir"
    export TS_SOCKET=$dir/socket TMPDIR=$dir TS_MAXFINISHED=$((N + 10))
    TSP_SOCKETS+=("$TS_SOCKET")
    "$TSP" -S "$C" >/dev/null 2>&1 # starts this queue's server (not timed)
    local t0=$EPOCHREALTIME i
    for ((i = 0; i < N; i++)); do "$TSP" -n /bin/true; done >/dev/null 2>&1
    "$TSP" -w >/dev/null 2>&1 || true # the last one queued
    while tsp_pending; do sleep 0.001; done
    ELAPSED=$(secs "$t0" "$EPOCHREALTIME")
    local done_count
    done_count=$("$TSP" -l | awk 'NR > 1 && $2 == "finished"' | wc -l)
    [ "$done_count" = "$N" ] || log "warning: task-spooler finished $done_count of $N jobs"
    "$TSP" -K >/dev/null 2>&1 || true
    unset TS_SOCKET TMPDIR TS_MAXFINISHED
}
spawnpool_round() { # extra flags...
    spawnpool_start "$WORK/sp.$((++SEQ))" --workers "$C" "$@"
    wait_idle "$SRV_ADDR" "$C"
    local out
    out=$("$B/bench_client" throughput "$SRV_ADDR" "$N" "$BATCH")
    ELAPSED=$(kv elapsed "$out")
    log "  (client: $out)"
    [ "$(kv succeeded "$out")" = "$N" ] || log "warning: spawnpool: $out"
    if [ $# = 0 ]; then # RSS after the run (the last round's figures are reported)
        MASTER_RSS=$(rss_kb "$SRV_PID")
        local w
        w=$(ps -o pid= --ppid "$SRV_PID" | awk 'NR == 1 { print $1 }')
        WORKER_RSS=$([ -n "$w" ] && rss_kb "$w" || echo "")
    fi
    stop_server "$SRV_PID"
}
peer_spawnpool() { spawnpool_round; }
peer_spawnpool-full() { spawnpool_round --durability full; }

CONTENDERS=()
for p in $PEERS; do
    [ "$p" = spawnpool-full ] && [ $HAVE_FULL = 0 ] && continue
    CONTENDERS+=("$p")
done
[[ " ${CONTENDERS[*]} " == *" loop "* ]] || die "PEERS must include loop (the reference)"
K=${#CONTENDERS[@]}
for ((r = 0; r < R; r++)); do
    order=()
    for ((i = 0; i < K; i++)); do order+=("${CONTENDERS[(i + r) % K]}"); done
    log "throughput round $((r + 1))/$R: ${order[*]}"
    for p in "${order[@]}"; do
        "peer_$p"
        T[$p,$r]=$ELAPSED
        log "  $p: $(fmt "$ELAPSED" %.3f) s ($(awk -v n="$N" -v t="$ELAPSED" 'BEGIN { printf "%.0f", n / t }') jobs/s)"
    done
done

label() {
    case $1 in
    loop) echo "spawn loop (posix_spawn + waitpid, $C in flight)" ;;
    xargs) echo "xargs -P $C -n 1" ;;
    parallel) echo "GNU parallel -j $C" ;;
    tsp) echo "task-spooler, $C slots (tsp -n, then -w)" ;;
    spawnpool) echo "spawnpool --workers $C, arrays of $BATCH" ;;
    spawnpool-full) echo "spawnpool --workers $C --durability full" ;;
    esac
}
target() {
    case $1 in
    loop) echo "reference" ;;
    spawnpool) echo ">= 0.90x" ;;
    spawnpool-full) echo ">= 0.85x" ;;
    *) echo "" ;;
    esac
}
for p in "${CONTENDERS[@]}"; do
    rates=() ratios=()
    for ((r = 0; r < R; r++)); do
        rates+=("$(awk -v n="$N" -v t="${T[$p,$r]}" 'BEGIN { print n / t }')")
        ratios+=("$(awk -v a="${T[loop,$r]}" -v b="${T[$p,$r]}" 'BEGIN { print a / b }')")
    done
    row "throughput" "$(label "$p")" "$(fmt "$(median "${rates[@]}")" '%.0f jobs/s')" \
        "$(fmt "$(median "${ratios[@]}")" '%.2fx')" "$(target "$p")"
done
if [ $HAVE_FULL = 0 ]; then
    row "throughput" "spawnpool --durability full" "n/a" "" "flag not in this binary"
fi

# ---- b. dispatch latency on an idle server, then c. GET on the same server --------------
log "dispatch latency: $LAT_N single submits of /bin/true, one at a time"
spawnpool_start "$WORK/lat" --workers "$C"
wait_idle "$SRV_ADDR" "$C"
out=$("$B/bench_client" latency "$SRV_ADDR" "$LAT_N")
log "  $out"
[ "$(kv failed "$out")" = 0 ] || log "warning: some latency jobs did not succeed: $out"
if [ "$(kv metric_p50 "$out")" != none ]; then
    src="spawnpool_dispatch_latency_recent_seconds (/metrics)"
    p50=$(kv metric_p50 "$out") p99=$(kv metric_p99 "$out")
else
    src="created_at -> started_at, ms resolution: no recent-latency metric in /metrics"
    p50=$(kv ts_p50 "$out") p99=$(kv ts_p99 "$out")
fi
lat() { if [[ $src == created_at* ]]; then awk -v s="$1" 'BEGIN { printf "%.0f ms", s * 1000 }'; else ms "$1"; fi; }
row "latency" "dispatch p50, idle server, $LAT_N jobs" "$(lat "$p50")" "" "<= 1 ms (issue 4); $src"
row "latency" "dispatch p99" "$(lat "$p99")" "" "<= 5 ms (issue 4)"
row "latency" "client: POST sent -> /wait answered, p50 / p99" \
    "$(ms "$(kv rtt_p50 "$out")") / $(ms "$(kv rtt_p99 "$out")")" "" "includes the job's run"

# wrk's latency figures ("718.00us", "1.17ms", "2.01s") in ms
wrk_ms() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    printf "%.3f", u == "us" ? n / 1000 : u == "s" ? n * 1000 : u == "m" ? n * 60000 : n }'; }
wrk_run() { # NAME URL [lua script]: sets WRK_RPS, WRK_P99_MS, WRK_MAX_MS; warns on errors
    local name=$1 url=$2 script=${3:-} f=$WORK/wrk.$((++SEQ)).txt
    wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${WRK_D:-$WRK_DURATION}" --latency ${script:+-s "$script"} "$url" >"$f" 2>&1 ||
        { cat "$f" >&2; die "wrk failed on $url"; }
    WRK_RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$f")
    WRK_P99_MS=$(wrk_ms "$(awk '$1 == "99%" { print $2 }' "$f")")
    WRK_MAX_MS=$(wrk_ms "$(awk '$1 == "Latency" && NF == 5 { print $4 }' "$f")")
    local bad
    bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$f")
    [ -z "$bad" ] || log "warning: $name: $bad non-2xx responses"
    grep -q 'Socket errors' "$f" && log "warning: $name: $(grep 'Socket errors' "$f")"
    log "  $name: $WRK_RPS req/s (p99 $(awk '$1 == "99%" { print $2 }' "$f"))"
}
WRK="wrk -t$WRK_THREADS -c$WRK_CONNS -d$WRK_DURATION"
log "$WRK: GET"
wrk_run "spawnpool GET /v1/jobs/{id}" "http://$SRV_ADDR/v1/jobs/$(((LAT_N + 1) / 2))"
SP_GET=$WRK_RPS

# ---- c2. GET latency while a burst of jobs runs (same server, random ids) -----------------
# Two views, each idle and then during a burst of MIXED_N jobs (a burst each): wrk with the http
# rows' threads and connections (the server saturated, latency mostly queueing), and one
# sequential client (bench_client getfor: each request alone, what a reader waits for).
burst_start() { # starts a burst of MIXED_N /bin/true jobs (arrays of BATCH) in the background
    BURST_OUT=$WORK/burst.$((++SEQ)).out
    "$B/bench_client" throughput "$SRV_ADDR" "$MIXED_N" "$BATCH" >"$BURST_OUT" &
    BURST_PID=$!
    BURST_T0=$EPOCHREALTIME
}
burst_end() { # NAME: waits for the burst; sets BURST_S; warns if it ended before the GETs did
    local t_get out
    t_get=$(secs "$BURST_T0" "$EPOCHREALTIME")
    wait "$BURST_PID" || die "the burst's client failed"
    out=$(cat "$BURST_OUT")
    log "  burst: $out"
    [ "$(kv succeeded "$out")" -ge "$MIXED_N" ] 2>/dev/null || log "warning: the burst: $out"
    BURST_S=$(kv elapsed "$out")
    [ "$(awk -v b="$BURST_S" -v w="$t_get" 'BEGIN { print (b >= w) }')" = 1 ] ||
        log "warning: $1: the burst ended ($(fmt "$BURST_S" %.2f) s) before the GETs did ($(fmt "$t_get" %.2f) s): raise MIXED_N"
}
getfor() { # NAME: sequential GETs of random ids for MIXED_DURATION; sets SEQ_P99_MS, SEQ_MAX_MS, SEQ_COUNT
    local out
    out=$("$B/bench_client" getfor "$SRV_ADDR" "${MIXED_DURATION%s}" '/v1/jobs/%ld' "$LAT_N")
    log "  $1: $out"
    [ "$(kv errors "$out")" = 0 ] || log "warning: $1: errors"
    SEQ_P99_MS=$(awk -v v="$(kv p99 "$out")" 'BEGIN { print v * 1000 }')
    SEQ_MAX_MS=$(awk -v v="$(kv max "$out")" 'BEGIN { print v * 1000 }')
    SEQ_COUNT=$(kv count "$out")
}
if [ "$MIXED_N" -gt 0 ]; then
    GET_LUA=$WORK/get.lua
    cat >"$GET_LUA" <<EOF
math.randomseed(7)
request = function() return wrk.format("GET", "/v1/jobs/" .. math.random(1, $LAT_N)) end
EOF
    WRK_D=$MIXED_DURATION
    log "GET latency idle, then under a burst of $MIXED_N /bin/true jobs ($WRK -> -d$MIXED_DURATION; one sequential client)"
    wrk_run "wrk GET idle" "http://$SRV_ADDR" "$GET_LUA"
    IDLE_P99=$WRK_P99_MS IDLE_MAX=$WRK_MAX_MS IDLE_RPS=$WRK_RPS
    burst_start
    wrk_run "wrk GET under the burst" "http://$SRV_ADDR" "$GET_LUA"
    BURST_P99=$WRK_P99_MS BURST_MAX=$WRK_MAX_MS BURST_RPS=$WRK_RPS
    burst_end "wrk"
    WRK_BURST_S=$BURST_S
    unset WRK_D
    getfor "sequential GET idle"
    SEQ_IDLE_P99=$SEQ_P99_MS SEQ_IDLE_MAX=$SEQ_MAX_MS SEQ_IDLE_COUNT=$SEQ_COUNT
    burst_start
    getfor "sequential GET under the burst"
    SEQ_BURST_P99=$SEQ_P99_MS SEQ_BURST_MAX=$SEQ_MAX_MS SEQ_BURST_COUNT=$SEQ_COUNT
    burst_end "sequential client"
    SEQ_BURST_S=$BURST_S
fi
stop_server "$SRV_PID"

start_server "$B/bare_server" --listen 127.0.0.1:0 --db "$WORK/bare-get.db" --threads "$HTTP_THREADS"
wrk_run "bare static GET" "http://$SRV_ADDR/v1/jobs/1"
BARE_GET=$WRK_RPS
stop_server "$SRV_PID"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
row "http" "GET /v1/jobs/{id}: spawnpool" "$(fmt "$SP_GET" '%.0f req/s')" "$(ratio "$SP_GET" "$BARE_GET")" ">= 0.6x bare GET"
row "http" "GET static job JSON: bare libmicrohttpd" "$(fmt "$BARE_GET" '%.0f req/s')" "1.00x" "reference"
if [ "$MIXED_N" -gt 0 ]; then
    pratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
    row "mixed" "GET /v1/jobs/{random id} p99 / max: wrk, idle" \
        "$(fmt "$IDLE_P99" '%.2f ms') / $(fmt "$IDLE_MAX" '%.2f ms')" "1.00x" \
        "reference; wrk -d$MIXED_DURATION, $(fmt "$IDLE_RPS" %.0f) req/s"
    row "mixed" "same, during a burst of $MIXED_N /bin/true (arrays of $BATCH)" \
        "$(fmt "$BURST_P99" '%.2f ms') / $(fmt "$BURST_MAX" '%.2f ms')" "$(pratio "$BURST_P99" "$IDLE_P99")" \
        "p99 <= 2x idle p99; $(fmt "$BURST_RPS" %.0f) req/s; burst $(fmt "$WRK_BURST_S" %.1f) s"
    row "mixed" "GET p99 / max: one sequential client, idle" \
        "$(fmt "$SEQ_IDLE_P99" '%.2f ms') / $(fmt "$SEQ_IDLE_MAX" '%.2f ms')" "1.00x" \
        "reference; $SEQ_IDLE_COUNT GETs in $MIXED_DURATION"
    row "mixed" "same, during a burst of $MIXED_N /bin/true" \
        "$(fmt "$SEQ_BURST_P99" '%.2f ms') / $(fmt "$SEQ_BURST_MAX" '%.2f ms')" "$(pratio "$SEQ_BURST_P99" "$SEQ_IDLE_P99")" \
        "no target (the burst's processes take both CPUs); $SEQ_BURST_COUNT GETs; burst $(fmt "$SEQ_BURST_S" %.1f) s"
fi

# ---- c. (and f.) single-job POST --------------------------------------------------------
POST_LUA=$WORK/post.lua
cat >"$POST_LUA" <<'EOF'
wrk.method = "POST"
wrk.body = '{"argv":["/bin/true"]}'
wrk.headers["Content-Type"] = "application/json"
EOF
sp_post() { # label flags...: a 1-worker pool, paused (SIGSTOP) so the run measures the request path
    local name=$1
    shift
    spawnpool_start "$WORK/post.$((++SEQ))" --workers 1 "$@"
    wait_idle "$SRV_ADDR" 1
    local before w after
    before=$(ps -o pid= --ppid "$SRV_PID" | tr -d ' ' | sort | tr '\n' ' ')
    if [ "$POST_PAUSE" = 1 ]; then
        for w in $before; do kill -STOP "$w" && PAUSED[$w]=1; done
    fi
    wrk_run "$name" "http://$SRV_ADDR/v1/jobs" "$POST_LUA"
    after=$(ps -o pid= --ppid "$SRV_PID" | tr -d ' ' | sort | tr '\n' ' ')
    [ "$before" = "$after" ] || log "warning: $name: the worker set changed during the run ($before -> $after)"
    stop_server "$SRV_PID"
}
bare_post() { # label sync
    start_server "$B/bare_server" --listen 127.0.0.1:0 --db "$WORK/bare-post.$((++SEQ)).db" \
        --threads "$HTTP_THREADS" --sync "$2"
    wrk_run "$1" "http://$SRV_ADDR/v1/jobs" "$POST_LUA"
    stop_server "$SRV_PID"
}
PAUSE_NOTE=$([ "$POST_PAUSE" = 1 ] && echo "worker paused" || echo "worker running the jobs")
log "$WRK: POST"
sp_post "spawnpool POST" ; SP_POST=$WRK_RPS
bare_post "bare POST+INSERT (NORMAL)" normal ; BARE_POST=$WRK_RPS
row "http" "POST /v1/jobs (1 job): spawnpool --workers 1, $PAUSE_NOTE" "$(fmt "$SP_POST" '%.0f req/s')" \
    "$(ratio "$SP_POST" "$BARE_POST")" ">= 0.8x bare POST+INSERT (issue 4)"
row "http" "POST + 1 INSERT: bare (WAL, synchronous=NORMAL)" "$(fmt "$BARE_POST" '%.0f req/s')" "1.00x" "reference"
if [ $HAVE_FULL = 1 ]; then
    sp_post "spawnpool POST --durability full" --durability full ; SP_POST_FULL=$WRK_RPS
    bare_post "bare POST+INSERT (FULL)" full ; BARE_POST_FULL=$WRK_RPS
    row "http" "POST /v1/jobs: spawnpool --durability full" "$(fmt "$SP_POST_FULL" '%.0f req/s')" \
        "$(ratio "$SP_POST_FULL" "$BARE_POST_FULL")" ">= 1.0x bare POST+INSERT (FULL)"
    row "http" "POST + 1 INSERT: bare (WAL, synchronous=FULL)" "$(fmt "$BARE_POST_FULL" '%.0f req/s')" "1.00x" "reference"
else
    row "http" "POST /v1/jobs: spawnpool --durability full" "n/a" "" "flag not in this binary"
fi

# ---- h. the command-line client's own overhead -------------------------------------------
# `spawnpool run -- /bin/true` against what a script does with curl (POST, then /wait), one
# call at a time, alternating, on an idle --workers 2 server. Wall time per call, and CPU per
# call of the client processes: user+sys of this shell's waited-for children, from `times`
# (getrusage RUSAGE_CHILDREN) before and after each call.
if [ "$CLI_N" -gt 0 ]; then
    log "client overhead: $CLI_N x spawnpool run -- /bin/true vs curl POST + curl /wait, alternating"
    spawnpool_start "$WORK/cli" --workers 2
    wait_idle "$SRV_ADDR" 2
    export SPAWNPOOL_URL=http://$SRV_ADDR
    cli_call() { "$BIN" run -- /bin/true </dev/null >/dev/null 2>>"$WORK/cli.err" || CLI_BAD=$((CLI_BAD + 1)); }
    curl_call() {
        local resp
        resp=$(curl -s -X POST "$SPAWNPOOL_URL/v1/jobs" --json '{"argv":["/bin/true"]}')  || true
        [[ $resp =~ \"id\":\ ?([0-9]+) ]] || { CURL_BAD=$((CURL_BAD + 1)); return; }
        resp=$(curl -s "$SPAWNPOOL_URL/v1/jobs/${BASH_REMATCH[1]}/wait?timeout=60") || true
        [[ $resp == *'"succeeded"'* ]] || CURL_BAD=$((CURL_BAD + 1))
    }
    cli_call; curl_call # warm-up (page cache, the pool's first jobs): not counted
    CLI_BAD=0 CURL_BAD=0
    # `times` runs in this shell (a builtin, no fork) right around each call, and nothing
    # else is forked between the two snapshots; the sums are made once at the end
    : >"$WORK/cli.samples"
    for ((i = 0; i < CLI_N; i++)); do
        for who in cli curl; do
            times >"$WORK/times.0"
            t0=$EPOCHREALTIME
            "${who}_call"
            t1=$EPOCHREALTIME
            times >"$WORK/times.1"
            { read -r _; read -r u0 s0; } <"$WORK/times.0"
            { read -r _; read -r u1 s1; } <"$WORK/times.1"
            echo "$who $t0 $t1 $u0 $s0 $u1 $s1" >>"$WORK/cli.samples"
        done
    done
    # sums per client: wall seconds, CPU seconds (times prints children's user and sys as 0m0.123s)
    read -r cli_wall cli_cpu curl_wall curl_cpu < <(awk '
        function s(v,  a) { split(v, a, /[ms]/); return a[1] * 60 + a[2] }
        { wall[$1] += $3 - $2; cpu[$1] += s($6) + s($7) - s($4) - s($5) }
        END { printf "%.6f %.6f %.6f %.6f\n", wall["cli"], cpu["cli"], wall["curl"], cpu["curl"] }' "$WORK/cli.samples")
    unset SPAWNPOOL_URL
    [ "$CLI_BAD" = 0 ] || log "warning: $CLI_BAD of the spawnpool run calls did not exit 0: $(tail -n 3 "$WORK/cli.err")"
    [ "$CURL_BAD" = 0 ] || log "warning: $CURL_BAD of the curl jobs did not succeed"
    stop_server "$SRV_PID"
    per() { awk -v t="$1" -v n="$CLI_N" 'BEGIN { printf "%.2f ms", t / n * 1000 }'; }
    log "  spawnpool run: $(per "$cli_wall") wall, $(per "$cli_cpu") CPU per call; curl: $(per "$curl_wall") wall, $(per "$curl_cpu") CPU"
    row "cli" "spawnpool run -- /bin/true, one at a time: wall / CPU per call" \
        "$(per "$cli_wall") / $(per "$cli_cpu")" "$(ratio "$cli_wall" "$curl_wall")" \
        "CPU $(ratio "$cli_cpu" "$curl_cpu") curl's; N=$CLI_N, --workers 2, alternating with the row below"
    row "cli" "curl POST + curl /wait: wall / CPU per call" \
        "$(per "$curl_wall") / $(per "$curl_cpu")" "1.00x" "reference; CPU: user+sys of the client processes (times)"
fi

# ---- d. RSS after the throughput runs ----------------------------------------------------
if [ -n "$MASTER_RSS" ]; then
    row "memory" "RSS master, after $N jobs (last round)" "$(mib "$MASTER_RSS")" "" ""
    row "memory" "RSS one worker, after $N jobs" "$([ -n "$WORKER_RSS" ] && mib "$WORKER_RSS" || echo n/a)" "" ""
fi

# ---- e. a million finished jobs -----------------------------------------------------------
GEN_VERSION=1
fresh_schema() { # sets FRESH: an empty database with the schema this binary creates (once a run)
    FRESH=$WORK/fresh/spawnpool.db
    [ -s "$FRESH" ] && return 0
    spawnpool_start "$WORK/fresh" --workers 1
    stop_server "$SRV_PID"
    sqlite3 "$FRESH" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
}
million_db() { # sets MILLION_DB: a cached database with $MILLION finished jobs
    fresh_schema
    local fresh=$WORK/fresh
    local key
    key=$({ sqlite3 "$fresh/spawnpool.db" .schema; echo "gen=$GEN_VERSION rows=$MILLION"; } | sha256sum | cut -c1-16)
    local db=$CACHE/million-$key.db
    if [ -s "$db" ]; then
        log "using the cached database $db"
    else
        mkdir -p "$CACHE"
        rm -f "$CACHE"/million-*.db "$CACHE"/million-*.db.tmp
        log "building $db ($MILLION finished jobs, once; later runs reuse it)"
        cp "$fresh/spawnpool.db" "$db.tmp"
        local t0=$(($(date +%s) * 1000 - MILLION * 20 - 60000))
        sqlite3 "$db.tmp" >/dev/null <<EOF
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $MILLION)
INSERT INTO jobs (id, name, queue, priority, argv, env, cwd, state, exit_code, pid, worker,
                  attempt, max_attempts, created_at, started_at, finished_at,
                  user_us, system_us, maxrss_kb)
SELECT i,
       CASE WHEN i % 10 = 0 THEN NULL ELSE 'job-' || (i % 97) END,
       CASE i % 4 WHEN 0 THEN 'default' WHEN 1 THEN 'build' WHEN 2 THEN 'deploy' ELSE 'report' END,
       0, X'2F62696E2F7472756500', X'', '/tmp',
       CASE WHEN i % 10 = 7 THEN 'failed' ELSE 'succeeded' END,
       CASE WHEN i % 10 = 7 THEN 1 ELSE 0 END,
       100000 + i % 30000, i % 2, 1, 1,
       $t0 + i * 20, $t0 + i * 20 + 1, $t0 + i * 20 + 3, 300, 500, 1200
FROM c;
INSERT INTO job_events (job_id, at, from_state, to_state, detail)
    SELECT id, created_at, NULL, 'queued', 'submitted' FROM jobs;
INSERT INTO job_events (job_id, at, from_state, to_state, detail)
    SELECT id, started_at, 'queued', 'running', 'attempt 1 on worker ' || worker FROM jobs;
INSERT INTO job_events (job_id, at, from_state, to_state, detail)
    SELECT id, finished_at, 'running', state, 'exit code ' || exit_code FROM jobs;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
        mv "$db.tmp" "$db"
    fi
    MILLION_DB=$db
}
if [ "$MILLION" -gt 0 ]; then
    BIG=$([ "$MILLION" = 1000000 ] && echo "1M jobs" || echo "$MILLION jobs")
    million_db
    log "a million jobs: copying the database, starting spawnpool on it"
    mkdir -p "$WORK/million"
    cp "$MILLION_DB" "$WORK/million/spawnpool.db"
    spawnpool_start "$WORK/million" --workers "$C" "${KEEP_ALL[@]}"
    START_S=$SRV_START_S
    wait_idle "$SRV_ADDR" "$C"
    RSS0=$(rss_kb "$SRV_PID")
    seqget() { # label N pathfmt target
        local out
        out=$("$B/bench_client" seqget "$SRV_ADDR" "$2" "$3" "$MILLION")
        log "  $1: $out"
        [ "$(kv errors "$out")" = 0 ] || log "warning: $1: errors"
        row "$BIG" "$1, p50 / p99" "$(ms "$(kv p50 "$out")") / $(ms "$(kv p99 "$out")")" "" "$4 (issue 4); $2 sequential"
    }
    seqget "GET /v1/jobs/{random id}" 2000 '/v1/jobs/%ld' "p99 <= 2 ms"
    seqget "GET /v1/jobs?limit=100&before={random}" 500 '/v1/jobs?limit=100&before=%ld' "p99 <= 10 ms"
    seqget "GET /v1/jobs?state=succeeded&limit=100" 500 '/v1/jobs?state=succeeded&limit=100' "p99 <= 10 ms"
    seqget "GET /v1/jobs?queue=build&limit=100&before={random}" 300 '/v1/jobs?queue=build&limit=100&before=%ld' "p99 <= 10 ms"
    seqget "GET /v1/jobs?name=job-7&limit=100&before={random}" 300 '/v1/jobs?name=job-7&limit=100&before=%ld' "p99 <= 10 ms"
    RSS1=$(rss_kb "$SRV_PID")
    FILE1=$(file_kb "$SRV_PID")
    stop_server "$SRV_PID"
    row "$BIG" "RSS master: at start / after the reads" "$(mib "$RSS0") / $(mib "$RSS1")" "" \
        "<= 64 MiB (issue 4); then $(mib "$FILE1") of it mapped files (RssFile)"
    row "$BIG" "start-up: exec -> listening" "$(awk -v s="$START_S" 'BEGIN { printf "%.2f s", s }')" "" ""
fi

# ---- g. start-up on a million queued jobs (paused queues) ----------------------------------
QGEN_VERSION=1
queued_db() { # sets QUEUED_DB: a cached database with $MILLION_QUEUED queued jobs
    fresh_schema
    local key
    key=$({ sqlite3 "$FRESH" .schema; echo "qgen=$QGEN_VERSION rows=$MILLION_QUEUED"; } | sha256sum | cut -c1-16)
    local db=$CACHE/queued-$key.db
    if [ -s "$db" ]; then
        log "using the cached database $db"
    else
        mkdir -p "$CACHE"
        rm -f "$CACHE"/queued-*.db "$CACHE"/queued-*.db.tmp
        log "building $db ($MILLION_QUEUED queued jobs, once; later runs reuse it)"
        cp "$FRESH" "$db.tmp"
        local t0=$(($(date +%s) * 1000 - MILLION_QUEUED * 20 - 60000))
        sqlite3 "$db.tmp" >/dev/null <<EOF
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
INSERT INTO queues (name, concurrency, paused) VALUES ('backlog', NULL, 1), ('nightly', 4, 1);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $MILLION_QUEUED)
INSERT INTO jobs (id, name, queue, priority, argv, env, cwd, state, attempt, max_attempts,
                  created_at)
SELECT i,
       CASE WHEN i % 10 = 0 THEN NULL ELSE 'job-' || (i % 97) END,
       CASE i % 2 WHEN 0 THEN 'backlog' ELSE 'nightly' END,
       i % 3, X'2F62696E2F7472756500', X'', '/tmp', 'queued', 0, 1, $t0 + i * 20
FROM c;
INSERT INTO job_dependencies (job_id, depends_on) SELECT id, id - 1 FROM jobs WHERE id % 1000 = 0;
INSERT INTO job_events (job_id, at, from_state, to_state, detail)
    SELECT id, created_at, NULL, 'queued', 'submitted' FROM jobs;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
        mv "$db.tmp" "$db"
    fi
    QUEUED_DB=$db
}
timed_get() { # PATH: seconds for one GET (curl), warns unless 200
    local r
    r=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "http://$SRV_ADDR$1")
    [ "${r%% *}" = 200 ] || log "warning: GET $1: ${r%% *}"
    echo "${r#* }"
}
if [ "$MILLION_QUEUED" -gt 0 ]; then
    QBIG=$([ "$MILLION_QUEUED" = 1000000 ] && echo "1M queued" || echo "$MILLION_QUEUED queued")
    queued_db
    log "a million queued jobs: copying the database, starting spawnpool on it"
    mkdir -p "$WORK/queued"
    cp "$QUEUED_DB" "$WORK/queued/spawnpool.db"
    spawnpool_start "$WORK/queued" --workers "$C"
    Q_LISTEN=$SRV_START_S
    for _ in $(seq 30000); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$SRV_ADDR/healthz")" = 200 ] && break
        kill -0 "$SRV_PID" 2>/dev/null || die "the server on the queued database exited"
        sleep 0.002
    done
    Q_READY=$(secs "$SRV_T0" "$EPOCHREALTIME")
    QRSS0=$(rss_kb "$SRV_PID")
    log "  listening after $(fmt "$Q_LISTEN" %.2f) s, /healthz 200 after $(fmt "$Q_READY" %.2f) s, RSS $(mib "$QRSS0")"
    out=$("$B/bench_client" seqget "$SRV_ADDR" 100 '/v1/jobs/%ld' "$MILLION_QUEUED")
    log "  100 GET /v1/jobs/{random id}: $out"
    q_list=$(timed_get '/v1/jobs?limit=100')
    q_list_q=$(timed_get '/v1/jobs?state=queued&queue=backlog&limit=100')
    q_queues=$(timed_get '/v1/queues')
    q_health=$(timed_get '/healthz')
    q_metrics=$(timed_get '/metrics')
    log "  lists $q_list s, $q_list_q s; /v1/queues $q_queues s; /healthz $q_health s; /metrics $q_metrics s"
    QRSS1=$(rss_kb "$SRV_PID")
    QFILE1=$(file_kb "$SRV_PID")
    QHWM=$(hwm_kb "$SRV_PID")
    queued_now=$(curl -s "http://$SRV_ADDR/healthz" | jq -r '.jobs.queued')
    [ "$queued_now" = "$MILLION_QUEUED" ] || log "warning: /healthz says $queued_now queued, not $MILLION_QUEUED"
    stop_server "$SRV_PID"
    row "$QBIG" "start-up: exec -> listening / -> /healthz 200" \
        "$(fmt "$Q_LISTEN" '%.2f s') / $(fmt "$Q_READY" '%.2f s')" "" "<= 1 s; 2 paused queues, 1000 jobs waiting on another"
    row "$QBIG" "RSS master: at start / after the first requests" "$(mib "$QRSS0") / $(mib "$QRSS1")" "" \
        "<= 64 MiB; then $(mib "$QFILE1") of it mapped files (RssFile); peak (VmHWM) $(mib "$QHWM")"
    row "$QBIG" "first requests: GET /v1/queues / /metrics" "$(ms "$q_queues") / $(ms "$q_metrics")" "" \
        "after 100 GET /v1/jobs/{id}; lists $(ms "$q_list"), $(ms "$q_list_q")"
fi

# ---- print ---------------------------------------------------------------------------------
{
    echo
    echo "spawnpool benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine:   $MACHINE"
    echo "spawnpool: $BIN ($VERSION)"
    echo "throughput: /bin/true, N=$N per round, C=$C, R=$R interleaved rounds (order rotates);"
    echo "  jobs/s = median over rounds; ratio = median over rounds of (spawn loop's time / contender's time) in the same round"
    echo "http: $WRK, libmicrohttpd thread pool of $HTTP_THREADS on both servers; ratio = spawnpool / bare"
    echo
    printf '%s\n' "${ROWS[@]}" | awk -F'\t' '
        { for (i = 1; i <= 5; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
        END {
            h[1] = "section"; h[2] = "measure"; h[3] = "value"; h[4] = "ratio"; h[5] = "target (issue 11) / note"
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
