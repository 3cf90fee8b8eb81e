#!/usr/bin/env bash
# The client commands besides run/submit (ls, show, wait, logs, kill, rm, queues, queue,
# workers, tasks, events, health) against the real server: their tables hold what the
# server holds, --json is the API's body unchanged, the exit statuses are the documented
# ones, and colour appears only on a terminal without NO_COLOR.
source "$(dirname "$0")/lib.sh"
cat >"$T/config.json" <<'JSON'
{"tasks": {"greet": {"argv": ["echo", "hello", "{who}"], "queue": "greetings", "timeout": 30}}}
JSON
sp_start --config "$T/config.json"

# cli CMD ARGS...: runs the client against the server; sets RC, OUT (stdout) and ERR (stderr)
cli() {
    RC=0
    OUT=$("$SPAWNPOOL_BIN" "$@" --server "$BASE" 2>"$T/cli.err") || RC=$?
    ERR=$(cat "$T/cli.err")
}
# same_json DESCRIPTION JSON PATH: JSON (the client's --json) is what GET PATH answers
same_json() {
    local got want
    got=$(jq -S . <<<"$2") || fail "$1: not JSON: $2"
    want=$(curl -s "$BASE$3" | jq -S .)
    eq "$1" "$got" "$want"
}
# has DESCRIPTION TEXT REGEX: TEXT has a line matching the extended REGEX
has() {
    if grep -qE -- "$3" <<<"$2"; then pass "$1"; else fail "$1: no line matching '$3' in:
$2"; fi
}
# rc_is DESCRIPTION WANT: the last cli's exit status
rc_is() { eq "$1 (exit $2)" "$RC" "$2"; }
# workers_idle: both workers idle (a stable moment for /healthz and /v1/workers)
workers_idle() {
    curl -s "$BASE/v1/workers" | jq -e '[.workers[].state] == ["idle","idle"]' >/dev/null
}
# lines_in FILE N: FILE has at least N lines
lines_in() { [ "$(wc -l <"$1")" -ge "$2" ]; }
# bg_exited PID: the background process has ended
bg_exited() { ! kill -0 "$1" 2>/dev/null; }

# ---- health, workers, tasks ------------------------------------------------------------------
wait_for 60 workers_idle || fail "workers never became idle"
cli health
rc_is "health on a healthy server" 0
has "health says ok and the version" "$OUT" '^ok  spawnpool [0-9]'
has "health counts the workers and jobs" "$OUT" '^workers 2: 2 idle, 0 busy, 0 starting  jobs: 0 queued, 0 running, 0 scheduled  store: ok$'
cli health --json
same_json "health --json is /healthz" "$OUT" /healthz

cli workers
rc_is "workers" 0
has "workers: header" "$OUT" '^INDEX +PID +STATE +JOB +JOBS_DONE +STARTED$'
for pid in $(curl -s "$BASE/v1/workers" | jq -r '.workers[].pid'); do
    has "workers: the worker with pid $pid, idle" "$OUT" "^[01] +$pid +idle +- +[0-9]+ +[0-9:]+\$"
done
cli workers --json
same_json "workers --json is /v1/workers" "$OUT" /v1/workers

cli tasks
rc_is "tasks" 0
eq "tasks: first line says commands are allowed" "$(head -n 1 <<<"$OUT")" \
    "raw commands: allowed (argv and command, besides these tasks)"
has "tasks: header" "$OUT" '^NAME +COMMAND +PARAMS +QUEUE +TIMEOUT$'
has "tasks: the template" "$OUT" "^greet +echo hello '[{]who[}]' +who +greetings +30\.0s$"
cli tasks --json
same_json "tasks --json is /v1/tasks" "$OUT" /v1/tasks

