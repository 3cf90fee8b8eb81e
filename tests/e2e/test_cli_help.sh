#!/usr/bin/env bash
# The client's manual, install and completion: every command of cli_commands has a help page
# listing each flag it takes (run's and submit's compared with the options[] of cli/submit_opts.c,
# the others with the flags they are meant to take), `spawnpool CMD --help` prints that same
# page, usage errors point to it, `cmake --install` puts the binary and the completion in
# place, and the completion script completes subcommands and flags. No server is needed.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=$(dirname "$SPAWNPOOL_BIN")
SP=$SPAWNPOOL_BIN
# nothing here may reach a server: a client command that tried would fail on this port
export SPAWNPOOL_URL=http://127.0.0.1:9
unset SPAWNPOOL_TOKEN SPAWNPOOL_TOKEN_FILE

# ---- the commands ---------------------------------------------------------------------------
# cli_commands[] of cli/cli.c, as the source has it and as `spawnpool help` lists it
mapfile -t SRC_CMDS < <(sed -n 's/^ *{"\([a-z]*\)", cli_cmd_[a-z]*,.*/\1/p' "$ROOT/cli/cli.c")
[ "${#SRC_CMDS[@]}" -ge 15 ] || fail "found ${#SRC_CMDS[@]} commands in cli/cli.c: ${SRC_CMDS[*]}"
"$SP" help >"$T/index" || fail "spawnpool help exited $?"
mapfile -t LISTED < <(sed -n '/^COMMANDS$/,/^$/p' "$T/index" | awk 'NR > 1 && NF { print $1 }' | grep -vx serve)
eq "spawnpool help lists cli_commands" "${LISTED[*]}" "${SRC_CMDS[*]}"
for section in COMMANDS 'GLOBAL OPTIONS' ENVIRONMENT 'EXIT STATUS'; do
    grep -qx "$section" "$T/index" || fail "spawnpool help has no $section section"
done
for word in --server --token-file --cacert --json --verbose SPAWNPOOL_URL SPAWNPOOL_TOKEN \
    SPAWNPOOL_TOKEN_FILE; do
    grep -q -- "$word" "$T/index" || fail "spawnpool help does not mention $word"
done
for code in 0 1 2 3 4 5 6 7 122 123 124 125; do
    grep -qE "(^| )$code( |,|\.|$)" <(sed -n '/^EXIT STATUS$/,$p' "$T/index") ||
        fail "spawnpool help's EXIT STATUS lacks $code"
done
pass "spawnpool help: commands, global options, environment, exit codes"

# flags PAGE: the flags of a page's OPTIONS section (lines "    --flag ..." / "    -f, --flag")
flags() {
    sed -n '/^OPTIONS$/,/^[A-Z]/p' "$1" | grep -E '^    -' |
        grep -oE '(^|[ ,])--?[a-zA-Z][a-zA-Z0-9-]*' | tr -d ' ,' | sort -u
}

# the flags each command is meant to take (the spec of the commands cli/jobs.c and cli/pool.c
# write), besides -h/--help and the global options
declare -A WANT=(
    [ls]="--state --queue --name --rerun-of --schedule --created-after --created-before --finished-after --limit --before"
    [show]=""
    [wait]="--any --timeout"
    [logs]="-f --follow --stderr --offset"
    [kill]="--signal --grace"
    [rm]=""
    [rerun]=""
    [set]="--priority --queue"
    [clean]="--state --queue --name --rerun-of --schedule --created-after --created-before --finished-after --before --all"
    [queues]=""
    [queue]="--concurrency --paused"
    [workers]=""
    [nodes]=""
    [tasks]=""
    [schedules]=""
    [schedule]="--cron --timezone --tz --overlap --paused --catch-up --no-catch-up"
    [events]="--job --queue --since"
    [health]=""
    [help]=""
)
# run and submit: every long option of the options[] table of cli/submit_opts.c, and -h
SUBMIT_FLAGS=$(sed -n '/^static const struct option options\[\] = {/,/^};/p' "$ROOT/cli/submit_opts.c" |
    sed -n 's/^ *{"\([a-z-]*\)",.*/--\1/p' | sort -u)
[ "$(wc -l <<<"$SUBMIT_FLAGS")" -ge 20 ] || fail "options[] of cli/submit_opts.c not found: $SUBMIT_FLAGS"
grep -q '"+h"' "$ROOT/cli/submit_opts.c" && SUBMIT_FLAGS=$(printf '%s\n-h\n' "$SUBMIT_FLAGS" | sort -u)

