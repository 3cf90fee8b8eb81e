#!/usr/bin/env bash
# /metrics holds up in Prometheus (issue 14, part 4): every scrape passes `promtool check
# metrics` (its lint included); every family is there from the first scrape, before any job,
# with the same HELP and TYPE on every scrape; counters (and histogram and summary
# buckets, _sum, _count) never go down; and the job duration and queue-wait histograms by
# queue count the runs of a mix of jobs: succeeded, failed, retried, timed out, terminated,
# canceled before they ran, delayed, and a schedule's run. Then a real Prometheus (the same
# Debian package) scrapes it a few times and answers queries on what it stored.
source "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || fail "promtool (Debian's prometheus package) is needed"
command -v sqlite3 >/dev/null || fail "sqlite3 (the CLI) is needed to move a schedule's time"

# scrape NAME: saves /metrics to $T/NAME.prom and checks it with promtool: no problem at all.
scrape() {
    curl -s -o "$T/$1.prom" -w '%{http_code}' "$BASE/metrics" >"$T/$1.status"
    eq "$1: /metrics answers 200" "$(cat "$T/$1.status")" 200
    local rc=0
    promtool check metrics <"$T/$1.prom" >"$T/$1.lint" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] && [ ! -s "$T/$1.lint" ] ||
        fail "$1: promtool check metrics (exit $rc): $(cat "$T/$1.lint")"
    pass "$1: promtool check metrics finds no problem ($(grep -c '^# TYPE' "$T/$1.prom") families)"
}
# families NAME: the HELP and TYPE lines of a scrape, sorted.
families() { grep -E '^# (HELP|TYPE) ' "$T/$1.prom" | sort; }
# monotone NAME: "series value" of every sample that may only grow: counters, and the buckets,
# _sum and _count of histograms and summaries (not a summary's quantiles).
monotone() {
    awk '$1 == "#" && $2 == "TYPE" { type[$3] = $4; next }
         /^#/ { next }
         { name = $1; sub(/\{.*/, "", name); fam = name
           if (!(fam in type)) sub(/_(bucket|sum|count)$/, "", fam)
           t = type[fam]
           if (t == "counter" || ((t == "histogram" || t == "summary") && $1 !~ /quantile=/))
               print $1, $2 }' "$T/$1.prom" | sort
}
# grows OLD NEW: every monotone series of OLD is in NEW with a value at least as large.
grows() {
    local bad
    bad=$(join -a 1 <(monotone "$1") <(monotone "$2") | awk 'NF < 3 || $3 + 0 < $2 + 0')
    [ -z "$bad" ] || fail "$1 -> $2: series that went down or disappeared: $bad"
    pass "$1 -> $2: no counter, bucket, _sum or _count went down ($(monotone "$2" | wc -l) series)"
}
# val NAME SERIES: a sample's value in a scrape.
val() { awk -v n="$2" '$1 == n {print $2}' "$T/$1.prom"; }

# ---- a fresh server, before any job -------------------------------------------------------
sp_start --open-metrics
scrape fresh
for f in spawnpool_jobs_submitted_total spawnpool_jobs_finished_total \
    spawnpool_dispatch_latency_seconds spawnpool_dispatch_latency_recent_seconds \
    spawnpool_job_duration_seconds spawnpool_job_cpu_seconds spawnpool_job_queue_wait_seconds; do
    grep -q "^# TYPE $f " "$T/fresh.prom" || fail "fresh: no family $f before the first job"
done
pass "fresh: the latency, duration, CPU and queue-wait families are there before any job"
eq "fresh: the queue-wait histogram of queue default has samples" \
    "$(val fresh 'spawnpool_job_queue_wait_seconds_count{queue="default"}')" 0
eq "fresh: the summary's quantiles are NaN before the first start" \
    "$(val fresh 'spawnpool_dispatch_latency_recent_seconds{quantile="0.5"}')" NaN

# a schedule whose run comes due while the server is down: it runs once at the restart
expect 201 POST /v1/schedules '{"name": "tick", "cron": "0 0 1 1 *", "job": {"argv": ["true"]}}'
sp_stop
sqlite3 "$T/data/spawnpool.db" \
    "UPDATE schedules SET next_run_at = $(($(date +%s%3N) - 3600 * 1000)) WHERE name = 'tick'"
sp_start --open-metrics
schedule_run_ended() { [ "$(metric 'spawnpool_job_duration_seconds_count{queue="default"}')" = 1 ]; }
wait_for 60 schedule_run_ended ||
    fail "the schedule's run did not end: $(curl -s "$BASE/v1/schedules/tick")"
scrape restarted

# ---- a mix of jobs in queue "mix" (and one in "held", which never runs) --------------------
submit '{"argv": ["true"], "queue": "mix"}'
OK1=$ID
submit '{"argv": ["sh", "-c", "echo hi"], "queue": "mix"}'
OK2=$ID
submit '{"argv": ["false"], "queue": "mix"}'
FAILED=$ID
submit '{"argv": ["false"], "queue": "mix", "max_attempts": 3, "retry_backoff": 0.05}'
RETRIED=$ID
submit '{"argv": ["sleep", "30"], "queue": "mix", "timeout": 0.3}'
TIMED=$ID
submit '{"argv": ["sleep", "30"], "queue": "mix"}'
KILLED=$ID
submit '{"argv": ["true"], "queue": "mix", "delay": 0.5}'
DELAYED=$ID
expect 200 PATCH /v1/queues/held '{"paused": true}'
submit '{"argv": ["true"], "queue": "held"}'
CANCELED=$ID
wait_for 60 pid_known "$KILLED" || fail "the job to terminate did not start"
scrape during
expect 202 POST "/v1/jobs/$KILLED/terminate"
expect 200 POST "/v1/jobs/$CANCELED/terminate"
for id in $OK1 $OK2 $FAILED $RETRIED $TIMED $KILLED $DELAYED $CANCELED; do wait_job "$id" >/dev/null; done
eq "the mix ended as meant" "$(for id in $OK1 $OK2 $FAILED $RETRIED $TIMED $KILLED $DELAYED $CANCELED; do
    job_field "$id" .state; done | paste -sd, -)" \
    succeeded,succeeded,failed,failed,timed_out,terminated,succeeded,canceled