# ---- wait, ls, show, logs --------------------------------------------------------------------
submit '{"argv":["/bin/sh","-c","printf \"line1\\nline2 no newline\"; printf oops >&2"],"name":"first"}'
A=$ID
submit '{"command":"exit 3"}'
B=$ID
cli wait "$A"
rc_is "wait on a job that succeeds" 0
has "wait prints the job's line" "$OUT" "^job $A +succeeded +exit 0 +[0-9.]+s\$"
cli wait "$B"
rc_is "wait on a job that exits 3 exits 3" 3
has "wait prints exit 3" "$OUT" "^job $B +failed +exit 3 +[0-9.]+s\$"
cli wait "$A" "$B" --timeout 60
rc_is "wait on two, one failed" 1
has "wait on two: a line each ($A)" "$OUT" "^job $A +succeeded"
has "wait on two: a line each ($B)" "$OUT" "^job $B +failed"
cli wait "$A" "$B" --any
rc_is "wait --any: one that ended succeeded" 0
cli wait "$B" --json
same_json "wait --json ID is the job" "$OUT" "/v1/jobs/$B"
cli wait "$A" "$B" --json
same_json "wait --json on two is the API's answer" "$OUT" "/v1/jobs/wait?ids=$A,$B"
cli wait $(seq 1 101)
rc_is "wait on 101 ids is refused" 2

cli ls
rc_is "ls" 0
has "ls: header" "$OUT" '^ID +STATE +NAME/COMMAND +QUEUE +STARTED +DURATION +EXIT$'
has "ls: the named job" "$OUT" "^$A +succeeded +first +default +[0-9:]+ +[0-9.]+s +0\$"
has "ls: the command of an unnamed job" "$OUT" "^$B +failed +exit 3 +default +[0-9:]+ +[0-9.]+s +3\$"
eq "ls: newest first" "$(sed -n 2p <<<"$OUT" | awk '{print $1}')" "$B"
cli ls --json
same_json "ls --json is /v1/jobs" "$OUT" /v1/jobs
cli ls --state failed
eq "ls --state failed: only B" "$(tail -n +2 <<<"$OUT" | awk '{print $1}')" "$B"
cli ls --name first
eq "ls --name first: only A" "$(tail -n +2 <<<"$OUT" | awk '{print $1}')" "$A"
cli ls --limit 1
eq "ls --limit 1: the newest" "$(tail -n +2 <<<"$OUT" | awk '{print $1}')" "$B"
has "ls --limit 1 says how to see more, with the same filters" "$ERR" "ls --limit 1 --before $B"
cli ls --before "$B"
eq "ls --before B: the older ones" "$(tail -n +2 <<<"$OUT" | awk '{print $1}')" "$A"
cli ls --limit x
rc_is "ls --limit x is a usage error" 2

cli show "$A"
rc_is "show" 0
has "show: id" "$OUT" "^id: +$A\$"
has "show: state" "$OUT" '^state: +succeeded$'
has "show: name" "$OUT" '^name: +first$'
has "show: command" "$OUT" '^command: +/bin/sh -c '
has "show: exit code" "$OUT" '^exit_code: +0$'
has "show: output sizes" "$OUT" '^stdout: +22 bytes$'
cli show "$A" "$B"
eq "show two: a blank line between" "$(grep -c '^$' <<<"$OUT")" 1
cli show "$A" --json
same_json "show --json is the job" "$OUT" "/v1/jobs/$A"
cli show 999999
rc_is "show 999999" 4
has "show 999999 says the server's message" "$ERR" 'no job 999999'

"$SPAWNPOOL_BIN" logs "$A" --server "$BASE" >"$T/logs.out" || fail "logs failed"
printf 'line1\nline2 no newline' >"$T/logs.want"
check "logs: the exact bytes, the last line without a newline" cmp "$T/logs.out" "$T/logs.want"
"$SPAWNPOOL_BIN" logs --offset 6 "$A" --server "$BASE" >"$T/logs.out" || fail "logs --offset failed"
printf 'line2 no newline' >"$T/logs.want"
check "logs --offset 6" cmp "$T/logs.out" "$T/logs.want"
eq "logs --stderr" "$("$SPAWNPOOL_BIN" logs "$A" --stderr --server "$BASE")" oops
eq "logs -f --stderr: to stdout as without -f (so it pipes)" \
    "$("$SPAWNPOOL_BIN" logs -f "$A" --stderr --server "$BASE" 2>/dev/null)" oops
