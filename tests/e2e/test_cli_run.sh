#!/usr/bin/env bash
# `spawnpool run` and `spawnpool submit`, the client against the real server: the job's exit
# status as the client's (exit n, 128+signal, 122-125), output live and to the right fd,
# stdin forwarded unless it is a terminal, Ctrl-C terminating the job (twice: killing it),
# --detach, the working directory, --json, a wrong token, a stopped server.
source "$(dirname "$0")/lib.sh"
command -v script >/dev/null || fail "script (util-linux) is needed for the terminal cases"
sp_start
export SPAWNPOOL_URL=$BASE
SP=$SPAWNPOOL_BIN

# run_rc WANT DESCRIPTION ARGS...: `spawnpool run ARGS` exits WANT
run_rc() {
    local want=$1 what=$2 rc=0
    shift 2
    "$SP" run "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
    eq "$what: exit status" "$rc" "$want"
}

# ---- exit statuses ---------------------------------------------------------------------
run_rc 0 "/bin/true" -- /bin/true
run_rc 3 "exit 3" -- sh -c 'exit 3'
run_rc 127 "a program that does not exist (the shell's 127)" -- /nonexistent/prog
check "... and the server's reason on stderr" grep -q 'cannot execute /nonexistent/prog' "$T/err"
run_rc 124 "a job killed by its --timeout" --timeout 0.3 -- sleep 60
check "... said on stderr" grep -q 'timed_out' "$T/err"
run_rc 2 "no command" --name x
run_rc 2 "an unknown flag" --no-such-flag -- true
run_rc 2 "a bad --timeout" --timeout -1 -- true

# 128+15: terminated through the API while the client follows it
"$SP" run -- sleep 60 >"$T/t.out" 2>"$T/t.err" </dev/null &
CLIENT=$!
BG_PIDS+=("$CLIENT")
running_id() { # the newest job that runs: its id in RID
    RID=$(curl -s "$BASE/v1/jobs?state=running&limit=1" | jq -r '.jobs[0].id // empty')
    [ -n "$RID" ] && pid_known "$RID"
}
wait_for 60 running_id || fail "the sleep job never ran"
curl -s -o /dev/null -X POST "$BASE/v1/jobs/$RID/terminate"
rc=0
wait "$CLIENT" || rc=$?
eq "a job terminated with SIGTERM: exit 128+15" "$rc" 143

# ---- output: to the right descriptor, byte for byte, live ---------------------------------
"$SP" run -- sh -c 'printf "to out\n"; printf "to err\n" >&2; printf "no newline"' \
    >"$T/o" 2>"$T/e" </dev/null
eq "stdout to fd 1, exactly" "$(od -c <"$T/o")" "$(printf 'to out\nno newline' | od -c)"
eq "stderr to fd 2" "$(cat "$T/e")" "to err"

GATE=$T/gate
"$SP" run -- sh -c "echo first; while [ ! -e '$GATE' ]; do sleep 0.02; done; echo second" \
    >"$T/live.out" 2>"$T/live.err" </dev/null &
CLIENT=$!
BG_PIDS+=("$CLIENT")
wait_for 60 grep -qsx first "$T/live.out" || fail "the first line never came"
running_id || fail "the job is not running while its first line is shown"
pass "a line arrives while the job still runs (job $RID)"
touch "$GATE"
rc=0
wait "$CLIENT" || rc=$?
eq "live job: exit 0" "$rc" 0
eq "live job: every line, in order" "$(cat "$T/live.out")" $'first\nsecond'

# a reader that goes away (`| head -1`): a local producer would die of SIGPIPE; the job is
# terminated and the client exits 128+13
set +o pipefail
"$SP" run -- sh -c 'while :; do echo y; sleep 0.01; done' </dev/null 2>"$T/p.err" | head -n 1 >/dev/null
rc=${PIPESTATUS[0]}
eq "the output's reader went away: exit 128+13" "$rc" 141
P=$(curl -s "$BASE/v1/jobs?limit=1" | jq -r '.jobs[0].id')
eq "... and the job was terminated" "$(wait_job "$P" | jq -r .state)" terminated