eq "the retried job ran three attempts" "$(job_field "$RETRIED" .attempt)" 3
scrape after

# ---- the same families with the same HELP, and nothing went down ------------------------------
for s in restarted during after; do
    diff <(families fresh) <(families "$s") >"$T/diff" || fail "fresh vs $s: families differ: $(cat "$T/diff")"
done
pass "every family is in every scrape with the same HELP and TYPE ($(grep -c '^# HELP' "$T/after.prom") families)"
grows restarted during
grows during after

# ---- the histograms count the runs: 2 succeeded, 1 failed, 3 attempts, 1 timed out,
# 1 terminated, 1 delayed = 9 runs in "mix"; the canceled job never ran; the schedule's run
# in "default" -----------------------------------------------------------------------------------
for h in duration queue_wait cpu; do
    eq "job_${h}_seconds counts the 9 runs of queue mix" \
        "$(val after "spawnpool_job_${h}_seconds_count{queue=\"mix\"}")" 9
    eq "... its +Inf bucket too" \
        "$(val after "spawnpool_job_${h}_seconds_bucket{queue=\"mix\",le=\"+Inf\"}")" 9
    eq "job_${h}_seconds: the job canceled in queue held never ran" \
        "$(val after "spawnpool_job_${h}_seconds_count{queue=\"held\"}")" 0
    eq "job_${h}_seconds: the schedule's run in queue default" \
        "$(val after "spawnpool_job_${h}_seconds_count{queue=\"default\"}")" 1
done
[ "$(awk -v s="$(val after 'spawnpool_job_duration_seconds_sum{queue="mix"}')" 'BEGIN { print (s >= 0.3) }')" = 1 ] ||
    fail "duration sum of mix holds the 0.3 s timeout: $(grep 'duration_seconds_sum' "$T/after.prom")"
