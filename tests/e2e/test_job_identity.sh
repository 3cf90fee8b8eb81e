#!/usr/bin/env bash
# Jobs know who they are (issue 13, part 7): SPAWNPOOL_JOB_ID, SPAWNPOOL_ATTEMPT,
# SPAWNPOOL_QUEUE and SPAWNPOOL_JOB_NAME (when named) in every job's environment, set by the
# server: a job's own env cannot override them. The server's PGPASSWORD (the store's password)
# is not passed on to jobs.
source "$(dirname "$0")/lib.sh"
sp_start --retry-backoff 0.1
# the job's view of its identity, as one line (its output)
identity() { curl -s "$BASE/v1/jobs/$1/output"; }
SHOW='printf "%s|%s|%s|%s|%s" "$SPAWNPOOL_JOB_ID" "$SPAWNPOOL_ATTEMPT" "$SPAWNPOOL_QUEUE" "${SPAWNPOOL_JOB_NAME-unset}" "$MINE"'

submit "$(jq -nc --arg c "$SHOW" '{command: $c, name: "nightly", queue: "reports",
    env: {SPAWNPOOL_JOB_ID: "666", SPAWNPOOL_ATTEMPT: "9", SPAWNPOOL_QUEUE: "x", MINE: "kept"}}')"
eq "named job: done" "$(wait_job "$ID" | jq -r .state)" succeeded
eq "id, attempt, queue and name are the server's; the job's other env stays" "$(identity "$ID")" \
    "$ID|1|reports|nightly|kept"

submit "$(jq -nc --arg c "$SHOW" '{command: $c}')"
eq "unnamed job: done" "$(wait_job "$ID" | jq -r .state)" succeeded
eq "an unnamed job has no SPAWNPOOL_JOB_NAME" "$(identity "$ID")" "$ID|1|default|unset|"

# a retried job sees its attempt: the first one fails, the second prints
submit "$(jq -nc --arg c "$SHOW"' ; [ "$SPAWNPOOL_ATTEMPT" = 2 ]' '{command: $c, max_attempts: 2}')"
eq "retried job: succeeded on its second attempt" "$(wait_job "$ID" | jq -c '[.state, .attempt]')" \
    '["succeeded",2]'
eq "SPAWNPOOL_ATTEMPT is the attempt that runs" "$(identity "$ID")" "$ID|2|default|unset|"

# every stage of a pipeline is the same job
submit '{"pipeline": [["sh", "-c", "echo $SPAWNPOOL_JOB_ID"], ["sh", "-c", "read a; echo $a-$SPAWNPOOL_JOB_ID"]]}'
eq "pipeline: done" "$(wait_job "$ID" | jq -r .state)" succeeded
eq "each stage of a pipeline sees the job's id" "$(identity "$ID")" "$ID-$ID"
sp_stop

# the server's own secret stays with it: PGPASSWORD (the store's password, which libpq reads
# from the server's environment) is not in a job's environment, unless the job gives its own
PGPASSWORD=the-servers-secret SPAWNPOOL_VISIBLE=yes sp_start
submit '{"command": "echo ${PGPASSWORD-unset}/${SPAWNPOOL_VISIBLE-unset}"}'
eq "PGPASSWORD job: done" "$(wait_job "$ID" | jq -r .state)" succeeded
eq "a job sees the server's environment but not PGPASSWORD" "$(identity "$ID")" "unset/yes"
# nor through its worker's or the server's /proc/PID/environ (same user without --run-as)
submit "{\"command\": \"cat /proc/\$PPID/environ /proc/$SP_PID/environ | tr '\\\\0' '\\\\n' | grep -c the-servers-secret || true\"}"
wait_job "$ID" >/dev/null
eq "nor in /proc/PID/environ of its worker or the server" "$(identity "$ID")" 0
submit '{"command": "echo $PGPASSWORD", "env": {"PGPASSWORD": "its-own"}}'
wait_job "$ID" >/dev/null
eq "a job's own PGPASSWORD is its own" "$(identity "$ID")" "its-own"
sp_stop
