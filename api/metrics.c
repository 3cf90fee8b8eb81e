/* metrics: GET /metrics in the Prometheus text exposition format (version 0.0.4). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/internal.h"

/* One usage histogram (duration or CPU) of every queue that ran a job. */
static void usage_histogram(struct text *t, const struct dispatch_queue_info *q, size_t n,
                            const char *metric, const char *help, bool cpu)
{
    text_addf(t, "# HELP %s %s\n# TYPE %s histogram\n", metric, help, metric);
    for (size_t k = 0; k < n; k++) {
        const struct dispatch_usage *u = &q[k].usage;
        if (!u->count) continue;
        const uint64_t *b = cpu ? u->cpu : u->duration;
        for (int i = 0; i < DISPATCH_USAGE_BUCKETS; i++)
            text_addf(t, "%s_bucket{queue=\"%s\",le=\"%g\"} %llu\n", metric, q[k].name,
                      dispatch_usage_bounds[i], (unsigned long long)b[i]);
        text_addf(t,
                  "%s_bucket{queue=\"%s\",le=\"+Inf\"} %llu\n%s_sum{queue=\"%s\"} %.6f\n"
                  "%s_count{queue=\"%s\"} %llu\n",
                  metric, q[k].name, (unsigned long long)b[DISPATCH_USAGE_BUCKETS], metric,
                  q[k].name, cpu ? u->cpu_sum : u->duration_sum, metric, q[k].name,
                  (unsigned long long)u->count);
    }
}

/* The jobs' wall time and CPU by queue (queue names are letters, digits, '-', '_', '.': no
 * label escaping needed). */
static void usage_histograms(struct api *a, struct text *t)
{
    enum { MAX = 1024 };
    struct dispatch_queue_info *q = malloc(MAX * sizeof *q);
    if (!q) return;
    size_t n = dispatch_queue_list(a->dispatch, q, MAX);
    usage_histogram(t, q, n, "spawnpool_job_duration_seconds",
                    "Wall time of the jobs that ran, from start to end, by queue.", false);
    usage_histogram(t, q, n, "spawnpool_job_cpu_seconds",
                    "CPU time (user + system) of the jobs that ran and what they waited for, by "
                    "queue.",
                    true);
    free(q);
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
        "spawnpool_workers{state=\"starting\"} %d\n",
        st.workers_idle, st.workers_busy, st.workers_starting);
    text_addf(&t,
              "# HELP spawnpool_store_degraded 1 while the database cannot commit (submits get "
              "503; the waiting changes are retried).\n# TYPE spawnpool_store_degraded gauge\n"
              "spawnpool_store_degraded %d\n"
              "# HELP spawnpool_store_waiting_writes Writes of failed batches waiting to commit.\n"
              "# TYPE spawnpool_store_waiting_writes gauge\nspawnpool_store_waiting_writes %zu\n"
              "# HELP spawnpool_store_failed_commits_total Batches that could not commit (and "
              "were retried).\n# TYPE spawnpool_store_failed_commits_total counter\n"
              "spawnpool_store_failed_commits_total %llu\n",
              st.store.waiting > 0, st.store.waiting, (unsigned long long)st.store.failed_commits);
    text_addf(
        &t,
        "# HELP spawnpool_worker_restarts_total Worker processes that died and were replaced.\n"
        "# TYPE spawnpool_worker_restarts_total counter\nspawnpool_worker_restarts_total %llu\n",
        (unsigned long long)st.worker_restarts);
    text_addf(&t,
              "# HELP spawnpool_dispatch_latency_seconds Time from submit (or retry) to start.\n"
              "# TYPE spawnpool_dispatch_latency_seconds histogram\n");
    for (int i = 0; i < DISPATCH_LATENCY_BUCKETS; i++)
        text_addf(&t, "spawnpool_dispatch_latency_seconds_bucket{le=\"%g\"} %llu\n",
                  st.latency_bounds[i], (unsigned long long)st.latency_counts[i]);
    text_addf(&t,
              "spawnpool_dispatch_latency_seconds_bucket{le=\"+Inf\"} %llu\n"
              "spawnpool_dispatch_latency_seconds_sum %.6f\n"
              "spawnpool_dispatch_latency_seconds_count %llu\n",
              (unsigned long long)st.latency_counts[DISPATCH_LATENCY_BUCKETS], st.latency_sum,
              (unsigned long long)st.latency_count);
    usage_histograms(a, &t);
    if (st.recent_n > 0)
        text_addf(&t,
                  "# HELP spawnpool_dispatch_latency_recent_seconds Dispatch latency over the last "
                  "%d starts.\n# TYPE spawnpool_dispatch_latency_recent_seconds summary\n"
                  "spawnpool_dispatch_latency_recent_seconds{quantile=\"0.5\"} %.6f\n"
                  "spawnpool_dispatch_latency_recent_seconds{quantile=\"0.99\"} %.6f\n"
                  "spawnpool_dispatch_latency_recent_seconds_count %d\n",
                  st.recent_n, st.recent_p50, st.recent_p99, st.recent_n);
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
