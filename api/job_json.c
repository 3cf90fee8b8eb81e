/* job_json: a job record as API.md's job object, written as text (GET, list and submit
 * answer with it, so it skips building a jansson tree). */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "server/clock.h"

/* ,"key": (the hot path: no printf) */
static inline void add_key(struct text *t, const char *key)
{
    text_add(t, ",\"", 2);
    text_add(t, key, strlen(key));
    text_add(t, "\":", 2);
}

void api_text_time(struct text *t, const char *key, int64_t ms)
{
    add_key(t, key);
    if (ms <= 0) {
        text_add(t, "null", 4);
        return;
    }
    char when[32];
    size_t n = clock_format(ms, when);
    text_add(t, "\"", 1);
    text_add(t, when, n);
    text_add(t, "\"", 1);
}

static void add_int(struct text *t, const char *key, int64_t v)
{
    add_key(t, key);
    text_add_int(t, v);
}

static void add_int_or_null(struct text *t, const char *key, int64_t v)
{
    if (v >= 0)
        add_int(t, key, v);
    else {
        add_key(t, key);
        text_add(t, "null", 4);
    }
}

static void add_string_or_null(struct text *t, const char *key, const char *v)
{
    add_key(t, key);
    if (v)
        text_json_string(t, v);
    else
        text_add(t, "null", 4);
}

void api_limits_text(struct text *t, const struct proto_limits *l)
{
    text_add(t, "{", 1);
    for (int i = 0, n = 0; i < PROTO_LIMITS; i++) {
        if (!(l->set & (1u << i))) continue;
        char cores[32] = ""; /* cpu: a number of CPUs, kept in thousandths */
        if (i == PROTO_LIMIT_CPU) job_cpu_format(l->v[i], cores, sizeof cores);
        if (cores[0])
            text_addf(t, "%s\"%s\":%s", n++ ? "," : "", proto_limit_name(i), cores);
        else
            text_addf(t, "%s\"%s\":%lld", n++ ? "," : "", proto_limit_name(i), (long long)l->v[i]);
    }
    text_add(t, "}", 1);
}

void api_env_text(struct text *t, const struct strblob *env)
{
    text_add(t, "{", 1);
    bool first = true;
    for (const char *kv = strblob_next(env, NULL); kv; kv = strblob_next(env, kv)) {
        const char *eq = strchr(kv, '=');
        if (!eq) continue;
        if (!first) text_add(t, ",", 1);
        first = false;
        text_json_stringn(t, kv, (size_t)(eq - kv));
        text_add(t, ":", 1);
        text_json_string(t, eq + 1);
    }
    text_add(t, "}", 1);
}

/* "usage": what an ended job cost, null before it ended: CPU seconds (user, system) and
 * the peak memory in bytes of its whole tree where its cgroup leaf said (else of its main
 * process and the processes it waited for: "source" says which), and the wall seconds from
 * start to end; each null when unknown (a lost job). */
static void usage_text(struct text *t, const struct job *j)
{
    if (!job_state_terminal(j->state)) {
        text_addf(t, ",\"usage\":null");
        return;
    }
    char user[32] = "null", sys[32] = "null", rss[32] = "null", wall[32] = "null";
    if (j->user_us >= 0) snprintf(user, sizeof user, "%.6f", (double)j->user_us / 1e6);
    if (j->system_us >= 0) snprintf(sys, sizeof sys, "%.6f", (double)j->system_us / 1e6);
    if (j->maxrss_kb >= 0) snprintf(rss, sizeof rss, "%lld", (long long)j->maxrss_kb * 1024);
    if (j->started_at > 0 && j->finished_at >= j->started_at)
        snprintf(wall, sizeof wall, "%.3f", (double)(j->finished_at - j->started_at) / 1000);
    text_addf(t, ",\"usage\":{\"user_cpu\":%s,\"system_cpu\":%s,\"max_rss\":%s,\"wall\":%s", user,
              sys, rss, wall);
    if (j->user_us < 0 && j->maxrss_kb < 0) {
        text_add(t, ",\"source\":null}", 15);
        return;
    }
    int from = j->usage_from > 0 ? j->usage_from : 0; /* (null: stored before; rusage) */
    text_addf(t, ",\"source\":{\"cpu\":\"%s\",\"memory\":\"%s\"}}",
              from & PROTO_USAGE_CPU_CGROUP ? "cgroup" : "rusage",
              from & PROTO_USAGE_MEMORY_CGROUP ? "cgroup" : "rusage");
}