# ---- stdin -------------------------------------------------------------------------------
eq "a pipe is forwarded as stdin" "$(printf 'a\nb' | "$SP" run -- cat | od -c)" \
    "$(printf 'a\nb' | od -c)"
eq "--no-stdin leaves it out" "$(printf 'x' | "$SP" run --no-stdin -- cat)" ""
printf 'from a file' >"$T/in.txt"
eq "--stdin-file" "$("$SP" run --stdin-file "$T/in.txt" -- cat </dev/null)" "from a file"
rc=0
printf '\377\376' | "$SP" run -- cat >/dev/null 2>"$T/err" || rc=$?
eq "stdin that is not UTF-8 is refused before anything is sent" "$rc" 2
check "... saying why" grep -q 'not UTF-8' "$T/err"
# a terminal is not forwarded (the job would wait for a person): script(1) gives the client a
# pty as stdin; cat then reads /dev/null and ends at once
script -qec "'$SP' run -- sh -c 'cat; echo done-\$?'" /dev/null </dev/null >"$T/tty.out" 2>&1 ||
    fail "run under a terminal failed: $(cat "$T/tty.out")"
check "a terminal's stdin is not forwarded" grep -q 'done-0' "$T/tty.out"

# ---- where it runs ------------------------------------------------------------------------
mkdir -p "$T/here"
eq "a local server runs the job in the client's directory" "$(cd "$T/here" && "$SP" run -- pwd)" \
    "$T/here"
eq "--cwd wins" "$(cd "$T/here" && "$SP" run --cwd / -- pwd)" "/"
eq "--env" "$("$SP" run --env A=1 --env B='x y' -- sh -c 'echo "$A,$B"')" "1,x y"
eq "--shell" "$("$SP" run --shell 'echo $((6 * 7))')" "42"

# ---- Ctrl-C --------------------------------------------------------------------------------
# once: the job gets SIGTERM (its handler runs, exit 7 is the client's)
"$SP" run -- sh -c 'trap "echo got-term; exit 7" TERM; echo started; while :; do sleep 0.05; done' \
    >"$T/c1.out" 2>"$T/c1.err" </dev/null &
CLIENT=$!
BG_PIDS+=("$CLIENT")
wait_for 60 grep -qsx started "$T/c1.out" || fail "the Ctrl-C job never started"
running_id
C1=$RID
kill -INT "$CLIENT"
rc=0
wait "$CLIENT" || rc=$?
eq "Ctrl-C: the job's own exit status after its TERM handler" "$rc" 7
check "... the handler ran" grep -qx got-term "$T/c1.out"
eq "... and the server says terminated" "$(job_field "$C1" .state)" terminated

# twice: a job that ignores SIGTERM is killed
"$SP" run -- sh -c 'trap "" TERM; echo started; while :; do sleep 0.05; done' \
    >"$T/c2.out" 2>"$T/c2.err" </dev/null &
CLIENT=$!
BG_PIDS+=("$CLIENT")
wait_for 60 grep -qsx started "$T/c2.out" || fail "the second Ctrl-C job never started"
running_id
C2=$RID
kill -INT "$CLIENT"
wait_for 60 grep -qs "terminating job $C2" "$T/c2.err" || fail "no word of the first Ctrl-C"
kill -INT "$CLIENT"
rc=0
wait "$CLIENT" || rc=$?
eq "Ctrl-C twice: SIGKILL, exit 128+9" "$rc" 137
eq "... signal 9 recorded" "$(job_field "$C2" .signal)" 9

# --detach: Ctrl-C leaves the job running
"$SP" run --detach -- sh -c 'echo started; while [ ! -e "$0" ]; do sleep 0.05; done' "$T/gate2" \
    >"$T/d.out" 2>"$T/d.err" </dev/null &
