/* job: state names and the memory of job records. */
#include "server/job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[JOB_STATE_COUNT] = {"queued",    "running",  "scheduled",
                                                         "succeeded", "failed",   "terminated",
                                                         "timed_out", "canceled", "lost"};

const char *job_state_name(enum job_state s)
{
    return (unsigned)s < JOB_STATE_COUNT ? state_names[s] : "unknown";
}

int job_state_parse(const char *name, enum job_state *out)
{
    for (int i = 0; i < JOB_STATE_COUNT; i++)
        if (strcmp(name, state_names[i]) == 0) {
            *out = (enum job_state)i;
            return 0;
        }
    return -1;
}

bool job_queue_name_ok(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");
    return n >= 1 && n <= JOB_QUEUE_NAME_MAX && s[n] == '\0';
}

/* nofile below 8 leaves a program no fd to open its libraries with; the kernel caps it at
 * nr_open, nproc at pid_max (4194304), and pids.max below 4194305 (we write the limit + 1:
 * the worker shares the cgroup). cpu is in thousandths of a CPU: cpu.max takes a quota of
 * at least 1 ms per 100 ms period (0.01 CPU). */
static const int64_t limit_min[PROTO_LIMITS] = {8, 1, 0, 1 << 20, 1 << 20, 1, 10};
static const int64_t limit_max[PROTO_LIMITS] = {
    1 << 30, 1 << 22, INT64_MAX / 2, INT64_MAX / 2, INT64_MAX / 2, (1 << 22) - 1, JOB_CPU_MAX};

int64_t job_limit_min(int limit)
{
    return limit >= 0 && limit < PROTO_LIMITS ? limit_min[limit] : 0;
}

int64_t job_limit_max(int limit)
{
    return limit >= 0 && limit < PROTO_LIMITS ? limit_max[limit] : 0;
}

bool job_limit_is_bytes(int limit)
{
    return limit == PROTO_LIMIT_CORE || limit == PROTO_LIMIT_AS || limit == PROTO_LIMIT_MEMORY;
}

int job_cpu_parse(double cores, int64_t *milli)
{
    if (!(cores >= 0.01 - 1e-9) || cores > (double)JOB_CPU_MAX / 1000) return -1;
    *milli = (int64_t)(cores * 1000 + 0.5);
    return 0;
}

void job_cpu_format(int64_t milli, char *out, size_t n)
{
    snprintf(out, n, "%lld.%03lld", (long long)(milli / 1000), (long long)(milli % 1000));
    size_t len = strlen(out); /* 0.500 -> 0.5, 2.000 -> 2 */
    while (len > 0 && out[len - 1] == '0')
        out[--len] = '\0';
    if (len > 0 && out[len - 1] == '.') out[--len] = '\0';
}

void job_limits_format(const struct proto_limits *l, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < PROTO_LIMITS; i++)
        if (l->set & (1u << i) && used < n) {
            int w = snprintf(out + used, n - used, "%s%s=%lld", used ? "," : "",
                             proto_limit_name(i), (long long)l->v[i]);
            used += w > 0 ? (size_t)w : 0;
        }
}

int job_limits_scan(const char *text, struct proto_limits *l)
{
    memset(l, 0, sizeof *l);
    for (const char *p = text; p && *p;) {
        size_t klen = strcspn(p, "=");
        int which = -1;
        for (int i = 0; i < PROTO_LIMITS; i++)
            if (strlen(proto_limit_name(i)) == klen && strncmp(p, proto_limit_name(i), klen) == 0)
                which = i;
        if (which < 0 || p[klen] != '=') return -1;
        char *end;
        errno = 0;
        long long v = strtoll(p + klen + 1, &end, 10);
        if (errno || end == p + klen + 1 || (*end && *end != ',') || l->set & (1u << which) ||
            v < job_limit_min(which) || v > job_limit_max(which))
            return -1;
        l->set |= 1u << which;
        l->v[which] = v;
        p = *end ? end + 1 : end;
    }
    return 0;
}

bool job_state_terminal(enum job_state s)
{
    return s != JOB_QUEUED && s != JOB_RUNNING && s != JOB_SCHEDULED;
}

void job_spec_free(struct job_spec *spec)
{
    free(spec->name);
    free(spec->queue);
    free(spec->argv.data);
    free(spec->command);
    free(spec->env.data);
    free(spec->cwd);
    free(spec->stdin_data);
    free(spec->after);
    free(spec->idempotency_key);
    free(spec->idempotency_fingerprint);
    free(spec->task);
    free(spec->concurrency_key);
    free(spec->group);
    free(spec->pipeline);
    free(spec->notify_url);
    free(spec->params);
    free(spec->schedule);
    memset(spec, 0, sizeof *spec);
}

void job_free(struct job *job)
{
    job_spec_free(&job->spec);
    free(job->error);
    free(job->node);
    memset(job, 0, sizeof *job);
}

int strblob_add(struct strblob *b, const char *s, size_t n)
{
    char *p = realloc(b->data, b->len + n + 1);
    if (!p) return -1;
    memcpy(p + b->len, s, n);
    p[b->len + n] = '\0';
    b->data = p;
    b->len += n + 1;
    return 0;
}

size_t strblob_count(const struct strblob *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i] == '\0') n++;
    return n;
}

const char *strblob_next(const struct strblob *b, const char *prev)
{
    if (!b->data || b->len == 0) return NULL;
    if (!prev) return b->data;
    const char *next = prev + strlen(prev) + 1;
    return next < b->data + b->len ? next : NULL;
}
