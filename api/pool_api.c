/* pool_api: the handlers about the pool rather than its jobs: GET /v1/workers, /v1/tasks and
 * /healthz. */
#include <string.h>

#include "api/internal.h"
#include "server/clock.h"

static const char *const no_params[] = {NULL};

enum MHD_Result api_workers(struct api *a, struct MHD_Connection *c)
{
    struct api_error e;
    if (api_query_check(c, no_params, &e) < 0) return api_send_error(c, &e);
    struct dispatch_worker_info info[1024];
    size_t n = dispatch_workers(a->dispatch, info, 1024);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        char started[32];
        clock_format(info[i].started_at, started);
        json_array_append_new(
            list,
            json_pack("{s:i, s:o, s:s, s:o, s:I, s:s}", "index", info[i].index, "pid",
                      info[i].pid ? json_integer(info[i].pid) : json_null(), "state", info[i].state,
                      "job", info[i].job_id ? json_integer(info[i].job_id) : json_null(),
                      "jobs_done", (json_int_t)info[i].jobs_done, "started_at", started));
    }
    return api_send_json(c, 200, json_pack("{s:o}", "workers", list), NULL);
}

enum MHD_Result api_tasks(struct api *a, struct MHD_Connection *c)
{
    struct api_error e;
    if (api_query_check(c, no_params, &e) < 0) return api_send_error(c, &e);
    const struct task_set *set = &a->cfg->tasks;
    struct text t = {0};
    text_addf(&t, "{\"allow_commands\":%s,\"tasks\":[", a->cfg->allow_commands ? "true" : "false");
    for (size_t i = 0; i < set->n; i++) {
        const struct task_template *k = &set->tasks[i];
        text_addf(&t, "%s{\"name\":", i ? "," : "");
        text_json_string(&t, k->name);
        text_add(&t, ",\"argv\":[", 9);
        for (const char *x = strblob_next(&k->argv, NULL); x; x = strblob_next(&k->argv, x)) {
            if (x != k->argv.data) text_add(&t, ",", 1);
            text_json_string(&t, x);
        }
        text_add(&t, "],\"params\":[", 12);
        for (size_t p = 0; p < k->n_params; p++) {
            if (p) text_add(&t, ",", 1);
            text_json_string(&t, k->params[p]);
        }
        text_add(&t, "],\"queue\":", 10);
        if (k->queue)
            text_json_string(&t, k->queue);
        else
            text_add(&t, "null", 4);
        text_addf(&t, ",\"priority\":%lld,\"max_attempts\":%d", (long long)k->priority,
                  k->max_attempts ? k->max_attempts : 1);
        if (k->timeout > 0) {
            text_add(&t, ",\"timeout\":", 11);
            text_add_number(&t, k->timeout);
        } else
            text_add(&t, ",\"timeout\":null", 15);
        text_add(&t, ",\"cwd\":", 7);
        if (k->cwd)
            text_json_string(&t, k->cwd);
        else
            text_add(&t, "null", 4);
        text_add(&t, ",\"env\":", 7);
        api_env_text(&t, &k->env);
        text_add(&t, ",\"limits\":", 10);
        api_limits_text(&t, &k->limits);
        if (k->max_output)
            text_addf(&t, ",\"max_output\":%lld", (long long)k->max_output);
        else
            text_add(&t, ",\"max_output\":null", 18);
        text_add(&t, ",\"retry_backoff\":", 17);
        if (k->has_retry_backoff)
            text_add_number(&t, k->retry_backoff);
        else
            text_add(&t, "null", 4);
        text_add(&t, "}", 1);
    }
    text_add(&t, "]}", 2);
    return api_send_text_json(c, 200, &t, NULL);
}

enum MHD_Result api_healthz(struct api *a, struct MHD_Connection *c)
{
    struct dispatch_stats st;
    dispatch_stats(a->dispatch, &st);
    /* a pool where no worker has been ready for a while runs nothing: say so (503), so a
     * container healthcheck catches workers that die as soon as they start */
    bool stuck = st.workers_idle + st.workers_busy == 0 && st.ms_since_worker_ready > 5000;
    /* a store that cannot commit takes no submits: unhealthy too (503), until it recovers */
    bool degraded = st.store.waiting > 0 || st.claims_failing;
    const char *status = st.draining ? "draining"
                         : stuck     ? "no_workers"
                         : degraded  ? "store_degraded"
                                     : "ok";
    json_t *body = json_pack(
        "{s:s, s:s, s:s, s:{s:i, s:i, s:i, s:i, s:i}, s:{s:I, s:I, s:I}, s:{s:s, s:s, s:s}}",
        "status", status, "version", SPAWNPOOL_VERSION, "kill_mechanism", a->caps->kill_mechanism,
        "workers", "total", st.workers_total, "idle", st.workers_idle, "busy", st.workers_busy,
        "starting", st.workers_starting, "exiting", st.workers_exiting, "jobs", "queued",
        (json_int_t)st.jobs[JOB_QUEUED], "running", (json_int_t)st.jobs[JOB_RUNNING], "scheduled",
        (json_int_t)st.jobs[JOB_SCHEDULED], "limits", "memory",
        a->caps->limit_where[PROTO_LIMIT_MEMORY], "pids", a->caps->limit_where[PROTO_LIMIT_PIDS],
        "cpu", a->caps->limit_where[PROTO_LIMIT_CPU]);
    json_t *store = json_pack("{s:s, s:I, s:I, s:I}", "status", degraded ? "degraded" : "ok",
                              "waiting_writes", (json_int_t)st.store.waiting, "failed_commits",
                              (json_int_t)st.store.failed_commits, "failing_for_ms",
                              (json_int_t)st.store.failing_ms);
    if (store && degraded) json_object_set_new(store, "error", json_string(st.store.error));
    if (body && store) json_object_set_new(body, "store", store);
    /* the retention in force (it changes on SIGHUP): seconds and jobs, null for no limit */
    json_t *retention = json_object();
    if (retention) {
        json_object_set_new(retention, "max_age",
                            st.retain > 0 ? json_real(st.retain) : json_null());
        json_object_set_new(retention, "max_jobs",
                            st.retain_jobs > 0 ? json_integer(st.retain_jobs) : json_null());
        if (body)
            json_object_set_new(body, "retention", retention);
        else
            json_decref(retention);
    }
    return api_send_json(c, stuck || degraded ? 503 : 200, body, NULL);
}

enum MHD_Result api_readyz(struct api *a, struct MHD_Connection *c)
{
    struct dispatch_stats st;
    dispatch_stats(a->dispatch, &st);
    /* ready: a load balancer may send work here. Not while draining (submits get 503), not
     * without a started worker (nothing would run), not while the store cannot commit */
    const char *status = st.draining                                 ? "draining"
                         : st.workers_idle + st.workers_busy == 0    ? "no_workers"
                         : st.store.waiting > 0 || st.claims_failing ? "store_degraded"
                                                                     : "ready";
    bool ready = strcmp(status, "ready") == 0;
    return api_send_json(c, ready ? 200 : 503, json_pack("{s:s}", "status", status), NULL);
}
