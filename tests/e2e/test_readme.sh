#!/usr/bin/env bash
# The README's curl walk-through, run as written against a real server: every command must
# succeed and show what the README says it shows.
source "$(dirname "$0")/lib.sh"
README="$(dirname "$0")/../../README.md"
sp_start
sed -n '/<!-- walkthrough:start -->/,/<!-- walkthrough:end -->/p' "$README" |
    sed '1,2d;$d' | sed '$d' >"$T/walkthrough.sh"
grep -q '^S=http://127.0.0.1:8080$' "$T/walkthrough.sh" || fail "walk-through lost its S= line"
sed -i "s|^S=http://127.0.0.1:8080\$|S=$BASE|" "$T/walkthrough.sh"
(cd "$T" && bash -e -o pipefail "$T/walkthrough.sh") >"$T/walkthrough.out" 2>&1 ||
    fail "walk-through failed: $(tail -n 20 "$T/walkthrough.out")"
OUT=$(cat "$T/walkthrough.out")
has() { grep -qF -- "$1" <<<"$OUT" || fail "walk-through output lacks: $1"$'\n'"$OUT"; pass "shows $1"; }
has '"state":"queued"'
has '"state":"succeeded","exit_code":0'
has $'hello\nbye'
has '"running"'
has '"state":"terminated","signal":15'
has '"code":"invalid_argument"'
has '"field":"timout"'
has '"status": "ok"'
has 'spawnpool_jobs{state="succeeded"}'
eq "ends with the delete's 204" "$(tail -n 1 <<<"$OUT")" 204
sp_stop
