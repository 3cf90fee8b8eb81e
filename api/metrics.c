/* metrics: GET /metrics in the Prometheus text exposition format (version 0.0.4). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/internal.h"

/* A family's HELP and TYPE lines: printed on every scrape, whether it has samples or not, with
 * a text that never changes (Prometheus and promtool want both stable). */
static void family(struct text *t, const char *name, const char *type, const char *help)
{
    text_addf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's samples with a queue label: cumulative buckets b (n bounds, then +Inf). */
static void queue_histogram(struct text *t, const char *metric, const char *queue,
                            const double *bounds, int n, const uint64_t *b, double sum,
                            uint64_t count)
{
    for (int i = 0; i < n; i++)
        text_addf(t, "%s_bucket{queue=\"%s\",le=\"%g\"} %llu\n", metric, queue, bounds[i],
                  (unsigned long long)b[i]);
    text_addf(t,
              "%s_bucket{queue=\"%s\",le=\"+Inf\"} %llu\n%s_sum{queue=\"%s\"} %.6f\n"
              "%s_count{queue=\"%s\"} %llu\n",
              metric, queue, (unsigned long long)b[n], metric, queue, sum, metric, queue,
              (unsigned long long)count);
}

/* The jobs' wall time, CPU and queue wait by queue, for every queue the server knows (the
 * default one from the start, so each family has samples on the first scrape). Queue names
 * are letters, digits, '-', '_', '.': no label escaping needed. */
static void usage_histograms(struct api *a, struct text *t)
{
    enum { MAX = 1024 };
    struct dispatch_queue_info *q = malloc(MAX * sizeof *q);
    size_t n = q ? dispatch_queue_list(a->dispatch, q, MAX) : 0;
    family(t, "spawnpool_job_duration_seconds", "histogram",
           "Wall time of the jobs that ran, from start to end, by queue (each attempt).");
    for (size_t k = 0; k < n; k++)
        queue_histogram(t, "spawnpool_job_duration_seconds", q[k].name, dispatch_usage_bounds,
                        DISPATCH_USAGE_BUCKETS, q[k].usage.duration, q[k].usage.duration_sum,
                        q[k].usage.count);
    family(t, "spawnpool_job_cpu_seconds", "histogram",
           "CPU time (user + system) of the jobs that ran and what they waited for, by queue "
           "(each attempt).");
    for (size_t k = 0; k < n; k++)
        queue_histogram(t, "spawnpool_job_cpu_seconds", q[k].name, dispatch_usage_bounds,
                        DISPATCH_USAGE_BUCKETS, q[k].usage.cpu, q[k].usage.cpu_sum,
                        q[k].usage.count);
    family(t, "spawnpool_job_queue_wait_seconds", "histogram",
           "Time a job waited to start, from becoming ready to run (submit, retry or run_at) "
           "to its start, by queue (each attempt).");
    for (size_t k = 0; k < n; k++)
        queue_histogram(t, "spawnpool_job_queue_wait_seconds", q[k].name, dispatch_wait_bounds,
                        DISPATCH_WAIT_BUCKETS, q[k].usage.wait, q[k].usage.wait_sum,
                        q[k].usage.wait_count);
    free(q);
}

/* The dispatch latency of every queue: a histogram over all starts, and a summary whose
 * quantiles cover the last DISPATCH_RECENT starts (NaN before the first) while its _sum and
 * _count, like every summary's, cover all of them since the server started. */
_Static_assert(DISPATCH_RECENT == 1024, "the summary's HELP text says 1024 starts");
static void dispatch_latency(struct text *t, const struct dispatch_stats *st)
{
    family(t, "spawnpool_dispatch_latency_seconds", "histogram",
           "Time from submit (or retry) to start, all queues.");
    for (int i = 0; i < DISPATCH_LATENCY_BUCKETS; i++)
        text_addf(t, "spawnpool_dispatch_latency_seconds_bucket{le=\"%g\"} %llu\n",
                  st->latency_bounds[i], (unsigned long long)st->latency_counts[i]);
    text_addf(t,
              "spawnpool_dispatch_latency_seconds_bucket{le=\"+Inf\"} %llu\n"
              "spawnpool_dispatch_latency_seconds_sum %.6f\n"
              "spawnpool_dispatch_latency_seconds_count %llu\n",
              (unsigned long long)st->latency_counts[DISPATCH_LATENCY_BUCKETS], st->latency_sum,
              (unsigned long long)st->latency_count);
    family(t, "spawnpool_dispatch_latency_recent_seconds", "summary",
           "Time from submit (or retry) to start: quantiles over the last 1024 starts, _sum "
           "and _count over all starts.");
    if (st->recent_n > 0)
        text_addf(t,
                  "spawnpool_dispatch_latency_recent_seconds{quantile=\"0.5\"} %.6f\n"
                  "spawnpool_dispatch_latency_recent_seconds{quantile=\"0.99\"} %.6f\n",
                  st->recent_p50, st->recent_p99);
    else
        text_addf(t, "spawnpool_dispatch_latency_recent_seconds{quantile=\"0.5\"} NaN\n"
                     "spawnpool_dispatch_latency_recent_seconds{quantile=\"0.99\"} NaN\n");
    text_addf(t,
              "spawnpool_dispatch_latency_recent_seconds_sum %.6f\n"
              "spawnpool_dispatch_latency_recent_seconds_count %llu\n",
              st->latency_sum, (unsigned long long)st->latency_count);
}

enum MHD_Result api_metrics(struct api *a, struct MHD_Connection *c)
{
    struct dispatch_stats st;
    dispatch_stats(a->dispatch, &st);
    struct text t = {0};
    text_addf(
        &t, "# HELP spawnpool_jobs Jobs in the database by state.\n# TYPE spawnpool_jobs gauge\n");
    for (int s = 0; s < JOB_STATE_COUNT; s++)
        text_addf(&t, "spawnpool_jobs{state=\"%s\"} %lld\n", job_state_name(s),
                  (long long)st.jobs[s]);
    text_addf(
        &t,
        "# HELP spawnpool_jobs_submitted_total Jobs accepted since the server started.\n"
        "# TYPE spawnpool_jobs_submitted_total counter\nspawnpool_jobs_submitted_total %llu\n",
        (unsigned long long)st.submitted_total);
    text_addf(&t,
              "# HELP spawnpool_jobs_finished_total Jobs that reached a terminal state since the "
              "server started.\n# TYPE spawnpool_jobs_finished_total counter\n");
    for (int s = JOB_SUCCEEDED; s < JOB_STATE_COUNT; s++)
        text_addf(&t, "spawnpool_jobs_finished_total{state=\"%s\"} %llu\n", job_state_name(s),
                  (unsigned long long)st.finished_total[s]);
    text_addf(&t,
              "# HELP spawnpool_jobs_deleted_total Finished jobs deleted since the server "
              "started, with their events and output: by retention (--retain, --retain-jobs) or "
              "by a DELETE request.\n# TYPE spawnpool_jobs_deleted_total counter\n"
              "spawnpool_jobs_deleted_total{reason=\"retention\"} %llu\n"
              "spawnpool_jobs_deleted_total{reason=\"request\"} %llu\n",
              (unsigned long long)st.deleted_retention, (unsigned long long)st.deleted_request);
    text_addf(
        &t,
        "# HELP spawnpool_workers Worker processes by state.\n# TYPE spawnpool_workers gauge\n"
        "spawnpool_workers{state=\"idle\"} %d\nspawnpool_workers{state=\"busy\"} %d\n"
        "spawnpool_workers{state=\"starting\"} %d\nspawnpool_workers{state=\"exiting\"} %d\n",
        st.workers_idle, st.workers_busy, st.workers_starting, st.workers_exiting);
    text_addf(&t,
              "# HELP spawnpool_store_degraded 1 while the database cannot commit (submits get "
              "503; the waiting changes are retried), or, with several nodes, claims fail.\n# TYPE "
              "spawnpool_store_degraded gauge\n"
              "spawnpool_store_degraded %d\n"
              "# HELP spawnpool_store_waiting_writes Writes of failed batches waiting to commit.\n"
              "# TYPE spawnpool_store_waiting_writes gauge\nspawnpool_store_waiting_writes %zu\n"
              "# HELP spawnpool_store_failed_commits_total Batches that could not commit (and "
              "were retried).\n# TYPE spawnpool_store_failed_commits_total counter\n"
              "spawnpool_store_failed_commits_total %llu\n",
              st.store.waiting > 0 || st.claims_failing, st.store.waiting,
              (unsigned long long)st.store.failed_commits);
    text_addf(
        &t,
        "# HELP spawnpool_worker_restarts_total Worker processes that died and were replaced.\n"
        "# TYPE spawnpool_worker_restarts_total counter\nspawnpool_worker_restarts_total %llu\n",
        (unsigned long long)st.worker_restarts);
    dispatch_latency(&t, &st);
    usage_histograms(a, &t);
    text_addf(&t,
              "# HELP spawnpool_draining 1 while the server drains for shutdown.\n"
              "# TYPE spawnpool_draining gauge\nspawnpool_draining %d\n",
              st.draining ? 1 : 0);
    text_addf(&t,
              "# HELP spawnpool_long_polls Waits, output follows and event streams open "
              "(at most --max-long-polls).\n# TYPE spawnpool_long_polls gauge\n"
              "spawnpool_long_polls %lld\n",
              (long long)atomic_load(&a->long_polls));
    text_addf(&t, "# HELP spawnpool_http_refused_total Requests refused before they touched "
                  "anything, by reason.\n# TYPE spawnpool_http_refused_total counter\n");
    static const char *const reasons[] = {"framing", "host", "origin", "media_type"};
    for (int i = 0; i < 4; i++)
        text_addf(&t, "spawnpool_http_refused_total{reason=\"%s\"} %llu\n", reasons[i],
                  (unsigned long long)atomic_load(&a->refused[i]));
    text_addf(&t,
              "# HELP spawnpool_http_timeouts_total Connections cut off for sending a request's "
              "head (--head-timeout) or body (--body-timeout) too slowly.\n"
              "# TYPE spawnpool_http_timeouts_total counter\n"
              "spawnpool_http_timeouts_total{phase=\"head\"} %llu\n"
              "spawnpool_http_timeouts_total{phase=\"body\"} %llu\n",
              (unsigned long long)atomic_load(&a->conns.expired_head),
              (unsigned long long)atomic_load(&a->conns.expired_body));
    text_addf(&t,
              "# HELP spawnpool_http_evicted_total Connections closed while waiting for a "
              "request's head, to make room near --max-connections.\n"
              "# TYPE spawnpool_http_evicted_total counter\nspawnpool_http_evicted_total %llu\n",
              (unsigned long long)atomic_load(&a->conns.evicted));
    if (!t.data) return MHD_NO;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(t.len, t.data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(t.data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
    enum MHD_Result rc = api_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return rc;
}
