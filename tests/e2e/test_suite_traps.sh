#!/usr/bin/env bash
# The suite's own hygiene: lib.sh's EXIT trap (cleanup) stops the server, its recording proxy
# and the helpers a test started; a test that sets its own EXIT trap must still call cleanup,
# or every run leaves processes behind (test_notify_systemd once left a proxy per run, and a
# server after a failure). No server needed: this reads the tests.
source "$(dirname "$0")/lib.sh"
DIR=$(cd "$(dirname "$0")" && pwd)
bad=""
for f in "$DIR"/test_*.sh; do
    while IFS= read -r line; do
        [[ $line == *cleanup* ]] || bad="$bad $(basename "$f"): $line;"
    done < <(grep -E "^[[:space:]]*trap .*EXIT" "$f")
done
[ -z "$bad" ] || fail "EXIT traps that skip lib.sh's cleanup:$bad"
pass "every test's EXIT trap ends in lib.sh's cleanup"