cli logs 999999
rc_is "logs of no job" 4
has "logs of no job says so" "$ERR" 'no job 999999'

# logs -f: the first line arrives while the job still runs
submit "{\"command\":\"echo first; $(hold f); echo second\"}"
F=$ID
"$SPAWNPOOL_BIN" logs -f "$F" --server "$BASE" >"$T/follow.out" 2>"$T/follow.err" &
FOLLOW=$!
BG_PIDS+=("$FOLLOW")
wait_for 60 grep -q '^first$' "$T/follow.out" || fail "logs -f never showed the first line"
eq "logs -f: the first line came while the job runs" "$(job_field "$F" .state)" running
release f
wait_for 60 bg_exited "$FOLLOW" || fail "logs -f did not end with the job"
FRC=0
wait "$FOLLOW" || FRC=$?
eq "logs -f exits 0 when the job ended" "$FRC" 0
eq "logs -f: all of it" "$(cat "$T/follow.out")" $'first\nsecond'

# ---- wait --timeout, kill, rm ----------------------------------------------------------------
submit '{"argv":["sleep","30"]}'
S=$ID
wait_for 60 state_is "$S" running || fail "sleep never ran"
cli wait "$S" --timeout 0.5
rc_is "wait --timeout 0.5 on a running job" 7
has "wait --timeout: the job still runs" "$OUT" "^job $S +running"

cli queue pause held
rc_is "queue pause" 0
has "queue pause: the queue's line" "$OUT" '^held +0 +0 +- +yes$'
submit '{"argv":["true"],"queue":"held"}'
Q=$ID
cli queues
rc_is "queues" 0
has "queues: header" "$OUT" '^NAME +QUEUED +RUNNING +CONCURRENCY +PAUSED$'
has "queues: the paused queue holds one" "$OUT" '^held +1 +0 +- +yes$'
has "queues: default runs one" "$OUT" '^default +0 +1 +- +no$'
cli queues --json
same_json "queues --json is /v1/queues" "$OUT" /v1/queues
eq "the job in the paused queue waits" "$(job_field "$Q" .state)" queued

cli kill "$S" "$Q"
rc_is "kill a running and a queued job" 0
has "kill: the running one terminates" "$OUT" "^job $S: terminating \\(SIGTERM\\)\$"
has "kill: the queued one is canceled" "$OUT" "^job $Q: canceled\$"
eq "killed running job -> terminated" "$(wait_job "$S" | jq -r .state)" terminated
eq "killed queued job -> canceled" "$(job_field "$Q" .state)" canceled
cli wait "$S"
rc_is "wait on a job SIGTERMed" 143
cli kill "$S"
rc_is "kill an ended job" 1
has "kill an ended job says the server's message" "$ERR" "job $S[: ].*finished"
cli kill 999999
rc_is "kill no job" 4

cli queue set held --concurrency 2 --paused false
rc_is "queue set" 0
has "queue set: its new line" "$OUT" '^held +0 +0 +2 +no$'
cli queue set held --concurrency none
has "queue set --concurrency none" "$OUT" '^held +0 +0 +- +no$'
cli queue pause held
cli queue resume held --json
eq "queue resume --json is the queue as /v1/queues has it" "$(jq -S . <<<"$OUT")" \
    "$(curl -s "$BASE/v1/queues" | jq -S '.queues[] | select(.name == "held")')"
eq "queue resume --json: not paused" "$(jq -c '[.name,.paused]' <<<"$OUT")" '["held",false]'
cli queue frobnicate held
rc_is "queue with an unknown action" 2

submit "{\"command\":\"$(hold r)\"}"
R=$ID
wait_for 60 state_is "$R" running || fail "the held job never ran"
cli rm "$A" "$R"
rc_is "rm a finished and a running job" 1
has "rm says the running one has not finished" "$ERR" "job $R: .*not finished"
eq "rm: the finished one is gone" "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/jobs/$A")" 404
eq "rm: the running one is kept" "$(job_field "$R" .state)" running
release r
wait_job "$R" >/dev/null
cli rm "$R"
rc_is "rm once it ended" 0
eq "rm is silent" "$OUT$ERR" ""

