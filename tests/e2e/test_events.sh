#!/usr/bin/env bash
# GET /v1/events: server-sent events, one per state change, id = the job_events row id,
# resumable with Last-Event-ID, filtered by job or queue; no thread held while idle.
source "$(dirname "$0")/lib.sh"
sp_start --http-threads 1

submit '{"argv":["true"],"queue":"q1"}'; A=$ID
submit '{"argv":["/bin/sh","-c","exit 3"]}'; B=$ID
wait_job "$A" >/dev/null
wait_job "$B" >/dev/null
# from the start (Last-Event-ID: 0); the stream stays open: curl's --max-time ends it
curl -s -N --max-time 1 -H 'Last-Event-ID: 0' "$BASE/v1/events" >"$T/all.txt" || true
states_of() { grep '^data: ' "$1" | sed 's/^data: //' | jq -r --argjson j "$2" 'select(.id == $j) | .state' | paste -sd, -; }
eq "job A's transitions" "$(states_of "$T/all.txt" "$A")" "queued,running,succeeded"
eq "job B's transitions" "$(states_of "$T/all.txt" "$B")" "queued,running,failed"
eq "ids increase" "$(grep '^id: ' "$T/all.txt" | awk '{print $2}' | sort -n -c && echo sorted)" sorted
check "event type and fields" bash -c "grep -q '^event: state$' '$T/all.txt' && grep '^data: ' '$T/all.txt' | head -1 | sed 's/^data: //' | jq -e 'has(\"from\") and has(\"at\") and has(\"detail\")' >/dev/null"

# resume after the first event of A: the rest only
FIRST=$(grep -B0 '^id: ' "$T/all.txt" | head -1 | awk '{print $2}')
curl -s -N --max-time 1 -H "Last-Event-ID: $FIRST" "$BASE/v1/events" >"$T/resumed.txt" || true
check "resumed after the given id" bash -c "! grep -q '^id: $FIRST\$' '$T/resumed.txt'"
eq "the rest of A's" "$(states_of "$T/resumed.txt" "$A")" "running,succeeded"

# filters
curl -s -N --max-time 1 "$BASE/v1/events?job=$B&last_event_id=0" >"$T/job.txt" || true
eq "?job= keeps that job" "$(grep '^data: ' "$T/job.txt" | sed 's/^data: //' | jq -r .id | sort -u)" "$B"
curl -s -N --max-time 1 "$BASE/v1/events?queue=q1&last_event_id=0" >"$T/queue.txt" || true
eq "?queue= keeps that queue" "$(grep '^data: ' "$T/queue.txt" | sed 's/^data: //' | jq -r .id | sort -u)" "$A"

# live: a stream opened first sees a job submitted after; other requests are served meanwhile
curl -s -N --max-time 4 "$BASE/v1/events?last_event_id=$(grep '^id: ' "$T/all.txt" | tail -1 | awk '{print $2}')" >"$T/live.txt" &
STREAM=$!
submit '{"argv":["sleep","0.3"]}'; C=$ID
expect 200 GET /healthz
wait_job "$C" >/dev/null
wait_for 3 bash -c "grep -q '\"id\":$C,\"state\":\"succeeded\"' '$T/live.txt'" || fail "live stream missed job $C"
pass "a live stream gets new transitions as they happen"
wait "$STREAM" || true

expect_error 400 invalid_argument last_event_id GET "/v1/events?last_event_id=-1"
expect_error 400 invalid_argument job GET "/v1/events?job=abc"
STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Last-Event-ID: x' "$BASE/v1/events")
eq "bad Last-Event-ID" "$STATUS $(jq -r .error.field "$T/body")" "400 Last-Event-ID"
sp_stop