source "$ROOT/contrib/spawnpool.bash"
# completes WORDS...: sets COMPREPLY for the command line WORDS (the last one being typed)
completes() {
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _spawnpool spawnpool "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
}

for cmd in "${SRC_CMDS[@]}"; do
    "$SP" help "$cmd" >"$T/page.$cmd" 2>"$T/page.err" || fail "spawnpool help $cmd exited $?: $(cat "$T/page.err")"
    for section in NAME SYNOPSIS DESCRIPTION OPTIONS 'GLOBAL OPTIONS' 'EXIT STATUS' EXAMPLES; do
        grep -qx "$section" "$T/page.$cmd" || fail "help $cmd has no $section section"
    done
    grep -q "^    spawnpool $cmd - " "$T/page.$cmd" || fail "help $cmd: NAME is not 'spawnpool $cmd - ...'"
    sed -n '/^EXAMPLES$/,$p' "$T/page.$cmd" | grep -q "spawnpool $cmd" || fail "help $cmd: no example"
    for g in --server --token-file --cacert --json --verbose; do
        sed -n '/^GLOBAL OPTIONS$/,/^[A-Z]/p' "$T/page.$cmd" | grep -q -- "^    $g" ||
            fail "help $cmd: GLOBAL OPTIONS lacks $g"
    done
    got=$(flags "$T/page.$cmd")
    case $cmd in
    run | submit)
        eq "help $cmd: OPTIONS are the options[] of cli/submit_opts.c" "$(echo $got)" "$(echo $SUBMIT_FLAGS)"
        ;;
    *)
        [ "${WANT[$cmd]+set}" = set ] || fail "no list of the flags of '$cmd' in this test: add it"
        for f in ${WANT[$cmd]} --help; do
            grep -qx -- "$f" <<<"$got" || fail "help $cmd: OPTIONS lack $f (has: $(echo $got))"
        done
        pass "help $cmd: OPTIONS have ${WANT[$cmd]:+${WANT[$cmd]} }--help"
        ;;
    esac
    # the completion offers each flag of the page (and the global ones)
    completes spawnpool "$cmd" -
    for f in $got --json --server --token-file --cacert --verbose; do
        [ "$f" = -h ] && continue
        [[ " ${COMPREPLY[*]} " == *" $f "* ]] || fail "completion of 'spawnpool $cmd -' lacks $f: ${COMPREPLY[*]}"
    done
    # `spawnpool CMD --help` is the same page (commands still being written say so: skipped)
    rc=0
    "$SP" "$cmd" --help >"$T/own.$cmd" 2>"$T/own.err" || rc=$?
    if grep -q 'not written yet' "$T/own.err"; then
        echo "skip - spawnpool $cmd --help: the command is a placeholder in this tree"
    elif [ "$cmd" = help ]; then
        eq "spawnpool help --help exits 0" "$rc" 0
    else
        eq "spawnpool $cmd --help exits 0" "$rc" 0
        diff -u "$T/page.$cmd" "$T/own.$cmd" >"$T/diff" || fail "spawnpool $cmd --help is not its help page: $(cat "$T/diff")"
        pass "spawnpool $cmd --help prints its page"
    fi
done
completes spawnpool ""
for cmd in "${SRC_CMDS[@]}" serve; do
    [[ " ${COMPREPLY[*]} " == *" $cmd "* ]] || fail "completion of 'spawnpool ' lacks $cmd: ${COMPREPLY[*]}"
done
pass "the completion offers every command"

# ---- errors ------------------------------------------------------------------------------
rc=0
"$SP" help nosuch >"$T/out" 2>"$T/err" || rc=$?
eq "spawnpool help nosuch exits 2" "$rc" 2
grep -q "nosuch" "$T/err" || fail "spawnpool help nosuch says nothing of it: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "spawnpool help nosuch printed on stdout: $(cat "$T/out")"
for args in "run --bogus" "submit --timeout" "run" "submit --priority x -- true"; do
    cmd=${args%% *}
    rc=0
    "$SP" $args >"$T/out" 2>"$T/err" </dev/null || rc=$?
    eq "spawnpool $args exits 2" "$rc" 2
    head -n 1 "$T/err" | grep -q "^spawnpool $cmd: " || fail "spawnpool $args: first line $(head -n 1 "$T/err")"
    first_synopsis=$(sed -n '/^SYNOPSIS$/{n;s/^    //p;q}' "$T/page.$cmd")
    grep -qF -- "$first_synopsis" "$T/err" || fail "spawnpool $args: no synopsis in $(cat "$T/err")"
    eq "spawnpool $args: points to the page" "$(tail -n 1 "$T/err")" "(spawnpool help $cmd)"
    [ ! -s "$T/out" ] || fail "spawnpool $args printed on stdout"
