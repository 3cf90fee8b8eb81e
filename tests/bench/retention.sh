#!/usr/bin/env bash
# retention.sh: dispatch latency (submit -> start of /bin/true, one job at a time) on a server
# that deletes nothing, beside the same while its main loop deletes N (100,000) finished jobs:
# by retention (--retain, the jobs 8 days old) and by one DELETE /v1/jobs?all=1. Prints the
# figures side by side. A benchmark, not a test: it asserts nothing.
#   bash tests/bench/retention.sh        (after tests/bench/setup.sh: it needs bench_client)
# Environment: SPAWNPOOL_BIN (build/spawnpool), N (100000 finished jobs), LAT_N (1024 jobs,
# the window of spawnpool_dispatch_latency_recent_seconds), C (2 workers).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SPAWNPOOL_BIN:-$ROOT/build/spawnpool}
B=${BENCH_BUILD:-$ROOT/tests/bench/build}
N=${N:-100000}
LAT_N=${LAT_N:-1024}
C=${C:-2}
WORK=$(mktemp -d /tmp/spawnpool-retention-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT; KEEP=${KEEP:-}
log() { echo "retention-bench: $*" >&2; }
die() { log "$*"; exit 1; }
[ -x "$B/bench_client" ] || die "no $B/bench_client: run tests/bench/setup.sh first"
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
ms() { awk -v s="$1" 'BEGIN { printf "%.3f ms", s * 1000 }'; }
metric() { curl -s "http://$ADDR/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
deleted() { metric "spawnpool_jobs_deleted_total{reason=\"$1\"}"; }

start() { # DIR FLAGS...: sets PID, ADDR
    local dir=$1
    shift
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$dir" --workers "$C" "$@" \
        >"$dir.out" 2>"$dir.err" &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq 3000); do
        ADDR=$(sed -n 's|^spawnpool: listening on http://||p' "$dir.out" | head -n 1)
        [ -n "$ADDR" ] && break
        sleep 0.01
    done
    [ -n "$ADDR" ] || die "the server did not start: $(tail -n 5 "$dir.err")"
    for _ in $(seq 3000); do
        [ "$(curl -s "http://$ADDR/healthz" | jq -r '.workers.idle // 0')" -ge "$C" ] && return 0
        sleep 0.01
    done
    die "the pool did not come up"
}
stop() { kill -TERM "$PID"; wait "$PID" || true; }

# ---- the database: N finished jobs, 8 days old, 3 events and an output file each ----------
log "building a database of $N finished jobs (8 days old) with their events and files"
mkdir -p "$WORK/base"
start "$WORK/base" --retain off --retain-jobs off
stop
T0=$(($(date +%s) * 1000 - 8 * 86400 * 1000))
sqlite3 "$WORK/base/spawnpool.db" >/dev/null <<EOF
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $N)
INSERT INTO jobs (id, name, queue, argv, env, cwd, state, exit_code, attempt, max_attempts,
                  created_at, started_at, finished_at, stdout_bytes)
SELECT i, 'job-' || (i % 97), 'default', X'2F62696E2F7472756500', X'', '/tmp', 'succeeded', 0,
       1, 1, $T0 + i, $T0 + i + 1, $T0 + i + 3, 6 FROM c;
INSERT INTO job_events (job_id, at, from_state, to_state, detail)
    SELECT id, created_at, NULL, 'queued', 'submitted' FROM jobs;
INSERT INTO job_events (job_id, at, from_state, to_state, detail)
    SELECT id, started_at, 'queued', 'running', 'attempt 1 on worker 0' FROM jobs;
INSERT INTO job_events (job_id, at, from_state, to_state, detail)
    SELECT id, finished_at, 'running', state, 'exit code 0' FROM jobs;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
mkdir -p "$WORK/base/output"
(cd "$WORK/base/output" && seq 1 "$N" | sed 's/$/.stdout/' | xargs touch)
copy() { rm -rf "$WORK/$1" && cp -a "$WORK/base" "$WORK/$1"; }

# latency LABEL: LAT_N jobs one at a time; sets P50, P99 (the server's recent quantiles)
latency() {
    local out
    out=$("$B/bench_client" latency "$ADDR" "$LAT_N")
    [ "$(kv failed "$out")" = 0 ] || log "warning: some jobs did not succeed: $out"
    P50=$(kv metric_p50 "$out") P99=$(kv metric_p99 "$out")
    log "  $1: $out"
}

# ---- a. nothing deleted --------------------------------------------------------------------
copy idle
start "$WORK/idle" --retain off --retain-jobs off
latency "no deletion"
IDLE50=$P50 IDLE99=$P99
stop

# ---- b. while retention deletes the N jobs -------------------------------------------------
copy retain
T_START=$EPOCHREALTIME
start "$WORK/retain" --retain 7d --retain-jobs off
latency "retention"
RET50=$P50 RET99=$P99
RET_DURING=$(deleted retention)
until [ "$(deleted retention)" = "$N" ]; do sleep 0.05; done
RET_S=$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
RET_FILES=$(find "$WORK/retain/output" -name '*.stdout' | wc -l)
stop

# ---- c. while DELETE /v1/jobs?all=1 deletes them -------------------------------------------
copy request
start "$WORK/request" --retain off --retain-jobs off
T_START=$EPOCHREALTIME
curl -s -X DELETE "http://$ADDR/v1/jobs?all=1" >"$WORK/request.answer" &
CURL=$!
PIDS+=("$CURL")
latency "DELETE ?all=1"
REQ50=$P50 REQ99=$P99
REQ_DURING=$(deleted request)
wait "$CURL"
REQ_S=$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
REQ_ANSWER=$(cat "$WORK/request.answer")
stop

printf '\nspawnpool retention benchmark, %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
printf 'machine: %s CPUs, Linux %s; %s; --workers %s\n' "$(nproc)" "$(uname -r)" \
    "$("$BIN" --version | head -n 1)" "$C"
printf 'dispatch latency: submit -> start of /bin/true, %s jobs one at a time, p50 / p99 of\n' "$LAT_N"
printf 'spawnpool_dispatch_latency_recent_seconds; the database holds %s finished jobs\n\n' "$N"
printf '%-46s | %-21s | %s\n' "while" "p50 / p99" "deletion"
printf '%-46s | %-21s | %s\n' "nothing is deleted" "$(ms "$IDLE50") / $(ms "$IDLE99")" "-"
printf '%-46s | %-21s | %s\n' "retention deletes them (--retain 7d)" \
    "$(ms "$RET50") / $(ms "$RET99")" \
    "$RET_DURING deleted during the measurement; all $N in ${RET_S} s; $RET_FILES files left"
printf '%-46s | %-21s | %s\n' "DELETE /v1/jobs?all=1 deletes them" \
    "$(ms "$REQ50") / $(ms "$REQ99")" \
    "$REQ_DURING deleted during the measurement; answered $REQ_ANSWER after ${REQ_S} s"
