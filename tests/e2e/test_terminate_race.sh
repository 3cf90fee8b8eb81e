#!/usr/bin/env bash
# A terminate that arrives while a worker is starting the job (issue 11, finding 8) is answered
# by what happened: "200 canceled" only if the job never started (then it never ran a line),
# else "202" and the job is terminated with the asked signal and grace like any running one,
# never SIGKILLed as if it had not started.
source "$(dirname "$0")/lib.sh"
WORKERS=2 sp_start
MARKS="$T/marks"
MARK="30.123$$" # what the jobs exec: sleep MARK (unique: the suite's PostgreSQL pass runs this test too)
: >"$MARKS"
TRIES=${TRIES:-150}
canceled=0 signaled=0
for i in $(seq 1 "$TRIES"); do
    submit "{\"command\": \"echo tok$i >> $MARKS; exec sleep $MARK\"}"
    req POST "/v1/jobs/$ID/terminate" '{"signal": "SIGTERM", "grace": 5}'
    case "$STATUS" in
    200) canceled=$((canceled + 1)); echo "$ID $i canceled" >>"$T/answers" ;;
    202) signaled=$((signaled + 1)); echo "$ID $i signaled" >>"$T/answers" ;;
    *) fail "terminate $ID: $STATUS $BODY" ;;
    esac
done
pass "$TRIES terminates right after the submit: $canceled answered canceled, $signaled signaled"
while read -r id i how; do
    end=$(wait_job "$id" | jq -r '[.state, (.signal // "-")] | join(" ")')
    if [ "$how" == canceled ]; then
        [ "$end" == "canceled -" ] || fail "job $id answered canceled ended $end"
        ! grep -qx "tok$i" "$MARKS" || fail "job $id answered canceled but it ran (tok$i written)"
    else
        case "$end" in
        "terminated 15" | "canceled -") ;; # signaled: it ran (SIGTERM), or the worker dropped it
        *) fail "job $id answered 202 ended $end (want terminated by signal 15)" ;;
        esac
    fi
done <"$T/answers"
pass "every 200 canceled job never ran; every 202 job ended by SIGTERM (no SIGKILL)"
eq "no job process left behind" "$(pgrep -c -f "^sleep ${MARK/./[.]}\$" || true)" 0
sp_stop
