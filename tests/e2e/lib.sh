# lib.sh: helpers for end-to-end tests. Each test starts the real `spawnpool serve` on
# 127.0.0.1:0 with a temporary data dir, talks to it with curl + jq, and stops it.
# Usage: source "$(dirname "$0")/lib.sh"   (SPAWNPOOL_BIN names the binary)
set -u
SPAWNPOOL_BIN=${SPAWNPOOL_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/spawnpool}
TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/spawnpool-${TEST_NAME}.XXXXXX")
SP_PID=""
BASE=""
SP_BASE=""
FAILS=0

BG_PIDS=() # helpers a test started in the background (killed at exit)
# shellcheck source=tests/e2e/lib_pg.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_pg.sh" # SPAWNPOOL_TEST_DB=postgres: the store on PostgreSQL

cleanup() {
    local rc=$?
    for pid in "${SP_PROXY_PIDS[@]}"; do # a proxy writes each record at once: TERM is enough
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    for pid in "${BG_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    if [ -n "$SP_PID" ] && kill -0 "$SP_PID" 2>/dev/null; then
        kill -KILL "$SP_PID" 2>/dev/null
        wait "$SP_PID" 2>/dev/null
    fi
    # a sanitizer report from the master or a worker, or a move of a job's phase or a worker
    # slot's state against its diagram (server/dispatch_internal.h), fails the test even if it
    # went on
    local bad='ERROR: (Address|Leak)Sanitizer|runtime error:|dispatcher bug:'
    if [ -f "$T/server.err" ] && grep -qE "$bad" "$T/server.err"; then
        echo "FAIL: sanitizer report or dispatcher bug in the server log:"
        grep -E -A 20 "$bad" "$T/server.err" | head -n 60
        FAILS=$((FAILS + 1))
        rc=1
    fi
    if [ "$FAILS" -gt 0 ] && [ -f "$T/server.err" ]; then
        echo "--- server log ($T/server.err, last 30 lines) ---"
        tail -n 30 "$T/server.err"
    fi
    sp_pg_stop
    rm -rf "$T"
    exit "$rc"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    FAILS=$((FAILS + 1))
    exit 1
}
pass() { echo "ok - $*"; }

# check DESCRIPTION COMMAND...: runs the command; fails the test if it fails.
check() {
    local what=$1
    shift
    if "$@" >/dev/null; then pass "$what"; else fail "$what"; fi
}

# eq DESCRIPTION GOT WANT
eq() {
    if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: got '$2', want '$3'"; fi
}

# wait_for TIMEOUT_S COMMAND...: polls until the command succeeds. Tests wait for what the
# server reports (a job's state, /metrics, /v1/workers, the fds of its process), never for a
# fixed time, and give it 60 s: on a loaded machine that may take long, and the happy path
# returns as soon as the condition holds. A shorter deadline is a claim about speed (say why).
wait_for() {
    local timeout=$1
    shift
    local end=$((SECONDS + timeout + 1))
    while [ $SECONDS -lt $end ]; do
        "$@" && return 0
        sleep 0.02
    done
    return 1
}

# sp_start [FLAGS...]: starts the server (data dir $T/data unless given) and sets BASE.
# SP_WRAP, if set, is a command the server is started under (e.g. unshare).
sp_start() {
    : >"$T/server.out"
    sp_db_flags "$@"
    ${SP_WRAP:-} "$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/data" --workers "${WORKERS:-2}" \
        "${SP_DB_FLAGS[@]}" "$@" >"$T/server.out" 2>>"$T/server.err" &
    SP_PID=$!
    wait_for 60 grep -q '^spawnpool: listening on ' "$T/server.out" ||
        fail "server did not print its address (log: $(tail -n 5 "$T/server.err"))"
    BASE=$(sed -n 's/^spawnpool: listening on //p' "$T/server.out" | head -n 1)
    local first
    first=$(head -n 1 "$T/server.out")
    [[ $first == "spawnpool: listening on http"*"://127.0.0.1:"* ]] || fail "first stdout line: $first"
    SP_BASE=$BASE # the server itself, also when BASE points at the recording proxy
    sp_record
}

