#!/usr/bin/env bash
# The filters of GET /v1/jobs (issue 13, part 5): several states, a name prefix, rerun_of,
# created_after/created_before/finished_after (RFC 3339, exclusive), each alone and combined,
# paged with before=; the 400s of bad values; `spawnpool ls` with the same filters (times also
# as a span ago); the README's example. That every combination reads an index is
# tests/unit/test_store_list.c's (the query plans).
source "$(dirname "$0")/lib.sh"

# the README's example first, on a fresh server: its ids are the ones it shows
sp_start
run_example filters
example_shows '[{"name":"build-api","state":"succeeded"},{"name":"build-web","state":"failed"},{"name":"deploy-web","state":"timed_out"}]'
example_shows '["deploy-web","build-web"]'
example_shows '["build-api"]'
example_shows '[{"name":"deploy-web","state":"timed_out"}]'
example_shows '[{"name":"build-api","rerun_of":1}]'
example_shows '{"names":["build-api","build-web"],"next_before":2}'
example_shows '{"names":["build-api"],"next_before":null}'
example_shows '"field":"state"'
sp_stop
rm -rf "$T/data"

sp_start
# ids QUERY: the ids GET /v1/jobs?QUERY lists (one page), comma-separated
ids() {
    local body
    body=$(curl -s "$BASE/v1/jobs?$1")
    jq -e .jobs >/dev/null <<<"$body" || fail "GET /v1/jobs?$1: $body"
    jq -r '[.jobs[].id] | join(",")' <<<"$body"
}
lists() { eq "?$1" "$(ids "$1")" "$2"; }
# ms_of TIME: milliseconds since the epoch of an API time
ms_of() { epoch_ms "$1"; }
now_ms() { date +%s%3N; }
clock_past() { [ "$(now_ms)" -gt "$1" ]; }

# batch A: ends before batch B is submitted
submit '{"argv": ["true"], "name": "build-1"}'
A1=$ID
submit '{"argv": ["false"], "name": "build-2"}'
A2=$ID
submit '{"argv": ["true"], "name": "deploy-1"}'
A3=$ID
for id in $A1 $A2 $A3; do wait_job "$id" >/dev/null; done
A_CREATED=$(job_field "$A3" .created_at)
A_FINISHED=$(curl -s "$BASE/v1/jobs?limit=3" | jq -r '[.jobs[].finished_at] | max')
# (what B does must be later, by the server's clock, which is this machine's)
wait_for 60 clock_past "$(ms_of "$A_FINISHED")" || fail "the clock does not move"

# batch B
submit '{"command": "sleep 30", "name": "build-3", "timeout": 0.2}'
B1=$ID
submit '{"argv": ["true"], "name": "build"}'
B2=$ID
submit '{"argv": ["true"], "name": "build.x"}'
B3=$ID
req POST "/v1/jobs/$A1/rerun"
B4=$(jq -r .id <<<"$BODY")
expect 200 PATCH /v1/queues/held '{"paused": true}'
submit '{"argv": ["true"], "name": "build-q", "queue": "held"}'
Q=$ID
for id in $B1 $B2 $B3 $B4; do wait_job "$id" >/dev/null; done
eq "build-3 timed out" "$(job_field "$B1" .state)" timed_out
B_CREATED=$(job_field "$B1" .created_at)

# one filter at a time
lists "state=failed,timed_out" "$B1,$A2"
lists "state=timed_out,failed,timed_out" "$B1,$A2"
lists "state=queued,running" "$Q"
lists "state=succeeded" "$B4,$B3,$B2,$A3,$A1"
lists "name=build-*" "$Q,$B4,$B1,$A2,$A1"
lists "name=build*" "$Q,$B4,$B3,$B2,$B1,$A2,$A1"
lists "name=build" "$B2"
lists "name=*" "$Q,$B4,$B3,$B2,$B1,$A3,$A2,$A1"
lists "rerun_of=$A1" "$B4"
lists "rerun_of=$A2" ""
lists "created_after=$A_CREATED" "$Q,$B4,$B3,$B2,$B1"
lists "created_before=$B_CREATED" "$A3,$A2,$A1"
lists "created_after=$A_CREATED&created_before=$B_CREATED" ""
lists "finished_after=$A_FINISHED" "$B4,$B3,$B2,$B1"
# an offset: its '+' as is (a query string makes it a space) or as %2B; the same instant
PLUS=$(date -u -d "@$(($(ms_of "$A_CREATED") / 1000 + 3600))" +%Y-%m-%dT%H:%M:%S).${A_CREATED:20:3}+01:00
lists "created_after=$PLUS" "$Q,$B4,$B3,$B2,$B1"
lists "created_after=${PLUS/+/%2B}" "$Q,$B4,$B3,$B2,$B1"

# combined, and paged
lists "name=build-*&state=succeeded" "$B4,$A1"
lists "state=failed,timed_out&created_after=$A_CREATED" "$B1"
lists "name=build-*&created_after=$A_CREATED&state=queued,timed_out" "$Q,$B1"
lists "queue=held&name=build-*" "$Q"
lists "rerun_of=$A1&state=succeeded&name=build-*&finished_after=$A_FINISHED" "$B4"
lists "state=succeeded&before=$B3" "$B2,$A3,$A1"
PAGES=""
Q_PAGE="name=build*&state=succeeded,failed,timed_out&limit=2"
NEXT=""
for _ in 1 2 3 4 5; do
    BODYP=$(curl -s "$BASE/v1/jobs?$Q_PAGE$NEXT")
    PAGES="$PAGES${PAGES:+,}$(jq -r '[.jobs[].id] | join(",")' <<<"$BODYP")"
    N=$(jq -r .next_before <<<"$BODYP")
    [ "$N" = null ] && break
    NEXT="&before=$N"