CLIENT=$!
BG_PIDS+=("$CLIENT")
wait_for 60 grep -qsx started "$T/d.out" || fail "the detach job never started"
running_id
D=$RID
kill -INT "$CLIENT"
rc=0
wait "$CLIENT" || rc=$?
eq "--detach: Ctrl-C exits 128+2" "$rc" 130
check "... says how to find the job again" grep -q "job $D keeps running" "$T/d.err"
eq "... and the job still runs" "$(job_field "$D" .state)" running
touch "$T/gate2"
eq "... to its own end" "$(wait_job "$D" | jq -r .state)" succeeded

# ---- lost, canceled -----------------------------------------------------------------------
"$SP" run -- sleep 60 >/dev/null 2>"$T/l.err" </dev/null &
CLIENT=$!
BG_PIDS+=("$CLIENT")
wait_for 60 running_id || fail "the job to lose never ran"
WPID=$(curl -s "$BASE/v1/workers" | jq -r --argjson id "$RID" '.workers[] | select(.job == $id) | .pid')
[[ $WPID =~ ^[0-9]+$ ]] || fail "no worker runs job $RID"
kill -KILL "$WPID"
rc=0
wait "$CLIENT" || rc=$?
eq "a job whose worker died: lost, exit 122" "$rc" 122
check "... said on stderr" grep -q lost "$T/l.err"

curl -s -o /dev/null -X PATCH -H 'Content-Type: application/json' -d '{"paused": true}' \
    "$BASE/v1/queues/held"
"$SP" run --queue held -- /bin/true >/dev/null 2>"$T/q.err" </dev/null &
CLIENT=$!
BG_PIDS+=("$CLIENT")
held_id() { QID=$(curl -s "$BASE/v1/jobs?queue=held&state=queued" | jq -r '.jobs[0].id // empty'); [ -n "$QID" ]; }
wait_for 60 held_id || fail "the held job was never queued"
curl -s -o /dev/null -X POST "$BASE/v1/jobs/$QID/terminate"
rc=0
wait "$CLIENT" || rc=$?
eq "a job canceled before it started: exit 123" "$rc" 123

# ---- a retried job shows its last attempt's output, the one its exit status is from -------
cat >"$T/flaky.sh" <<'EOF2'
#!/bin/sh
n=$(( $(cat "$1" 2>/dev/null || echo 0) + 1 )); echo "$n" >"$1"
echo "attempt-$n"; [ "$n" -ge 3 ]
EOF2
chmod +x "$T/flaky.sh"
"$SP" run --max-attempts 3 -- "$T/flaky.sh" "$T/flaky.count" >"$T/r.out" </dev/null ||
    fail "the retried job did not succeed"
eq "a retried job: the output ends with the last attempt's" "$(tail -n 1 "$T/r.out")" attempt-3

# ---- small refusals ----------------------------------------------------------------------
rc=0
printf 'a\0b' | "$SP" run -- cat >/dev/null 2>"$T/err" || rc=$?
eq "stdin with a NUL byte is refused before anything is sent" "$rc" 2
rc=0
"$SP" run --server "" -- true 2>"$T/err" </dev/null || rc=$?
eq "an empty --server is a usage error, not the default server" "$rc" 2
rc=0
"$SP" run --timeout inf -- true 2>"$T/err" </dev/null || rc=$?
eq "--timeout inf is refused" "$rc" 2
eq "a relative --cwd is the client's" "$(cd "$T" && "$SP" run --cwd here -- pwd </dev/null)" "$T/here"

# ---- where options end ------------------------------------------------------------------
eq "global options before the command" "$("$SP" --server "$BASE" run -- echo g)" g
eq "run's options end at the job's first word (grep keeps --verbose)" \
    "$("$SP" run --name n echo --verbose --json x)" "--verbose --json x"
rc=0
"$SP" run --wait -- true 2>"$T/err" || rc=$?
eq "run --wait is a usage error (submit's flag)" "$rc" 2
rc=0
"$SP" submit --detach -- true 2>"$T/err" || rc=$?
eq "submit --detach is a usage error (run's flag)" "$rc" 2
eq "--help needs no server, even with a broken token file" \
    "$(SPAWNPOOL_TOKEN_FILE=/nonexistent "$SP" run --help | head -n 1)" NAME