# sp_record: with SPAWNPOOL_RECORD_DIR set (the ctest suite sets it), BASE points at a
# recording proxy (tests/contract/record_proxy.js, a separate process that forwards each
# connection's bytes unchanged) that appends every response to
# $SPAWNPOOL_RECORD_DIR/$TEST_NAME.jsonl, for tests/contract/validate.js to check against
# api/openapi.json. A test that must talk to the server itself sets SP_DIRECT=1 (or uses
# $SP_BASE).
SP_PROXY_PID=""
SP_PROXY_PIDS=()
sp_record() {
    [ -n "${SPAWNPOOL_RECORD_DIR:-}" ] && [ -z "${SP_DIRECT:-}" ] || return 0
    command -v node >/dev/null || return 0
    mkdir -p "$SPAWNPOOL_RECORD_DIR"
    : >"$T/proxy.out"
    node "$(dirname "${BASH_SOURCE[0]}")/../contract/record_proxy.js" "${BASE#*://}" \
        "$SPAWNPOOL_RECORD_DIR/$TEST_NAME.jsonl" >"$T/proxy.out" 2>>"$T/proxy.err" &
    SP_PROXY_PID=$!
    SP_PROXY_PIDS+=("$SP_PROXY_PID") # an earlier server's proxy stays: a test may still use it
    wait_for 60 grep -q '^listening on ' "$T/proxy.out" || fail "the recording proxy did not start"
    BASE="${BASE%:*}:$(sed -n 's/^listening on //p' "$T/proxy.out")"
}

# sp_refused WHAT [FLAGS...]: the server must refuse to start with FLAGS (exit 2) and say
# why in $T/refused.err: `check "..." grep -q "reason" "$T/refused.err"` next.
sp_refused() {
    local what=$1 rc=0
    shift
    ${SP_WRAP:-} "$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/refused-data" "$@" \
        >/dev/null 2>"$T/refused.err" || rc=$?
    eq "$what: refused at start (exit 2)" "$rc" 2
}

# sp_stop: SIGTERM, and the server must exit 0.
sp_stop() {
    kill -TERM "$SP_PID"
    sp_exited
}

# sp_drain: SIGTERM, and wait until the server says it drains (it still answers meanwhile).
sp_drain() {
    kill -TERM "$SP_PID"
    wait_for 60 healthz_is draining || fail "the server does not say it drains after SIGTERM"
    pass "healthz says draining"
}

# sp_exited: waits for the server to exit, which must be with status 0.
sp_exited() {
    local rc=0
    wait "$SP_PID" || rc=$?
    SP_PID=""
    [ "$rc" -eq 0 ] || fail "server exited $rc after SIGTERM"
}

# sp_kill9: the server dies without any chance to clean up.
sp_kill9() {
    kill -KILL "$SP_PID"
    wait "$SP_PID" 2>/dev/null
    SP_PID=""
}