# ---- events ----------------------------------------------------------------------------------
wait_for 60 long_polls_are 0 || fail "long polls left open"
NEXT=$((ID + 1)) # (ids go up by one per submit and are never reused; $ID was the last)
"$SPAWNPOOL_BIN" events --job "$NEXT" --server "$BASE" >"$T/events.out" 2>"$T/events.err" &
EVENTS=$!
BG_PIDS+=("$EVENTS")
wait_for 60 long_polls_are 1 || fail "events never opened its stream"
submit '{"argv":["true"]}'
eq "the job is the one events watches" "$ID" "$NEXT"
wait_for 60 lines_in "$T/events.out" 3 || fail "events printed $(cat "$T/events.out")"
EV=$(cat "$T/events.out")
has "events: submitted" "$EV" "^[0-9]+  [0-9:]+  job $ID  - → queued  submitted\$"
has "events: started" "$EV" "^[0-9]+  [0-9:]+  job $ID  queued → running  "
has "events: ended" "$EV" "^[0-9]+  [0-9:]+  job $ID  running → succeeded  "
kill "$EVENTS"
wait "$EVENTS" 2>/dev/null

"$SPAWNPOOL_BIN" events --job "$ID" --since 0 --json --server "$BASE" >"$T/events.json" &
EVENTS=$!
BG_PIDS+=("$EVENTS")
wait_for 60 lines_in "$T/events.json" 3 || fail "events --since 0 --json printed $(cat "$T/events.json")"
eq "events --since 0 --json: the data as sent, one per line" \
    "$(jq -c '[.id, .from, .state]' "$T/events.json" | paste -sd' ')" \
    "[$ID,null,\"queued\"] [$ID,\"queued\",\"running\"] [$ID,\"running\",\"succeeded\"]"
kill "$EVENTS"
wait "$EVENTS" 2>/dev/null

# ---- --help on every command: its page (cli/help.c, cli/help_pages.c), exit 0, nothing sent -------------------
for cmd in ls show wait logs kill rm queues queue workers nodes tasks events health; do
    "$SPAWNPOOL_BIN" "$cmd" --help --server http://127.0.0.1:1 >/dev/null ||
        fail "$cmd --help exits non-zero"
done
pass "--help on every command exits 0"

# ---- colour ----------------------------------------------------------------------------------
ESC=$'\033['
OUT=$("$SPAWNPOOL_BIN" ls --server "$BASE" | cat)
check "piped: no colour" test "${OUT#*"$ESC"}" == "$OUT"
OUT=$(NO_COLOR=1 script -qec "$SPAWNPOOL_BIN ls --server $BASE" /dev/null)
has "pty with NO_COLOR: the table is there" "$OUT" "^$ID +succeeded"
check "pty with NO_COLOR: no colour" test "${OUT#*"$ESC"}" == "$OUT"
OUT=$(env -u NO_COLOR script -qec "$SPAWNPOOL_BIN ls --server $BASE" /dev/null)
check "pty: colour" test "${OUT#*"$ESC"}" != "$OUT"
has "pty: the state in green" "$OUT" "^$ID +"$'\033\\[32m'"succeeded"
sp_stop

# ---- a wrong token, no server ----------------------------------------------------------------
printf 'right-token-123\n' >"$T/tokens"
printf 'wrong-token-456\n' >"$T/wrong"
sp_start --token-file "$T/tokens"
MSG=$(curl -s -H 'Authorization: Bearer wrong-token-456' "$BASE/v1/jobs" | jq -r .error.message)
cli ls --token-file "$T/wrong"
rc_is "a wrong token" 5
has "a wrong token: the server's message" "$ERR" "$(printf '%s' "$MSG" | sed 's/[][\.*^$()+?{}|]/\\&/g')"
cli ls --token-file "$T/tokens"
rc_is "the right token" 0
sp_stop
cli health
rc_is "no server" 6
has "no server: says so" "$ERR" "is the server running\\? tried $BASE"
cli ls
rc_is "no server (ls)" 6