# ---- submit -------------------------------------------------------------------------------
ID=$("$SP" submit -- echo hi)
[[ $ID =~ ^[0-9]+$ ]] || fail "submit printed '$ID', not an id"
eq "submit prints the id of a real job" "$(wait_job "$ID" | jq -r .state)" succeeded
rc=0
"$SP" submit --wait --quiet --name waited -- sh -c 'exit 5' >"$T/sw.out" || rc=$?
eq "submit --wait exits as the job" "$rc" 5
eq "submit --wait --quiet prints nothing" "$(cat "$T/sw.out")" ""
"$SP" submit --wait --quiet --timeout 0.2 -- sleep 30 >"$T/sw.out" 2>"$T/sw.err" || true
eq "... not even the end of a timed-out job on stderr" "$(cat "$T/sw.out" "$T/sw.err")" ""
"$SP" submit --json --name j1 --priority 3 --max-attempts 2 --timeout 9 -- echo x >"$T/sj.json"
SJ=$(jq -r .id "$T/sj.json")
eq "submit --json: the API's answer, fields as submitted" \
    "$(jq -c '[.name, .priority, .max_attempts, .timeout, .argv]' "$T/sj.json")" \
    '["j1",3,2,9,["echo","x"]]'
eq "submit --json: the same keys as the API's job" "$(jq -c 'keys' "$T/sj.json")" \
    "$(curl -s "$BASE/v1/jobs/$SJ" | jq -c 'keys')"
A=$("$SP" submit --queue held -- true)
B=$("$SP" submit --after "$A" -- true)
eq "--after" "$(job_field "$B" '.after | tostring')" "[$A]"
rc=0
"$SP" submit --priority high -- true 2>"$T/err" || rc=$?
eq "a usage error: exit 2" "$rc" 2
rc=0
"$SP" submit --env 'NOPE' -- true 2>"$T/err" || rc=$?
eq "--env without = : exit 2" "$rc" 2
rc=0
"$SP" submit --queue 'bad queue!' -- true 2>"$T/err" || rc=$?
eq "a field the server refuses: exit 3" "$rc" 3
check "... with the server's message and field" grep -q 'field: queue' "$T/err"
sp_stop

# ---- a wrong token, a stopped server -----------------------------------------------------
printf '# the server skips comments and blank lines, so does the client\n\n  right-token  \n' >"$T/token"
printf 'wrong-token\n' >"$T/wrong"
sp_start --token-file "$T/token" --max-output 1024
export SPAWNPOOL_URL=$BASE
rc=0
"$SP" submit --token-file "$T/wrong" -- true 2>"$T/err" || rc=$?
eq "a wrong token: submit exits 5" "$rc" 5
check "... with the server's message" grep -q 'unauthorized' "$T/err"
rc=0
"$SP" run --token-file "$T/wrong" -- true 2>"$T/err" </dev/null || rc=$?
eq "a wrong token: run exits 125 (nothing ran)" "$rc" 125
eq "the right token file works" "$("$SP" run --token-file "$T/token" -- echo in)" in
eq "SPAWNPOOL_TOKEN works" "$(SPAWNPOOL_TOKEN=right-token "$SP" run -- echo in)" in
export SPAWNPOOL_TOKEN=right-token
"$SP" run -- head -c 5000 /dev/zero >"$T/cut.out" 2>"$T/err" </dev/null
eq "output over --max-output: what the server kept" "$(stat -c %s "$T/cut.out")" 1024
check "... and a word that it was cut" grep -q 'was cut at the server' "$T/err"
unset SPAWNPOOL_TOKEN
sp_stop
rc=0
"$SP" submit -- true 2>"$T/err" || rc=$?
eq "a stopped server: submit exits 6" "$rc" 6
check "... and asks whether it runs" grep -q "is the server running? tried $BASE" "$T/err"
rc=0
"$SP" run -- true 2>"$T/err" </dev/null || rc=$?
eq "a stopped server: run exits 125" "$rc" 125
