#!/usr/bin/env bash
# GET /v1/events: server-sent events, one per state change, id = the job_events row id,
# resumable with Last-Event-ID, filtered by job or queue; no thread held while idle.
source "$(dirname "$0")/lib.sh"
sp_start --http-threads 1
DB="$T/data/spawnpool.db"

# stream FILE LAST URL [CURL-ARGS...]: reads the event stream (which stays open) into FILE
# until it has shown the event with id LAST
stream() {
    local file=$1 last=$2 url=$3 pid
    shift 3
    : >"$file"
    curl -s -N "$@" "$BASE$url" >>"$file" &
    pid=$!
    wait_for 60 grep -qx "id: $last" "$file" || fail "$url: no event $last in $(cat "$file")"
    kill "$pid"
    wait "$pid" 2>/dev/null
}
# last_event [WHERE]: the id of the last job_events row (matching WHERE)
last_event() { sqlite3 "$DB" "SELECT max(id) FROM job_events ${1:+WHERE $1}"; }

submit '{"argv":["true"],"queue":"q1"}'; A=$ID
submit '{"argv":["/bin/sh","-c","exit 3"]}'; B=$ID
wait_job "$A" >/dev/null
wait_job "$B" >/dev/null
# from the start (Last-Event-ID: 0)
stream "$T/all.txt" "$(last_event)" /v1/events -H 'Last-Event-ID: 0'
states_of() { grep '^data: ' "$1" | sed 's/^data: //' | jq -r --argjson j "$2" 'select(.id == $j) | .state' | paste -sd, -; }
eq "job A's transitions" "$(states_of "$T/all.txt" "$A")" "queued,running,succeeded"
eq "job B's transitions" "$(states_of "$T/all.txt" "$B")" "queued,running,failed"
eq "ids increase" "$(grep '^id: ' "$T/all.txt" | awk '{print $2}' | sort -n -c && echo sorted)" sorted
check "event type and fields" bash -c "grep -q '^event: state$' '$T/all.txt' && grep '^data: ' '$T/all.txt' | head -1 | sed 's/^data: //' | jq -e 'has(\"from\") and has(\"at\") and has(\"detail\")' >/dev/null"

# resume after the first event of A: the rest only
FIRST=$(grep -B0 '^id: ' "$T/all.txt" | head -1 | awk '{print $2}')
stream "$T/resumed.txt" "$(last_event)" /v1/events -H "Last-Event-ID: $FIRST"
check "resumed after the given id" bash -c "! grep -q '^id: $FIRST\$' '$T/resumed.txt'"
eq "the rest of A's" "$(states_of "$T/resumed.txt" "$A")" "running,succeeded"

# filters (each stream read up to its last event: nothing else came before it)
stream "$T/job.txt" "$(last_event "job_id = $B")" "/v1/events?job=$B&last_event_id=0"
eq "?job= keeps that job" "$(grep '^data: ' "$T/job.txt" | sed 's/^data: //' | jq -r .id | sort -u)" "$B"
stream "$T/queue.txt" "$(last_event "job_id = $A")" "/v1/events?queue=q1&last_event_id=0"
eq "?queue= keeps that queue" "$(grep '^data: ' "$T/queue.txt" | sed 's/^data: //' | jq -r .id | sort -u)" "$A"

# live: an open stream shows a transition that happens after it caught up (job C's end,
# held until the stream has shown that C runs); other requests are served meanwhile
LAST=$(last_event)
submit "{\"command\":\"$(hold c)\"}"; C=$ID
: >"$T/live.txt"
curl -s -N "$BASE/v1/events?last_event_id=$LAST" >>"$T/live.txt" &
STREAM=$!
wait_for 60 grep -q "\"id\":$C,\"state\":\"running\"" "$T/live.txt" || fail "the stream never showed job $C run"
expect 200 GET /healthz
release c
wait_for 60 grep -q "\"id\":$C,\"state\":\"succeeded\"" "$T/live.txt" || fail "live stream missed job $C's end"
pass "a live stream gets new transitions as they happen"
kill "$STREAM"
wait "$STREAM" 2>/dev/null

expect_error 400 invalid_argument last_event_id GET "/v1/events?last_event_id=-1"
expect_error 400 invalid_argument job GET "/v1/events?job=abc"
STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Last-Event-ID: x' "$BASE/v1/events")
eq "bad Last-Event-ID" "$STATUS $(jq -r .error.field "$T/body")" "400 Last-Event-ID"
# out of range: refused as the last_event_id query value is, not read as "from the end of time"
STATUS=$(curl -s -m 30 -o "$T/body" -w '%{http_code}' -H 'Last-Event-ID: 99999999999999999999' "$BASE/v1/events")
eq "Last-Event-ID past int64" "$STATUS $(jq -r .error.field "$T/body" 2>/dev/null)" "400 Last-Event-ID"
sp_stop