# req METHOD PATH [BODY]: sets STATUS and BODY (and HEADERS in $T/headers).
req() {
    local method=$1 path=$2
    local args=(-s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$method")
    [ "$method" != HEAD ] || args+=(--head) # (-X HEAD alone waits for a body that never comes)
    if [ $# -ge 3 ]; then args+=(-H 'Content-Type: application/json' --data-binary "$3"); fi
    STATUS=$(curl "${args[@]}" "$BASE$path")
    BODY=$(cat "$T/body")
}

# expect STATUS METHOD PATH [BODY]: request and check the status.
expect() {
    local want=$1
    shift
    req "$@"
    [ "$STATUS" == "$want" ] || fail "$1 $2: status $STATUS, want $want; body: $BODY"
    pass "$1 $2 -> $want"
}

# expect_error STATUS CODE FIELD METHOD PATH [BODY]: API.md's error shape, code and field
# (FIELD "-" means: no field).
expect_error() {
    local status=$1 code=$2 field=$3
    shift 3
    req "$@"
    [ "$STATUS" == "$status" ] || fail "$1 $2 ${3:-}: status $STATUS, want $status; body: $BODY"
    local got_code got_field msg # (one jq: on a loaded machine every process counts)
    IFS=$'\t' read -r got_code got_field msg < <(jq -r '.error | [(.code | tostring), (.field |
        tostring), (.message | if type == "string" then . else "" end)] | @tsv' <<<"$BODY" 2>/dev/null)
    [ "$got_code" == "$code" ] || fail "$1 $2: code in $BODY, want $code"
    [ -n "$msg" ] || fail "$1 $2: no message in $BODY"
    if [ "$field" != "-" ]; then
        [ "$got_field" == "$field" ] || fail "$1 $2: field in $BODY, want $field"
    fi
    local shown=${3:-}
    pass "$1 $2 ${shown:0:40} -> $status $code ($msg)"
}

# submit BODY: submits one job (must be 201); sets ID.
submit() {
    req POST /v1/jobs "$1"
    [ "$STATUS" == 201 ] || fail "submit $1: status $STATUS: $BODY"
    ID=$(jq -r .id <<<"$BODY")
}

# job_field ID JQ: prints a field of the job.
job_field() {
    curl -s "$BASE/v1/jobs/$1" | jq -r "$2"
}

# wait_job ID: long-polls until the job ends; prints the job.
wait_job() {
    curl -s "$BASE/v1/jobs/$1/wait?timeout=${2:-60}"
}

# state_is ID STATE
state_is() { [ "$(job_field "$1" .state)" == "$2" ]; }

# states ID...: the jobs' states, sorted and comma-separated ("queued,queued,running").
states() {
    local id
    for id in "$@"; do job_field "$id" .state; done | sort | paste -sd, -
}
# states_are STATES ID...: `states ID...` says STATES.
states_are() { [ "$(states "${@:2}")" == "$1" ]; }

# pid_known ID: the job's process has started (the server reports its pid).
pid_known() { [[ $(job_field "$1" .pid) =~ ^[0-9]+$ ]]; }

# healthz_is STATUS: /healthz says "ok" or "draining".
healthz_is() { [ "$(curl -s "$BASE/healthz" | jq -r .status)" == "$1" ]; }

# metric NAME: a /metrics sample's value (NAME with its labels, as printed).
metric() { curl -s "$BASE/metrics" | awk -v n="$1" '$1 == n {print $2}'; }

# long_polls_are N: waits, output follows and event streams the server holds open right now.
long_polls_are() { [ "$(metric spawnpool_long_polls)" == "$1" ]; }

# hold NAME: a shell command for a job ("command") that runs until `release NAME`. A job that
# must still run when the test looks holds; one that sleeps a fixed time may have ended by
# then on a loaded machine (or still run when it should have ended).
hold() { printf 'until [ -e %s ]; do sleep 0.05; done' "$T/release.$1"; }
release() { : >"$T/release.$1"; }

# epoch_ms TIME: milliseconds since the epoch of a time the server printed (RFC 3339, in the
# API or its log): to measure how fast the server did something by its own clock.
epoch_ms() { date -d "$1" +%s%3N; }

# fd_count PID: open fds of a process.
fd_count() { ls "/proc/$1/fd" | wc -l; }
# server_fds_over N / server_fds_under N: the server (master) holds more / fewer than N fds.
server_fds_over() { [ "$(fd_count "$SP_PID")" -gt "$1" ]; }
server_fds_under() { [ "$(fd_count "$SP_PID")" -lt "$1" ]; }

# readme_example NAME: the commands of the docs' example NAME (README.md or a page of docs/),
# the bash block after its `<!-- example: NAME -->` marker, with `S=http://127.0.0.1:8080`
# pointed at this test's server (a block that uses $S must start with that line; the CLI's
# examples take the server from SPAWNPOOL_URL, which the test exports), and the nodes' token
# file /etc/spawnpool/token replaced by $SP_EXAMPLE_TOKEN_FILE when set. Run them with
# `run_example NAME` (output in $EXAMPLE_OUT, fails the test if they do).
readme_example() {
    local root
    root="$(dirname "${BASH_SOURCE[0]}")/../.."
    awk -v m="<!-- example: $1 -->" '
        $0 == m {found = 1; next}
        found == 1 && /^```/ {found = 2; next}
        found == 2 && /^```/ {exit}
        found == 2 {print}' "$root/README.md" "$root"/docs/*.md |
        sed -e "s|^S=http://127.0.0.1:8080\$|S=$BASE|" \
            -e "s|/etc/spawnpool/token|${SP_EXAMPLE_TOKEN_FILE:-/etc/spawnpool/token}|g"
}
run_example() {
    readme_example "$1" >"$T/example.$1.sh"
    [ -s "$T/example.$1.sh" ] || fail "neither README.md nor docs/ has an example '$1'"
    # a block that speaks to the server through $S starts with S= (pointed at this server above)
    ! grep -q '\$S\b' "$T/example.$1.sh" || grep -q "^S=$BASE\$" "$T/example.$1.sh" ||
        fail "README example '$1' lacks its S= line"
    EXAMPLE_OUT=$( (cd "$T" && bash -e -o pipefail "$T/example.$1.sh") 2>&1) ||
        fail "README example '$1' failed: $(tail -n 20 <<<"$EXAMPLE_OUT")"
    pass "README example '$1' runs"
}
# example_shows TEXT: the last example's output contains TEXT.
example_shows() {
    grep -qF -- "$1" <<<"$EXAMPLE_OUT" || fail "example output lacks: $1"$'\n'"$EXAMPLE_OUT"
    pass "example shows $1"
}