done
eq "paging name=build*&state=... by 2 gives the whole list" "$PAGES" "$(ids "${Q_PAGE%&limit=2}")"
eq "... which is" "$PAGES" "$B4,$B3,$B2,$B1,$A2,$A1"

# bad values: a 400 that names the parameter
expect_error 400 invalid_argument state GET "/v1/jobs?state=failed,,lost"
expect_error 400 invalid_argument state GET "/v1/jobs?state=failed,"
expect_error 400 invalid_argument state GET "/v1/jobs?state="
expect_error 400 invalid_argument state GET "/v1/jobs?state=failed,finished"
expect_error 400 invalid_argument name GET "/v1/jobs?name=a*b"
expect_error 400 invalid_argument name GET "/v1/jobs?name=**"
expect_error 400 invalid_argument created_after GET "/v1/jobs?created_after=yesterday"
expect_error 400 invalid_argument created_after GET "/v1/jobs?created_after=2026-11-27"
expect_error 400 invalid_argument created_before GET "/v1/jobs?created_before=2026-02-29T00:00:00Z"
expect_error 400 invalid_argument finished_after GET "/v1/jobs?finished_after=1h"
expect_error 400 invalid_argument rerun_of GET "/v1/jobs?rerun_of=0"
expect_error 400 invalid_argument rerun_of GET "/v1/jobs?rerun_of=x"
expect_error 400 invalid_argument created_after GET "/v1/jobs?created_after=$A_CREATED&created_after=$A_CREATED"

# the client: the same filters, times also as a span ago
cli() {
    RC=0
    OUT=$("$SPAWNPOOL_BIN" "$@" --server "$BASE" 2>"$T/cli.err") || RC=$?
    ERR=$(cat "$T/cli.err")
}
ls_ids() { # ls ARGS...: the ids of the table, comma-separated
    cli ls "$@"
    [ "$RC" = 0 ] || fail "spawnpool ls $*: exit $RC: $ERR"
    tail -n +2 <<<"$OUT" | awk '{print $1}' | paste -sd, -
}
eq "ls --state failed,timed_out" "$(ls_ids --state failed,timed_out)" "$B1,$A2"
eq "ls --name 'build-*' --state succeeded" "$(ls_ids --name 'build-*' --state succeeded)" "$B4,$A1"
eq "ls --rerun-of A1" "$(ls_ids --rerun-of "$A1")" "$B4"
eq "ls --created-after (RFC 3339)" "$(ls_ids --created-after "$A_CREATED")" "$Q,$B4,$B3,$B2,$B1"
eq "ls --created-before (RFC 3339)" "$(ls_ids --created-before "$B_CREATED")" "$A3,$A2,$A1"
eq "ls --finished-after 1h: every ended job" "$(ls_ids --finished-after 1h)" "$B4,$B3,$B2,$B1,$A3,$A2,$A1"
eq "ls --created-before 1h: none" "$(ls_ids --created-before 1h)" ""
eq "ls --created-after 0.5d --state queued" "$(ls_ids --created-after 0.5d --state queued)" "$Q"
cli ls --created-after 1w --name 'build*' --limit 2
eq "ls --created-after 1w --limit 2: exit 0" "$RC" 0
grep -qE "^\(more jobs: spawnpool ls --created-after '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z' --name 'build\*' --limit 2 --before $B4\)$" <<<"$ERR" ||
    fail "the paging hint repeats the filters, the span as the time it stood for: $ERR"
pass "the paging hint repeats the filters, the span as the time it stood for"
HINT=$(sed -n "s/^(more jobs: spawnpool ls \(.*\))$/\1/p" <<<"$ERR")
eval "set -- $HINT"
eq "... and that hint lists the next page" "$(ls_ids "$@")" "$B3,$B2"
cli ls --json --state failed,timed_out --name 'build-*'
eq "ls --json: the API's page" "$(jq -c '[.jobs[].id]' <<<"$OUT")" "[$B1,$A2]"
cli ls --created-after yesterday
eq "ls --created-after yesterday: usage (exit 2)" "$RC" 2
grep -q "span ago" <<<"$ERR" || fail "ls --created-after yesterday says: $ERR"
cli ls --finished-after 5x
eq "ls --finished-after 5x: usage (exit 2)" "$RC" 2
cli ls --rerun-of 0
eq "ls --rerun-of 0: usage (exit 2)" "$RC" 2
cli ls --created-after 2026-13-01T00:00:00Z
eq "ls --created-after of month 13: the server refuses it (exit 3)" "$RC" 3
grep -q "created_after" <<<"$ERR" || fail "ls with a bad time says: $ERR"
cli ls --state failed,nope
eq "ls --state failed,nope: the server refuses it (exit 3)" "$RC" 3
grep -q "unknown state 'nope'" <<<"$ERR" || fail "ls --state failed,nope says: $ERR"
pass "ls: bad filters are said"

# a restart keeps what the filters read (the indexes are the database's)
sp_stop
sp_start
lists "state=failed,timed_out&created_after=$A_CREATED" "$B1"
lists "finished_after=$A_FINISHED&name=build*" "$B4,$B3,$B2,$B1"
sp_stop