void api_job_text(struct text *t, const struct job *j)
{
    text_add(t, "{\"id\":", 6);
    text_add_int(t, j->id);
    add_string_or_null(t, "name", j->spec.name);
    add_string_or_null(t, "queue", j->spec.queue);
    /* argv: the command (a pipeline's first stage; all its stages follow in "pipeline") */
    int counts[16], stages = 0;
    for (const char *p = j->spec.pipeline; p && *p && stages < 16; stages++) {
        counts[stages] = atoi(p);
        p = strchr(p, ',');
        if (p) p++;
    }
    add_int(t, "priority", j->spec.priority);
    text_add(t, ",\"argv\":[", 9);
    int n = 0;
    for (const char *a = strblob_next(&j->spec.argv, NULL); a; a = strblob_next(&j->spec.argv, a)) {
        if (stages && n == counts[0]) break;
        if (n++) text_add(t, ",", 1);
        text_json_string(t, a);
    }
    text_add(t, "]", 1);
    if (stages) {
        text_add(t, ",\"pipeline\":[[", 14);
        int s = 0, in_stage = 0;
        for (const char *a = strblob_next(&j->spec.argv, NULL); a && s < stages;
             a = strblob_next(&j->spec.argv, a)) {
            if (in_stage == counts[s]) {
                text_add(t, "],[", 3);
                s++;
                in_stage = 0;
            }
            if (in_stage++) text_add(t, ",", 1);
            text_json_string(t, a);
        }
        text_add(t, "]]", 2);
    }
    if (j->spec.command) add_string_or_null(t, "command", j->spec.command);
    if (j->spec.notify_url) add_string_or_null(t, "notify_url", j->spec.notify_url);
    if (j->spec.stdin_from > 0) text_addf(t, ",\"stdin_from\":%lld", (long long)j->spec.stdin_from);
    if (j->spec.rerun_of > 0) text_addf(t, ",\"rerun_of\":%lld", (long long)j->spec.rerun_of);
    if (j->spec.schedule) add_string_or_null(t, "schedule", j->spec.schedule);
    if (j->spec.run_at > 0) api_text_time(t, "run_at", j->spec.run_at);
    text_add(t, ",\"after\":[", 10);
    for (size_t i = 0; i < j->spec.n_after; i++) {
        if (i) text_add(t, ",", 1);
        text_add_int(t, j->spec.after[i]);
    }
    text_add(t, "]", 1);
    add_string_or_null(t, "idempotency_key", j->spec.idempotency_key);
    if (j->spec.group) {
        add_string_or_null(t, "group", j->spec.group);
        text_addf(t, ",\"group_size\":%d", j->spec.group_size);
    }
    if (j->spec.concurrency_key) {
        add_string_or_null(t, "concurrency_key", j->spec.concurrency_key);
        text_addf(t, ",\"concurrency_limit\":%d", j->spec.concurrency_limit);
    }
    if (j->spec.task) { /* params: JSON text made by jansson at submit */
        add_string_or_null(t, "task", j->spec.task);
        text_addf(t, ",\"params\":%s", j->spec.params ? j->spec.params : "{}");
    }
    add_string_or_null(t, "cwd", j->spec.cwd);
    text_add(t, ",\"env\":", 7);
    api_env_text(t, &j->spec.env);
    if (j->spec.timeout > 0) {
        text_add(t, ",\"timeout\":", 11);
        text_add_number(t, j->spec.timeout);
    } else
        text_add(t, ",\"timeout\":null", 15);
    text_add(t, ",\"limits\":", 10);
    api_limits_text(t, &j->spec.limits);
    /* null: stored before these were kept with the job (the server's settings apply) */
    add_int_or_null(t, "max_output", j->spec.max_output > 0 ? j->spec.max_output : -1);
    add_key(t, "retry_backoff");
    if (j->spec.has_retry_backoff)
        text_add_number(t, j->spec.retry_backoff);
    else
        text_add(t, "null", 4);
    const char *state = job_state_name(j->state);
    text_add(t, ",\"state\":\"", 10);
    text_add(t, state, strlen(state));
    text_add(t, "\"", 1);
    add_int_or_null(t, "exit_code", j->exit_code);
    add_int_or_null(t, "signal", j->signal);
    add_string_or_null(t, "error", j->error);
    add_int_or_null(t, "pid", j->pid);
    /* a queued job may be reserved by a worker already: it shows once the job runs */
    add_int_or_null(t, "worker", j->state == JOB_QUEUED ? -1 : j->worker);
    add_string_or_null(t, "node", j->state == JOB_QUEUED ? NULL : j->node);
    add_int(t, "attempt", j->attempt);
    add_int(t, "max_attempts", j->spec.max_attempts);
    api_text_time(t, "created_at", j->created_at);
    api_text_time(t, "started_at", j->started_at);
    api_text_time(t, "finished_at", j->finished_at);
    usage_text(t, j);
    text_add(t, ",\"output\":{\"stdout_bytes\":", 26);
    text_add_int(t, j->stdout_bytes);
    add_int(t, "stderr_bytes", j->stderr_bytes);
    if (j->truncated)
        text_add(t, ",\"truncated\":true}}", 19);
    else
        text_add(t, ",\"truncated\":false}}", 20);
}
