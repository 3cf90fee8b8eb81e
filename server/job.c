/* job: state names and the memory of job records. */
#include "server/job.h"

#include <stdlib.h>
#include <string.h>

static const char *const state_names[JOB_STATE_COUNT] = {
    "queued", "running", "succeeded", "failed", "terminated", "timed_out", "canceled", "lost"};

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

bool job_state_terminal(enum job_state s)
{
    return s != JOB_QUEUED && s != JOB_RUNNING;
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
    free(spec->task);
    free(spec->concurrency_key);
    free(spec->group);
    free(spec->pipeline);
    free(spec->notify_url);
    free(spec->params);
    memset(spec, 0, sizeof *spec);
}

void job_free(struct job *job)
{
    job_spec_free(&job->spec);
    free(job->error);
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
