#!/usr/bin/env bash
# Hostile review of delayed jobs and schedules (issue 13): what a hostile tester found.
# - Two PATCHes of one schedule at once that change different fields must both take effect
#   (each used to send the whole schedule as the API had read it, so the later one undid
#   the earlier).
# - The limit of 1000 schedules holds under concurrent POSTs (it was checked before the
#   main loop saw the POST, so racing POSTs went past it), and a POST does not render every
#   stored schedule to count them.
# - A run_at past 9999-12-31 (through an offset) is refused, as the years of RFC 3339 end
#   there; the list's state refusal names every state, scheduled too.
# - A schedule cannot be named "." or "..": no client can reach /v1/schedules/.. (dot
#   segments are dropped from paths), so it could never be shown, paused or deleted.
# - Terminating a group member cancels its scheduled members too (they were left scheduled,
#   then waited at the group's barrier forever).
source "$(dirname "$0")/lib.sh"
sp_start

sched() { curl -s "$BASE/v1/schedules/$1" | jq -c "$2"; }

# ---- concurrent PATCHes of different fields ------------------------------------------------
expect 201 POST /v1/schedules '{"name": "race", "cron": "0 0 1 1 *", "job": {"argv": ["true"]}}'
for i in $(seq 1 20); do
    expect 200 PATCH /v1/schedules/race '{"cron": "0 0 1 1 *", "overlap": "allow", "catch_up": true}' \
        >/dev/null
    curl -s -o "$T/a.out" -w '%{http_code}' -X PATCH "$BASE/v1/schedules/race" \
        -H 'Content-Type: application/json' --data-binary '{"cron": "5 5 5 5 *"}' >"$T/a.code" &
    a=$!
    curl -s -o "$T/b.out" -w '%{http_code}' -X PATCH "$BASE/v1/schedules/race" \
        -H 'Content-Type: application/json' --data-binary '{"overlap": "skip"}' >"$T/b.code" &
    b=$!
    curl -s -o "$T/c.out" -w '%{http_code}' -X PATCH "$BASE/v1/schedules/race" \
        -H 'Content-Type: application/json' --data-binary '{"catch_up": false}' >"$T/c.code" &
    c=$!
    wait "$a" "$b" "$c"
    [ "$(cat "$T/a.code" "$T/b.code" "$T/c.code" | tr -d '\n')" == 200200200 ] ||
        fail "concurrent PATCHes: $(cat "$T/a.code" "$T/b.code" "$T/c.code")"
    got=$(sched race '[.cron, .overlap, .catch_up]')
    [ "$got" == '["5 5 5 5 *","skip",false]' ] ||
        fail "round $i: three PATCHes of different fields at once left $got (one undid another)"
done
pass "20 rounds of three concurrent PATCHes of different fields: each took effect"
[[ $(sched race .next_run_at) == *-05-05T05:05:00.000Z\" ]] ||
    fail "the next run does not follow the cron a PATCH gave: $(sched race .next_run_at)"
pass "the next run follows the cron a PATCH gave"
sp_stop
sp_start
eq "after a restart, as patched" "$(sched race '[.cron, .overlap, .catch_up]')" '["5 5 5 5 *","skip",false]'

# ---- names a URL path cannot carry -----------------------------------------------------------
# "." and ".." are dot segments: curl and libcurl (so the client) remove them from a path, and
# /v1/schedules/.. reaches /v1/ instead; a schedule so named could be made but never shown,
# paused or deleted
for n in . ..; do
    expect_error 400 invalid_argument name POST /v1/schedules \
        '{"name": "'"$n"'", "cron": "@daily", "job": {"argv": ["true"]}}'
done
expect 201 POST /v1/schedules '{"name": "a.b", "cron": "@daily", "job": {"argv": ["true"]}}'

# ---- at most 1000 schedules, even when POSTs race ------------------------------------------
mkdir -p "$T/bodies"
for i in $(seq 1 1030); do
    printf '{"name": "s%d", "cron": "%d %d * * *", "job": {"argv": ["true"]}}' "$i" $((i % 60)) \
        $((i % 24)) >"$T/bodies/$i.json"
done
ls "$T/bodies" | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' \
    -H 'Content-Type: application/json' --data-binary "@$T/bodies/{}" "$BASE/v1/schedules" \
    >"$T/codes"
eq "POSTs: 998 made (race and a.b are two), 32 refused" "$(sort "$T/codes" | uniq -c | awk '{printf "%s:%s ", $2, $1}')" \
    "201:998 400:32 "
eq "1000 schedules, no more" "$(curl -s "$BASE/v1/schedules" | jq '.schedules | length')" 1000
expect_error 400 invalid_argument name POST /v1/schedules \
    '{"name": "one-more", "cron": "@daily", "job": {"argv": ["true"]}}'
grep -q "at most 1000 schedules" <<<"$BODY" || fail "the refusal says why: $BODY"
expect 204 DELETE /v1/schedules/s1
expect 201 POST /v1/schedules '{"name": "one-more", "cron": "@daily", "job": {"argv": ["true"]}}'

# ---- a group with a member still scheduled -------------------------------------------------
# a terminated member takes its whole group with it (it can never start together), a member
# that waits for its run_at too: left scheduled, it would wait at the barrier forever once due
submit '{"argv": ["true"], "group": "g", "group_size": 2, "delay": 3600}'
LATER=$ID
submit '{"argv": ["true"], "group": "g", "group_size": 2}'
NOW=$ID
expect 200 POST "/v1/jobs/$NOW/terminate"
eq "the terminated member is canceled" "$(jq -r .state <<<"$BODY")" canceled
eq "so is the scheduled member of its group" "$(job_field "$LATER" '[.state, .error] | join(": ")')" \
    "canceled: member $NOW of group g was terminated before the start"
eq "healthz counts no scheduled job" "$(curl -s "$BASE/healthz" | jq -c .jobs)" \
    '{"queued":0,"running":0,"scheduled":0}'
# and the other way round: the scheduled member terminated, the queued one goes with it
submit '{"argv": ["true"], "group": "h", "group_size": 2, "delay": 3600}'
LATER=$ID
submit '{"argv": ["true"], "group": "h", "group_size": 2}'
NOW=$ID
expect 200 POST "/v1/jobs/$LATER/terminate"
eq "the queued member goes with the scheduled one" "$(job_field "$NOW" .state)" canceled

# ---- times and states ----------------------------------------------------------------------
expect_error 400 invalid_argument run_at POST /v1/jobs \
    '{"argv": ["true"], "run_at": "9999-12-31T23:59:59-23:59"}'
submit '{"argv": ["true"], "run_at": "9999-12-31T23:59:59.999Z"}'
eq "the last millisecond of 9999 is a run_at" "$(jq -r .run_at <<<"$BODY")" 9999-12-31T23:59:59.999Z
expect_error 400 invalid_argument state GET "/v1/jobs?state=finished"
grep -q "queued, scheduled, running" <<<"$BODY" || fail "the refusal names scheduled too: $BODY"


# ---- a PATCH cannot rename ---------------------------------------------------------------------
expect_error 400 invalid_argument name PATCH /v1/schedules/race '{"name": "renamed"}'
grep -q "known: name" <<<"$BODY" && fail "the refusal calls name a known field it then refuses: $BODY"
grep -q "cannot be changed" <<<"$BODY" || fail "the refusal says a name cannot be changed: $BODY"
