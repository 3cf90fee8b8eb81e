#!/usr/bin/env bash
# --run-as USER[:GROUP]: jobs run as that user with no supplementary groups (the worker
# drops privileges after fork, before exec), also in replacement workers; a user that does
# not exist, or --run-as without root, is refused at start with the reason.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "# SKIP: --run-as needs root"; exit 0; }
NOBODY_UID=$(id -u nobody) NOGROUP_GID=$(getent group nogroup | cut -d: -f3)
sp_start --run-as nobody:nogroup
check "the start log says who jobs run as" grep -q "jobs run as nobody:nogroup" "$T/server.err"
submit '{"argv":["sh","-c","id -u; id -g; id -G"],"cwd":"/tmp"}'
eq "a job runs as nobody:nogroup, no other groups" "$(wait_job "$ID" | jq -r .state) $(curl -s "$BASE/v1/jobs/$ID/output" | tr '\n' ' ')" \
    "succeeded $NOBODY_UID $NOGROUP_GID $NOGROUP_GID "
submit '{"argv":["sh","-c","touch /root/spawnpool-run-as-test"],"cwd":"/tmp"}'
eq "so it cannot write where root can" "$(wait_job "$ID" | jq -r .exit_code)" 1
check "and did not" [ ! -e /root/spawnpool-run-as-test ]
submit '{"argv":["sleep","300"],"cwd":"/tmp"}'
wait_for 60 state_is "$ID" running || fail "sleep did not start"
# a replacement worker (fork+exec) must keep the identity: kill every worker once
workers() { cat /proc/"$SP_PID"/task/*/children | tr ' ' '\n' | grep . | sort; }
OLD=$(workers)
for pid in $OLD; do kill -KILL "$pid"; done
replaced() { [ -z "$(comm -12 <(echo "$OLD") <(workers))" ] && [ "$(curl -s "$BASE/healthz" | jq .workers.idle)" -ge 2 ]; }
wait_for 60 replaced || fail "the workers were not replaced"
pass "the workers are new processes"
submit '{"argv":["id","-u"],"cwd":"/tmp"}'
wait_job "$ID" >/dev/null
eq "replacement workers run jobs as nobody too" "$(curl -s "$BASE/v1/jobs/$ID/output")" "$NOBODY_UID"
sp_stop
sp_refused "an unknown user" --run-as no-such-user-here
check "saying which" grep -q "no user 'no-such-user-here'" "$T/refused.err"
SP_WRAP="setpriv --reuid nobody --regid nogroup --clear-groups" sp_refused "--run-as without root" --run-as root
check "saying why" grep -q "needs the server to start as root" "$T/refused.err"
