#!/usr/bin/env bash
# A crash loop (issue 11): 20 times, while a client submits batches of short jobs (each
# appends its own token to a file), the server is killed with -9 at a random moment and
# started again on the same data dir. Afterwards every job that was acknowledged (201)
# exists and is final, no job (max_attempts 1) ran twice, one that succeeded ran exactly
# once, and no job process is left. (That a job a worker only held is not lost is
# test_crash_held's; here a lost job is one that may have run: its start or end was not yet
# committed when the server died.)
source "$(dirname "$0")/lib.sh"
RAN="$T/ran"
ACKED="$T/acked"
: >"$RAN"
: >"$ACKED"
MARK="0.01$$" # the jobs' sleep (about 10 ms), to find any that outlived the crashes
# submitter ROUND: submits up to 10 batches of 20 jobs, until the server goes away; logs the
# acknowledged tokens (a few thousand jobs in all)
submitter() {
    local round=$1 batch=0 body tokens
    while [ $batch -lt 10 ]; do
        batch=$((batch + 1))
        body="["
        tokens=()
        for i in $(seq 20); do
            local t="r${round}b${batch}j${i}"
            tokens+=("$t")
            body+="{\"command\": \"echo $t >> $RAN; sleep $MARK\", \"name\": \"$t\"},"
        done
        body="${body%,}]"
        code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' --json "$body" "$BASE/v1/jobs") || return 0
        [ "$code" == 201 ] || return 0
        printf '%s\n' "${tokens[@]}" >>"$ACKED"
    done
}
for round in $(seq 20); do
    sp_start
    submitter "$round" &
    SUB=$!
    sleep "0.$((RANDOM % 9 + 1))" # the fault: a crash at a random moment under load
    sp_kill9
    wait "$SUB"
done
pass "20 crashes under load ($(wc -l <"$ACKED") jobs acknowledged)"
sp_start
drained() { curl -s "$BASE/healthz" | jq -e '.jobs.queued == 0 and .jobs.running == 0' >/dev/null; }
wait_for 300 drained || fail "jobs still queued or running: $(curl -s "$BASE/healthz" | jq -c .jobs)"
pass "every job ended after the last start"

# every acknowledged job exists, is final, and ran as its state says
declare -A STATE
before=""
while :; do
    page=$(curl -s "$BASE/v1/jobs?limit=1000${before:+&before=$before}")
    while IFS=$'\t' read -r name state; do STATE[$name]=$state; done < <(jq -r '.jobs[] | [.name, .state] | @tsv' <<<"$page")
    before=$(jq -r '.next_before // empty' <<<"$page")
    [ -n "$before" ] || break
done
declare -A RUNS
while read -r t; do RUNS[$t]=$((${RUNS[$t]:-0} + 1)); done <"$RAN"
missing=0 twice=0 unfinal=0 succeeded_not_once=0 lost=0
while read -r t; do
    s=${STATE[$t]:-missing}
    case $s in
    missing) missing=$((missing + 1)) ;;
    succeeded) [ "${RUNS[$t]:-0}" -eq 1 ] || succeeded_not_once=$((succeeded_not_once + 1)) ;;
    lost) lost=$((lost + 1)) ;;
    *) unfinal=$((unfinal + 1)) ;;
    esac
done <"$ACKED"
for t in "${!RUNS[@]}"; do [ "${RUNS[$t]}" -le 1 ] || twice=$((twice + 1)); done
echo "# $(wc -l <"$ACKED") acknowledged, $lost lost (each may have run when a crash came), $(wc -l <"$RAN") runs"
eq "no acknowledged job is missing" "$missing" 0
eq "none is in another state than succeeded or lost" "$unfinal" 0
eq "every succeeded job ran exactly once" "$succeeded_not_once" 0
eq "no job ran twice" "$twice" 0
orphans() { pgrep -f "sleep $MARK" >/dev/null; }
orphans && fail "job processes outlived the crashes: $(pgrep -af "sleep $MARK")"
pass "no job process is left"
sp_stop
