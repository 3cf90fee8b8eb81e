#!/usr/bin/env bash
# Pipe between jobs: "stdin_from": id feeds a job the finished stdout of another (and waits
# for it, like "after"); a failed producer cancels the consumer.
source "$(dirname "$0")/lib.sh"
sp_start
submit "{\"command\":\"$(hold producer); echo b; echo a; echo c\"}"; PRODUCER=$ID
submit "{\"argv\":[\"sort\"],\"stdin_from\":$PRODUCER}"; CONSUMER=$ID
eq "shown in the job" "$(jq -r .stdin_from <<<"$BODY")" "$PRODUCER"
wait_for 60 state_is "$PRODUCER" running || fail "the producer never ran"
eq "waits for the producer" "$(job_field "$CONSUMER" .state)" queued
release producer
eq "consumer succeeded" "$(wait_job "$CONSUMER" | jq -r .state)" succeeded
eq "it read the producer's stdout" "$(curl -s "$BASE/v1/jobs/$CONSUMER/output")" $'a\nb\nc'
submit '{"argv":["true"]}'; SILENT=$ID
submit "{\"argv\":[\"wc\",\"-c\"],\"stdin_from\":$SILENT}"
eq "an empty stdout gives an empty stdin" "$(wait_job "$ID" >/dev/null; curl -s "$BASE/v1/jobs/$ID/output" | tr -d ' ')" 0
submit '{"command":"exit 1"}'; BAD=$ID
submit "{\"argv\":[\"cat\"],\"stdin_from\":$BAD}"
eq "a failed producer cancels the consumer" "$(wait_job "$ID" | jq -r .state)" canceled
expect_error 400 invalid_argument stdin_from POST /v1/jobs "{\"argv\":[\"cat\"],\"stdin_from\":$PRODUCER,\"stdin\":\"x\"}"
expect_error 400 invalid_argument stdin_from POST /v1/jobs '{"argv":["cat"],"stdin_from":"1"}'
expect_error 400 invalid_argument after POST /v1/jobs '{"argv":["cat"],"stdin_from":987654}'
sp_stop

# a big producer: its capture file is the consumer's stdin, whatever its size up to
# --max-output (it was read into one message, which over 16 MiB killed the workers)
sp_start --max-output 64M
submit '{"command":"head -c 52428800 /dev/zero | tr \\0 a"}'; BIG=$ID
submit "{\"command\":\"wc -c; echo; tail -c 3\",\"stdin_from\":$BIG}"; READER=$ID
eq "a 50 MB producer succeeded" "$(wait_job "$BIG" | jq -r '[.state, .output.stdout_bytes] | join(" ")')" "succeeded 52428800"
eq "its consumer succeeded" "$(wait_job "$READER" | jq -r .state)" succeeded
eq "and read all 50 MB" "$(curl -s "$BASE/v1/jobs/$READER/output" | head -n 1 | tr -d ' ')" 52428800
eq "no worker was replaced" "$(curl -s "$BASE/metrics" | awk '$1 == "spawnpool_worker_restarts_total" {print $2}')" 0
sp_stop
