/* job_json: a job record as API.md's job object. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "server/clock.h"

static json_t *time_or_null(int64_t ms)
{
    if (ms <= 0) return json_null();
    char text[32];
    clock_format(ms, text);
    return json_string(text);
}

static json_t *int_or_null(int64_t v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

json_t *api_json_string(const char *s)
{
    json_t *v = json_string(s);
    if (v) return v;
    char *copy = strdup(s); /* e.g. an error text cut in the middle of a character */
    if (!copy) return json_null();
    api_utf8_sanitize(copy, false);
    v = json_string(copy);
    free(copy);
    return v ? v : json_null();
}

static json_t *string_or_null(const char *s)
{
    return s ? api_json_string(s) : json_null();
}

json_t *api_job_json(const struct job *j)
{
    json_t *argv = json_array();
    for (const char *a = strblob_next(&j->spec.argv, NULL); a; a = strblob_next(&j->spec.argv, a))
        json_array_append_new(argv, api_json_string(a));
    json_t *env = json_object();
    for (const char *kv = strblob_next(&j->spec.env, NULL); kv; kv = strblob_next(&j->spec.env, kv)) {
        const char *eq = strchr(kv, '=');
        if (!eq) continue;
        char *key = strndup(kv, (size_t)(eq - kv));
        if (!key) continue;
        if (json_object_set_new(env, key, api_json_string(eq + 1)) < 0) {
            api_utf8_sanitize(key, false);
            json_object_set_new(env, key, api_json_string(eq + 1));
        }
        free(key);
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(j->id));
    json_object_set_new(o, "name", string_or_null(j->spec.name));
    json_object_set_new(o, "queue", api_json_string(j->spec.queue));
    json_object_set_new(o, "priority", json_integer(j->spec.priority));
    json_object_set_new(o, "argv", argv);
    if (j->spec.command) json_object_set_new(o, "command", string_or_null(j->spec.command));
    json_object_set_new(o, "cwd", api_json_string(j->spec.cwd));
    json_object_set_new(o, "env", env);
    json_object_set_new(o, "timeout", j->spec.timeout > 0 ? json_real(j->spec.timeout) : json_null());
    json_object_set_new(o, "state", json_string(job_state_name(j->state)));
    json_object_set_new(o, "exit_code", int_or_null(j->exit_code));
    json_object_set_new(o, "signal", int_or_null(j->signal));
    json_object_set_new(o, "error", string_or_null(j->error));
    json_object_set_new(o, "pid", int_or_null(j->pid));
    /* a queued job may be reserved by a worker already: it shows once the job runs */
    json_object_set_new(o, "worker", int_or_null(j->state == JOB_QUEUED ? -1 : j->worker));
    json_object_set_new(o, "attempt", json_integer(j->attempt));
    json_object_set_new(o, "max_attempts", json_integer(j->spec.max_attempts));
    json_object_set_new(o, "created_at", time_or_null(j->created_at));
    json_object_set_new(o, "started_at", time_or_null(j->started_at));
    json_object_set_new(o, "finished_at", time_or_null(j->finished_at));
    json_object_set_new(o, "output", json_pack("{s:I, s:I, s:b}", "stdout_bytes",
                                               (json_int_t)j->stdout_bytes, "stderr_bytes",
                                               (json_int_t)j->stderr_bytes, "truncated",
                                               j->truncated));
    return o;
}
