#!/usr/bin/env bash
# gzip: a JSON answer of 4 KB or more goes out gzipped (Content-Encoding: gzip) to a client
# whose Accept-Encoding takes it, with Vary: Accept-Encoding; the JSON is the same; small
# answers, other clients and q=0 get it plain. Prints a 1000-job list's sizes.
source "$(dirname "$0")/lib.sh"
sp_start --workers 2 --access-log
# 1000 jobs in one array submit (--max-batch 1000)
BATCH=$(jq -cn '[range(1000) | {argv: ["true"], name: "gzip-\(.)"}]')
expect 201 POST /v1/jobs "$BATCH"
all_done() { [ "$(curl -s "$BASE/v1/jobs?state=succeeded&limit=1000" | jq '.jobs | length')" == 1000 ]; }
wait_for 120 all_done || fail "the 1000 jobs never finished"
URL="$BASE/v1/jobs?limit=1000"

PLAIN=$(curl -s -o "$T/plain" -D "$T/plain.h" -w '%{size_download}' "$URL")
GZ=$(curl -s -H 'Accept-Encoding: gzip' -o "$T/gz" -D "$T/gz.h" -w '%{size_download}' "$URL")
echo "  a 1000-job list: $PLAIN bytes plain, $GZ bytes gzipped"
check "Content-Encoding: gzip" grep -qi '^Content-Encoding: gzip' "$T/gz.h"
check "Vary: Accept-Encoding" grep -qi '^Vary:.*Accept-Encoding' "$T/gz.h"
check "plain without Content-Encoding" bash -c "! grep -qi '^Content-Encoding' '$T/plain.h'"
check "plain says Vary: Accept-Encoding too (a cache must know)" grep -qi '^Vary:.*Accept-Encoding' "$T/plain.h"
eq "the gzipped body is the same JSON" "$(gzip -dc "$T/gz" | jq -S . | sha256sum)" "$(jq -S . "$T/plain" | sha256sum)"
eq "curl --compressed reads the same 1000 jobs" "$(curl -s --compressed "$URL" | jq '.jobs | length')" 1000
check "at least ten times smaller ($PLAIN -> $GZ)" test $((GZ * 10)) -lt "$PLAIN"

code_enc() { curl -s -o /dev/null -D - -H "Accept-Encoding: $1" "$2" | grep -ci '^Content-Encoding: gzip'; }
eq "gzip;q=0: plain" "$(code_enc 'gzip;q=0' "$URL")" 0
eq "br, *;q=0.5: gzip (the wildcard)" "$(code_enc 'br, *;q=0.5' "$URL")" 1
eq "identity only: plain" "$(code_enc 'identity' "$URL")" 0
eq "a small answer (healthz) stays plain" "$(code_enc gzip "$BASE/healthz")" 0

# the CLI asks for gzip too: its 1000-job `ls` travels compressed (the access line's bytes)
BEFORE=$(grep -c 'access method=GET path=/v1/jobs ' "$T/server.err")
"$SPAWNPOOL_BIN" ls --limit 1000 --server "$BASE" >"$T/ls.out" || fail "spawnpool ls failed"
eq "spawnpool ls --limit 1000 lists 1000 jobs" "$(grep -c 'gzip-' "$T/ls.out")" 1000
cli_line() { [ "$(grep -c 'access method=GET path=/v1/jobs ' "$T/server.err")" -gt "$BEFORE" ]; }
wait_for 60 cli_line || fail "no access line for the CLI's list"
CLI_BYTES=$(grep 'access method=GET path=/v1/jobs ' "$T/server.err" | tail -n 1 | grep -o 'bytes=[0-9]*' | cut -d= -f2)
check "the CLI's list came gzipped ($CLI_BYTES bytes on the wire, $PLAIN plain)" test $((CLI_BYTES * 10)) -lt "$PLAIN"
sp_stop
[ "$FAILS" -eq 0 ]