done

# ---- spawnpool --help ------------------------------------------------------------------------
"$SP" --help >"$T/help" || fail "spawnpool --help exited $?"
head -n 25 "$T/help" | grep -q '^  run ' || fail "spawnpool --help does not start with the commands: $(head "$T/help")"
head -n 25 "$T/help" | grep -q '^  serve ' || fail "spawnpool --help lists no serve"
grep -q 'spawnpool help' "$T/help" || fail "spawnpool --help does not point to spawnpool help"
grep -q 'spawnpool serve --help' "$T/help" || fail "spawnpool --help does not point to spawnpool serve --help"
grep -q -- '--durability' "$T/help" || fail "spawnpool --help lost the serve flags"
"$SP" serve --help | grep -q -- '--head-timeout' || fail "spawnpool serve --help lost its flags"
rc=0
"$SP" >/dev/null 2>"$T/err" || rc=$?
eq "spawnpool alone exits 2" "$rc" 2
grep -q '^  run ' "$T/err" || fail "spawnpool alone does not list the commands"
pass "spawnpool --help: the commands, then the serve flags"

# ---- install -----------------------------------------------------------------------------------
cmake --install "$BUILD_DIR" --prefix "$T/prefix" >"$T/install.out" 2>&1 || fail "cmake --install: $(cat "$T/install.out")"
[ -x "$T/prefix/bin/spawnpool" ] || fail "no bin/spawnpool in the prefix: $(find "$T/prefix")"
"$T/prefix/bin/spawnpool" --version | grep -q '^spawnpool ' || fail "the installed binary does not run"
cmp -s "$T/prefix/share/bash-completion/completions/spawnpool" "$ROOT/contrib/spawnpool.bash" ||
    fail "share/bash-completion/completions/spawnpool is not contrib/spawnpool.bash: $(find "$T/prefix")"
pass "cmake --install: bin/spawnpool and share/bash-completion/completions/spawnpool"

# ---- completion, from the installed file, in a bash of its own --------------------------------
cat >"$T/complete.sh" <<'SH'
source "$1"
complete -p spawnpool >/dev/null || { echo "no complete -F for spawnpool"; exit 1; }
c() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _spawnpool; echo "${COMPREPLY[*]}"; }
c spawnpool lo
c spawnpool run --ti
c spawnpool logs ""
c spawnpool ls --state fa
SH
# logs "": asks the server on port 9 (nothing there): no ids, and nothing on stderr
PATH="$T/prefix/bin:$PATH" bash "$T/complete.sh" "$T/prefix/share/bash-completion/completions/spawnpool" \
    >"$T/complete.out" 2>"$T/complete.err" || fail "completion script: $(cat "$T/complete.out" "$T/complete.err")"
eq "completes 'spawnpool lo' to logs" "$(sed -n 1p "$T/complete.out")" logs
eq "completes 'spawnpool run --ti' to --timeout" "$(sed -n 2p "$T/complete.out")" --timeout
eq "no job ids without a server" "$(sed -n 3p "$T/complete.out")" ""
eq "completes states" "$(sed -n 4p "$T/complete.out")" failed
[ ! -s "$T/complete.err" ] || fail "the completion printed on stderr: $(cat "$T/complete.err")"
pass "completion is quiet when the server does not answer"

# ---- completion of job ids and queues from a real server (through `spawnpool ls/queues`) ------
sp_start
submit '{"argv": ["true"], "queue": "completion-q"}'
export SPAWNPOOL_URL=$BASE
if "$SP" ls --json --limit 1 >/dev/null 2>&1; then
    completes "$SP" logs ""
    [[ " ${COMPREPLY[*]} " == *" $ID "* ]] || fail "completion of 'spawnpool logs ' lacks job $ID: ${COMPREPLY[*]}"
    pass "completes job ids from spawnpool ls"
else
    echo "skip - job id completion: spawnpool ls is a placeholder in this tree"
fi
if "$SP" queues --json >/dev/null 2>&1; then
    completes "$SP" ls --queue comp
    eq "completes --queue from spawnpool queues" "${COMPREPLY[*]}" completion-q
else
    echo "skip - queue completion: spawnpool queues is a placeholder in this tree"
fi
sp_stop