pass "job_duration_seconds_sum of mix holds at least the timed-out job's 0.3 s"
eq "the dispatch latency counts all 10 starts" "$(val after spawnpool_dispatch_latency_seconds_count)" 10
eq "the summary's _count is cumulative (all 10 starts)" \
    "$(val after spawnpool_dispatch_latency_recent_seconds_count)" 10
eq "the summary's _sum is the histogram's" "$(val after spawnpool_dispatch_latency_recent_seconds_sum)" \
    "$(val after spawnpool_dispatch_latency_seconds_sum)"
eq "finished_total: 4 succeeded (with the schedule's run)" \
    "$(val after 'spawnpool_jobs_finished_total{state="succeeded"}')" 4
eq "finished_total: 1 canceled" "$(val after 'spawnpool_jobs_finished_total{state="canceled"}')" 1

# ---- a real Prometheus scrapes it every 0.5 s and answers queries on what it stored -------------
# prom_port: the port Prometheus listens on, from its log (it was given port 0)
prom_port() { sed -n 's/.*msg="Listening on" address=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/prometheus.log" | grep .; }
printf 'global: {scrape_interval: 500ms, scrape_timeout: 400ms}\nscrape_configs:\n  - job_name: spawnpool\n    static_configs: [{targets: ["%s"]}]\n' \
    "${BASE#http://}" >"$T/prometheus.yml"
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
    --web.listen-address=127.0.0.1:0 >"$T/prometheus.log" 2>&1 &
PROM_PID=$!
BG_PIDS+=("$PROM_PID")
wait_for 60 prom_port >/dev/null || fail "prometheus did not listen: $(tail -n 5 "$T/prometheus.log")"
PROM=http://127.0.0.1:$(prom_port)
# query PROMQL: the value of the query's first result ("" when none)
query() { curl -s -G "$PROM/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // ""'; }
answers() { [ "$(query "$1")" == "$2" ]; }
wait_for 60 answers 'up{job="spawnpool"}' 1 ||
    fail "prometheus does not scrape it: $(curl -s "$PROM/api/v1/targets" | jq -c '.data.activeTargets[] | {health, lastError}')"
pass "prometheus scrapes /metrics: the target is up"
wait_for 60 answers 'count_over_time(up{job="spawnpool"}[1m]) >= 3' 3 ||
    wait_for 60 answers 'count_over_time(up{job="spawnpool"}[1m]) >= 3' 4 ||
    fail "prometheus did not scrape 3 times: $(query 'count_over_time(up{job="spawnpool"}[1m])')"
eq "prometheus: no scrape failed (min of up over the minute)" "$(query 'min_over_time(up{job="spawnpool"}[1m])')" 1
eq "prometheus: the target's lastError is empty" \
    "$(curl -s "$PROM/api/v1/targets" | jq -r '.data.activeTargets[0].lastError')" ""
eq "prometheus: the queue wait of queue mix counts 9 starts" \
    "$(query 'spawnpool_job_queue_wait_seconds_count{queue="mix"}')" 9
Q50=$(query 'histogram_quantile(0.5, sum by (le) (spawnpool_job_queue_wait_seconds_bucket{queue="mix"}))')
[[ $Q50 =~ ^[0-9.e+-]+$ ]] || fail "histogram_quantile over the queue-wait buckets: '$Q50'"
pass "prometheus: histogram_quantile over the queue-wait buckets of mix: $Q50 s"
eq "prometheus: the summary's _count is cumulative" "$(query spawnpool_dispatch_latency_recent_seconds_count)" 10
eq "prometheus: the summary has its _sum" \
    "$(query 'spawnpool_dispatch_latency_recent_seconds_sum == spawnpool_dispatch_latency_seconds_sum' | grep -c .)" 1
eq "prometheus: the metadata of every family (its HELP and TYPE)" \
    "$(curl -s "$PROM/api/v1/metadata" | jq '[.data | keys[] | select(startswith("spawnpool_"))] | length')" \
    "$(grep -c '^# TYPE' "$T/after.prom")"
kill -TERM "$PROM_PID"
wait "$PROM_PID" 2>/dev/null
sp_stop
