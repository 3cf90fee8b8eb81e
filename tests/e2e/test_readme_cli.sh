#!/usr/bin/env bash
# The README's command-line client walk-through, run as written against a real server (the
# built binary first in PATH, SPAWNPOOL_URL pointing at the server): every command must
# succeed and show what the README says it shows.
source "$(dirname "$0")/lib.sh"
README="$(dirname "$0")/../../README.md"
sp_start
sed -n '/<!-- cli-walkthrough:start -->/,/<!-- cli-walkthrough:end -->/p' "$README" |
    sed '1,2d;$d' | sed '$d' >"$T/walkthrough.sh"
[ -s "$T/walkthrough.sh" ] || fail "no CLI walk-through between the markers in the README"
grep -q '^spawnpool run -- ' "$T/walkthrough.sh" || fail "the CLI walk-through lost its first run"
! grep -q 'SPAWNPOOL_URL=' <(grep -v '^#' "$T/walkthrough.sh") ||
    fail "the CLI walk-through sets SPAWNPOOL_URL itself (the test points it at its server)"
mkdir -p "$T/bin"
ln -s "$SPAWNPOOL_BIN" "$T/bin/spawnpool"
(cd "$T" && PATH="$T/bin:$PATH" SPAWNPOOL_URL=$BASE bash -e -o pipefail "$T/walkthrough.sh") \
    >"$T/walkthrough.out" 2>&1 ||
    fail "CLI walk-through failed: $(cat "$T/walkthrough.out")"
OUT=$(cat "$T/walkthrough.out")
has() { grep -qF -- "$1" <<<"$OUT" || fail "CLI walk-through output lacks: $1"$'\n'"$OUT"; pass "shows $1"; }
line() { grep -qxF -- "$1" <<<"$OUT" || fail "CLI walk-through output lacks the line: $1"$'\n'"$OUT"; pass "shows the line $1"; }
line hello
line oops
line 'exit 3'
line /tmp
line HI
line 'exit 0'
has $'hello\nbye'
# ls: the table's header, and the job named greet in it, succeeded
grep -qE '^ID +STATE +NAME' <<<"$OUT" || fail "no ls table header (ID STATE NAME/COMMAND ...): $OUT"
grep -qE '^[0-9]+ +succeeded +greet ' <<<"$OUT" || fail "ls --name greet does not show it succeeded: $OUT"
pass "ls shows the greet job, succeeded"
has '"state": "succeeded"'
has '"exit_code": 0'
line 'exit 143'
line 'exit 124'
eq "ends with show's exit 4 for the removed job" "$(tail -n 1 <<<"$OUT")" 'exit 4'
# the server agrees: greet succeeded, the terminated sleep is forgotten, nothing still runs
greet=$(curl -s "$BASE/v1/jobs?name=greet" | jq -r '.jobs[0].state')
eq "the server has greet succeeded" "$greet" succeeded
eq "the removed job is gone" "$(curl -s "$BASE/v1/jobs?state=terminated" | jq '.jobs | length')" 0
eq "no job is left running" "$(curl -s "$BASE/v1/jobs?state=running" | jq '.jobs | length')" 0
eq "the server has one job timed out" "$(curl -s "$BASE/v1/jobs?state=timed_out" | jq '.jobs | length')" 1
sp_stop
