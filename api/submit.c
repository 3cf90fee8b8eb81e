/* submit: strict validation of POST /v1/jobs bodies into job specs. Every field of API.md
 * is checked for type and range; unknown fields are errors naming the field. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "api/internal.h"
#include "server/clock.h"
#include "server/sha256.h"
#include "server/tasks.h"

#define MAX_NAME 256
#define MAX_QUEUE JOB_QUEUE_NAME_MAX
#define MAX_ATTEMPTS 100
#define MAX_TIMEOUT (365.0 * 24 * 3600)
#define MAX_AFTER 1000
#define MAX_DELAY (10.0 * 365 * 24 * 3600)

json_t *api_parse_body(const char *body, size_t len, struct api_error *e)
{
    if (!body || len == 0) {
        api_fail(e, 400, "invalid_json", NULL, "the request body is empty; expected JSON");
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root)
        api_fail(e, 400, "invalid_json", NULL, "body is not valid JSON: %s (line %d, column %d)",
                 jerr.text, jerr.line, jerr.column);
    return root;
}

static int type_error(struct api_error *e, const char *prefix, const char *field, const char *want)
{
    char name[64];
    snprintf(name, sizeof name, "%s%s", prefix, field);
    return api_fail(e, 400, "invalid_argument", name, "%s must be %s", name, want);
}

static int get_string(json_t *v, const char *prefix, const char *field, size_t max, char **out,
                      struct api_error *e)
{
    if (!json_is_string(v)) return type_error(e, prefix, field, "a string");
    size_t n = json_string_length(v);
    if (n == 0 || n > max) {
        char want[64];
        snprintf(want, sizeof want, "a string of 1 to %zu bytes", max);
        return type_error(e, prefix, field, want);
    }
    *out = strndup(json_string_value(v), n);
    return *out ? 0 : api_fail(e, 500, "internal", NULL, "out of memory");
}

static int parse_argv(json_t *v, const char *prefix, struct job_spec *spec, struct api_error *e)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return type_error(e, prefix, "argv", "a non-empty array of strings");
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item)) return type_error(e, prefix, "argv", "an array of strings");
        if (i == 0 && json_string_length(item) == 0)
            return type_error(e, prefix, "argv",
                              "an array whose first string (the program) is not empty");
        if (strblob_add(&spec->argv, json_string_value(item), json_string_length(item)) < 0)
            return api_fail(e, 500, "internal", NULL, "out of memory");
    }
    return 0;
}

static int parse_env(json_t *v, const char *prefix, struct job_spec *spec, struct api_error *e)
{
    if (!json_is_object(v)) return type_error(e, prefix, "env", "an object of strings");
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
    {
        if (!key[0] || strchr(key, '='))
            return type_error(e, prefix, "env",
                              "an object whose keys are non-empty and have no '='");
        if (!json_is_string(val)) return type_error(e, prefix, "env", "an object of strings");
        size_t klen = strlen(key), vlen = json_string_length(val);
        char *kv = malloc(klen + vlen + 2);
        if (!kv) return api_fail(e, 500, "internal", NULL, "out of memory");
        memcpy(kv, key, klen);
        kv[klen] = '=';
        memcpy(kv + klen + 1, json_string_value(val), vlen);
        kv[klen + 1 + vlen] = '\0';
        int rc = strblob_add(&spec->env, kv, klen + 1 + vlen);
        free(kv);
        if (rc < 0) return api_fail(e, 500, "internal", NULL, "out of memory");
    }
    return 0;
}

static int parse_cwd(json_t *v, const struct config *cfg, const char *prefix, struct job_spec *spec,
                     struct api_error *e)
{
    char *cwd;
    if (get_string(v, prefix, "cwd", PATH_MAX - 1, &cwd, e) < 0) return -1;
    char path[PATH_MAX * 2];
    if (cwd[0] == '/')
        snprintf(path, sizeof path, "%s", cwd);
    else
        snprintf(path, sizeof path, "%s/%s", cfg->job_dir, cwd);
    free(cwd);
    struct stat st;
    char name[64];
    snprintf(name, sizeof name, "%scwd", prefix);
    if (strlen(path) >= PATH_MAX)
        return api_fail(e, 400, "invalid_argument", name, "%s is too long", name);
    if (stat(path, &st) < 0)
        return api_fail(e, 400, "invalid_argument", name, "%s %.200s: %s", name, path,
                        strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return api_fail(e, 400, "invalid_argument", name, "%s %.200s is not a directory", name,
                        path);
    spec->cwd = strdup(path);
    return spec->cwd ? 0 : api_fail(e, 500, "internal", NULL, "out of memory");
}

/* "after": ids of jobs that must succeed first (duplicates ignored). */
static int parse_after(json_t *v, const char *prefix, struct job_spec *spec, struct api_error *e)
{
    if (!json_is_array(v) || json_array_size(v) > MAX_AFTER)
        return type_error(e, prefix, "after", "an array of at most 1000 job ids");
    spec->after = calloc(json_array_size(v) + 1, sizeof *spec->after);
    if (!spec->after) return api_fail(e, 500, "internal", NULL, "out of memory");
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_integer(item) || json_integer_value(item) < 1)
            return type_error(e, prefix, "after", "an array of job ids (positive integers)");
        spec->after[spec->n_after++] = json_integer_value(item);
    }
    return 0;
}

static int compare_ids(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts "after" and drops repeats: the job shows it as job_dependencies keeps it. */
static void sort_after(struct job_spec *spec)
{
    if (spec->n_after < 2) return;
    qsort(spec->after, spec->n_after, sizeof *spec->after, compare_ids);
    size_t kept = 1;
    for (size_t i = 1; i < spec->n_after; i++)
        if (spec->after[i] != spec->after[kept - 1]) spec->after[kept++] = spec->after[i];
    spec->n_after = kept;
}

/* "pipeline": [[argv], [argv], ...]: 2 to 16 stages joined by pipes, no shell. */
static int parse_pipeline(json_t *v, const char *prefix, struct job_spec *spec, struct api_error *e)
{
    if (!json_is_array(v) || json_array_size(v) < 2 || json_array_size(v) > 16)
        return type_error(e, prefix, "pipeline", "an array of 2 to 16 stages (argv arrays)");
    char counts[16 * 12] = ""; /* 16 counts of up to 10 digits and their commas */
    size_t used = 0, i;
    json_t *stage;
    json_array_foreach(v, i, stage)
    {
        if (!json_is_array(stage) || json_array_size(stage) == 0)
            return type_error(e, prefix, "pipeline",
                              "an array of stages, each a non-empty array of strings");
        size_t k;
        json_t *a;
        json_array_foreach(stage, k, a)
        {
            if (!json_is_string(a) || (k == 0 && json_string_length(a) == 0))
                return type_error(e, prefix, "pipeline",
                                  "an array of stages, each a non-empty array of strings whose "
                                  "first (the program) is not empty");
            if (strblob_add(&spec->argv, json_string_value(a), json_string_length(a)) < 0)
                return api_fail(e, 500, "internal", NULL, "out of memory");
        }
        used += (size_t)snprintf(counts + used, sizeof counts - used, "%s%zu", i ? "," : "",
                                 json_array_size(stage));
    }
    spec->pipeline = strdup(counts);
    return spec->pipeline ? 0 : api_fail(e, 500, "internal", NULL, "out of memory");
}

/* Handles one key of a job object. */
static int parse_field(const char *key, json_t *v, const struct config *cfg, const char *prefix,
                       struct job_spec *spec, struct api_error *e)
{
    if (strcmp(key, "argv") == 0) return parse_argv(v, prefix, spec, e);
    if (strcmp(key, "command") == 0)
        return get_string(v, prefix, "command", 1 << 20, &spec->command, e);
    if (strcmp(key, "env") == 0) return parse_env(v, prefix, spec, e);
    if (strcmp(key, "cwd") == 0) return parse_cwd(v, cfg, prefix, spec, e);
    if (strcmp(key, "stdin") == 0) {
        if (!json_is_string(v)) return type_error(e, prefix, "stdin", "a string");
        spec->stdin_len = json_string_length(v);
        spec->stdin_data = malloc(spec->stdin_len + 1);
        if (!spec->stdin_data) return api_fail(e, 500, "internal", NULL, "out of memory");
        memcpy(spec->stdin_data, json_string_value(v), spec->stdin_len + 1);
        return 0;
    }
    if (strcmp(key, "timeout") == 0) {
        if (json_is_null(v)) return 0;
        double t = json_number_value(v);
        if (!json_is_number(v) || !(t > 0) || t > MAX_TIMEOUT)
            return type_error(e, prefix, "timeout",
                              "a number of seconds > 0 (at most a year), or null");
        spec->timeout = t;
        return 0;
    }
    if (strcmp(key, "priority") == 0) {
        if (!json_is_integer(v) || json_integer_value(v) < -1000000000 ||
            json_integer_value(v) > 1000000000)
            return type_error(e, prefix, "priority", "an integer from -1000000000 to 1000000000");
        spec->priority = json_integer_value(v);
        return 0;
    }
    if (strcmp(key, "queue") == 0) {
        free(spec->queue);
        spec->queue = NULL;
        if (get_string(v, prefix, "queue", MAX_QUEUE, &spec->queue, e) < 0) return -1;
        if (!job_queue_name_ok(spec->queue))
            return type_error(e, prefix, "queue", "a name of letters, digits, '-', '_' and '.'");
        return 0;
    }
    if (strcmp(key, "name") == 0) {
        if (json_is_null(v)) return 0;
        return get_string(v, prefix, "name", MAX_NAME, &spec->name, e);
    }
    if (strcmp(key, "max_attempts") == 0) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > MAX_ATTEMPTS)
            return type_error(e, prefix, "max_attempts", "an integer from 1 to 100");
        spec->max_attempts = (int)json_integer_value(v);
        return 0;
    }
    if (strcmp(key, "after") == 0) return parse_after(v, prefix, spec, e);
    if (strcmp(key, "task") == 0) return get_string(v, prefix, "task", 128, &spec->task, e);
    if (strcmp(key, "pipeline") == 0) return parse_pipeline(v, prefix, spec, e);
    if (strcmp(key, "notify_url") == 0) {
        if (get_string(v, prefix, "notify_url", 2048, &spec->notify_url, e) < 0) return -1;
        bool ok = strncasecmp(spec->notify_url, "http://", 7) == 0 ||
                  strncasecmp(spec->notify_url, "https://", 8) == 0;
        for (const char *c = spec->notify_url; ok && *c; c++)
            ok = *c > 0x20 && *c != 0x7f;
        if (!ok) return type_error(e, prefix, "notify_url", "an http:// or https:// URL");
        return 0;
    }
    if (strcmp(key, "stdin_from") == 0) {
        if (!json_is_integer(v) || json_integer_value(v) < 1)
            return type_error(e, prefix, "stdin_from", "a job id (a positive integer)");
        spec->stdin_from = json_integer_value(v);
        return 0;
    }
    if (strcmp(key, "group") == 0) return get_string(v, prefix, "group", 128, &spec->group, e);
    if (strcmp(key, "group_size") == 0) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1024)
            return type_error(e, prefix, "group_size", "an integer >= 1");
        spec->group_size = (int)json_integer_value(v);
        if (spec->group_size > cfg->workers) {
            char name[64];
            snprintf(name, sizeof name, "%sgroup_size", prefix);
            return api_fail(e, 400, "invalid_argument", name,
                            "group_size %d is larger than the pool (%d workers): the group could "
                            "never start together",
                            spec->group_size, cfg->workers);
        }
        return 0;
    }
    if (strcmp(key, "concurrency_key") == 0)
        return get_string(v, prefix, "concurrency_key", 128, &spec->concurrency_key, e);
    if (strcmp(key, "concurrency_limit") == 0) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 10000)
            return type_error(e, prefix, "concurrency_limit", "an integer from 1 to 10000");
        spec->concurrency_limit = (int)json_integer_value(v);
        return 0;
    }
    if (strcmp(key, "params") == 0) {
        if (!json_is_object(v)) return type_error(e, prefix, "params", "an object");
        spec->params = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        return spec->params ? 0 : api_fail(e, 500, "internal", NULL, "out of memory");
    }
    if (strcmp(key, "run_at") == 0) { /* scheduled until then (a past time: queued now) */
        if (json_is_null(v)) return 0;
        bool inexact;
        if (!json_is_string(v) || clock_parse(json_string_value(v), &spec->run_at, &inexact) < 0 ||
            spec->run_at < 1)
            return type_error(e, prefix, "run_at",
                              "an RFC 3339 time such as \"2026-12-01T09:00:00Z\" or "
                              "\"2026-12-01T10:00:00+01:00\"");
        return 0;
    }
    if (strcmp(key, "delay") == 0) {
        double s = json_number_value(v);
        if (!json_is_number(v) || !(s >= 0) || s > MAX_DELAY)
            return type_error(e, prefix, "delay", "a number of seconds >= 0 (at most 10 years)");
        spec->run_at = clock_wall_ms() + (int64_t)(s * 1000);
        return 0;
    }
    if (strcmp(key, "idempotency_key") == 0)
        return get_string(v, prefix, "idempotency_key", 255, &spec->idempotency_key, e);
    if (strcmp(key, "max_output") == 0) {
        if (!json_is_integer(v) || json_integer_value(v) < 1)
            return type_error(e, prefix, "max_output", "an integer of bytes > 0");
        spec->max_output = json_integer_value(v); /* (its ceiling: api_apply_knobs) */
        return 0;
    }
    if (strcmp(key, "retry_backoff") == 0) {
        double b = json_number_value(v);
        if (!json_is_number(v) || !(b >= 0) || b > MAX_TIMEOUT)
            return type_error(e, prefix, "retry_backoff", "a number of seconds >= 0");
        spec->has_retry_backoff = true;
        spec->retry_backoff = b;
        return 0;
    }
    if (strcmp(key, "limits") == 0) {
        char bad[64], why[300], field[128];
        struct task_arg *args;
        size_t n;
        if (task_args_from_json(v, &args, &n) < 0)
            return api_fail(e, 500, "internal", NULL, "out of memory");
        int rc = tasks_parse_limits(args, n, &spec->limits, bad, sizeof bad, why, sizeof why);
        free(args);
        if (rc == 0) return 0;
        snprintf(field, sizeof field, "%slimits%s%s", prefix, bad[0] ? "." : "", bad);
        return api_fail(e, 400, "invalid_argument", field, "%s", why);
    }
    char name[64];
    snprintf(name, sizeof name, "%s%.40s", prefix, key);
    return api_fail(
        e, 400, "invalid_argument", name,
        "unknown field '%.100s' (known: argv, command, env, cwd, stdin, timeout, "
        "priority, queue, name, max_attempts, after, idempotency_key, task, params, "
        "concurrency_key, "
        "concurrency_limit, group, group_size, stdin_from, pipeline, notify_url, limits, "
        "run_at, delay, max_output, retry_backoff)",
        key);
}

/* Builds argv (and the defaults the submitter left out) from the task template named in
 * spec->task with spec->params. */
static int apply_task(json_t *obj, const struct config *cfg, const char *prefix,
                      struct job_spec *spec, struct api_error *e)
{
    char name[64];
    if (!spec->task) {
        snprintf(name, sizeof name, "%stask", prefix);
        return api_fail(e, 400, "invalid_argument", name, "params need a task");
    }
    if (spec->argv.len || spec->command) {
        snprintf(name, sizeof name, "%stask", prefix);
        return api_fail(e, 400, "invalid_argument", name,
                        "give either task or argv/command, not both");
    }
    const struct task_template *t = tasks_find(&cfg->tasks, spec->task);
    if (!t) {
        snprintf(name, sizeof name, "%stask", prefix);
        return api_fail(e, 400, "invalid_argument", name,
                        "unknown task '%.100s' (GET /v1/tasks lists them)", spec->task);
    }
    struct task_arg *params; /* none given: an empty object */
    size_t n;
    if (task_args_from_json(json_object_get(obj, "params"), &params, &n) < 0) goto oom;
    char bad[128] = "", why[300] = "";
    int rc = tasks_expand(t, params, n, spec, bad, sizeof bad, why, sizeof why);
    free(params);
    if (rc < 0) {
        snprintf(name, sizeof name, "%sparams.%.40s", prefix, bad);
        return api_fail(e, 400, "invalid_argument", name, "%s", why);
    }
    if (!spec->params && !(spec->params = strdup("{}"))) goto oom;
    /* the template's defaults, where the submitter gave nothing */
    if (!spec->queue && t->queue && !(spec->queue = strdup(t->queue))) goto oom;
    if (!json_object_get(obj, "priority")) spec->priority = t->priority;
    json_t *timeout = json_object_get(obj, "timeout"); /* null: not given */
    if ((!timeout || json_is_null(timeout)) && t->timeout > 0) spec->timeout = t->timeout;
    if (!json_object_get(obj, "max_attempts") && t->max_attempts)
        spec->max_attempts = t->max_attempts;
    if (!spec->cwd && t->cwd && !(spec->cwd = strdup(t->cwd))) goto oom;
    for (const char *kv = strblob_next(&t->env, NULL); kv; kv = strblob_next(&t->env, kv)) {
        size_t klen = strcspn(kv, "=");
        bool given = false; /* the submitter's value wins */
        for (const char *g = strblob_next(&spec->env, NULL); g && !given;
             g = strblob_next(&spec->env, g))
            given = strncmp(g, kv, klen) == 0 && g[klen] == '=';
        if (!given && strblob_add(&spec->env, kv, strlen(kv)) < 0) goto oom;
    }
    return 0;
oom:
    return api_fail(e, 500, "internal", NULL, "out of memory");
}

int api_parse_job(json_t *obj, const struct config *cfg, const struct serve_caps *caps,
                  const char *prefix, struct job_spec *spec, struct api_error *e)
{
    memset(spec, 0, sizeof *spec);
    spec->max_attempts = 1;
    if (!json_is_object(obj)) {
        char what[32];
        snprintf(what, sizeof what, "%s", prefix[0] ? prefix : "job");
        size_t n = strlen(what);
        if (n && what[n - 1] == '.') what[n - 1] = '\0';
        return api_fail(e, 400, "invalid_argument", NULL,
                        "%s must be a JSON object (or an array of them)", what);
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (parse_field(key, v, cfg, prefix, spec, e) < 0) goto fail;
    }
    char name[64];
    if (json_object_get(obj, "run_at") && json_object_get(obj, "delay")) {
        snprintf(name, sizeof name, "%sdelay", prefix);
        api_fail(e, 400, "invalid_argument", name, "give either run_at or delay, not both");
        goto fail;
    }
    if (spec->pipeline && (json_object_get(obj, "argv") || spec->command || spec->task)) {
        snprintf(name, sizeof name, "%spipeline", prefix);
        api_fail(e, 400, "invalid_argument", name,
                 "give one of argv, command, pipeline or task, not several");
        goto fail;
    }
    if ((spec->argv.len || spec->command) && !cfg->allow_commands) {
        snprintf(name, sizeof name, "%s%s", prefix,
                 spec->command    ? "command"
                 : spec->pipeline ? "pipeline"
                                  : "argv");
        api_fail(e, 403, "forbidden", name,
                 "this server runs task templates only (allow_commands is false): submit "
                 "{\"task\": ..., \"params\": {...}} (GET /v1/tasks lists them)");
        goto fail;
    }
    if ((spec->task || spec->params) && apply_task(obj, cfg, prefix, spec, e) < 0) goto fail;
    /* the timeout that applies is stored with the job: its own, its template's, else the
     * server's --default-timeout at submit (a restart with another default changes no job) */
    if (spec->timeout <= 0) spec->timeout = cfg->default_timeout;
    if (api_apply_limits(cfg, caps, prefix, spec, e) < 0) goto fail;
    if (api_apply_knobs(obj, cfg, prefix, spec, e) < 0) goto fail;
    if (spec->concurrency_limit && !spec->concurrency_key) {
        snprintf(name, sizeof name, "%sconcurrency_limit", prefix);
        api_fail(e, 400, "invalid_argument", name, "concurrency_limit needs a concurrency_key");
        goto fail;
    }
    if (spec->concurrency_key && !spec->concurrency_limit) spec->concurrency_limit = 1; /* a Lock */
    if (spec->stdin_from && spec->stdin_data) {
        snprintf(name, sizeof name, "%sstdin_from", prefix);
        api_fail(e, 400, "invalid_argument", name, "give either stdin or stdin_from, not both");
        goto fail;
    }
    if (spec->stdin_from) { /* it needs the other job finished (and succeeded): after it */
        bool listed = false;
        for (size_t i = 0; i < spec->n_after; i++)
            listed |= spec->after[i] == spec->stdin_from;
        if (!listed) {
            int64_t *grown = realloc(spec->after, (spec->n_after + 1) * sizeof *grown);
            if (!grown) goto oom;
            spec->after = grown;
            spec->after[spec->n_after++] = spec->stdin_from;
        }
    }
    sort_after(spec); /* shown as stored: in id order, each once */
    if (!spec->group != !spec->group_size) {
        snprintf(name, sizeof name, "%s%s", prefix, spec->group ? "group_size" : "group");
        api_fail(e, 400, "invalid_argument", name, "group and group_size go together");
        goto fail;
    }
    if (spec->group && spec->max_attempts > 1) { /* a lone retry could never pass the barrier */
        snprintf(name, sizeof name, "%smax_attempts", prefix);
        api_fail(e, 400, "invalid_argument", name, "members of a group run once (max_attempts 1)");
        goto fail;
    }
    if (spec->argv.len && spec->command) {
        snprintf(name, sizeof name, "%scommand", prefix);
        api_fail(e, 400, "invalid_argument", name, "give either argv or command, not both");
        goto fail;
    }
    if (!spec->argv.len && !spec->command) {
        snprintf(name, sizeof name, "%sargv", prefix);
        api_fail(e, 400, "invalid_argument", name,
                 "argv (an array of strings) or command (a shell string) is required");
        goto fail;
    }
    if (spec->command) {
        strblob_add(&spec->argv, "/bin/sh", 7);
        strblob_add(&spec->argv, "-c", 2);
        if (strblob_add(&spec->argv, spec->command, strlen(spec->command)) < 0) {
            api_fail(e, 500, "internal", NULL, "out of memory");
            goto fail;
        }
    }
    if (!spec->queue && !(spec->queue = strdup("default"))) goto oom;
    if (!spec->cwd && !(spec->cwd = strdup(cfg->job_dir))) goto oom;
    return 0;
oom:
    api_fail(e, 500, "internal", NULL, "out of memory");
fail:
    job_spec_free(spec);
    return -1;
}

void api_specs_free(struct job_spec *specs, size_t n)
{
    for (size_t i = 0; specs && i < n; i++)
        job_spec_free(&specs[i]);
    free(specs);
}

/* The Idempotency-Key header: for a single job, the same as its "idempotency_key". */
static int apply_idempotency_header(const char *key, bool many, struct job_spec *spec,
                                    struct api_error *e)
{
    size_t n = strlen(key);
    if (n == 0 || n > 255)
        return api_fail(e, 400, "invalid_argument", "Idempotency-Key",
                        "the Idempotency-Key header must be 1 to 255 bytes");
    if (many)
        return api_fail(e, 400, "invalid_argument", "Idempotency-Key",
                        "an array submit takes an idempotency_key per job, not the header");
    if (spec->idempotency_key && strcmp(spec->idempotency_key, key) != 0)
        return api_fail(e, 400, "invalid_argument", "idempotency_key",
                        "the Idempotency-Key header and the idempotency_key field differ");
    free(spec->idempotency_key);
    spec->idempotency_key = strdup(key);
    return spec->idempotency_key ? 0 : api_fail(e, 500, "internal", NULL, "out of memory");
}

/* What a key stands for: SHA-256 of the job object as canonical JSON (keys sorted, no
 * spaces, the key itself left out), so a retry written otherwise still matches it and
 * another request under the same key does not. */
static int fingerprint(json_t *obj, struct job_spec *spec, struct api_error *e)
{
    json_object_del(obj, "idempotency_key");
    char *canonical = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    spec->idempotency_fingerprint = malloc(2 * SHA256_SIZE + 1);
    if (!canonical || !spec->idempotency_fingerprint) {
        free(canonical);
        return api_fail(e, 500, "internal", NULL, "out of memory");
    }
    uint8_t digest[SHA256_SIZE];
    sha256(canonical, strlen(canonical), digest);
    sha256_hex(digest, spec->idempotency_fingerprint);
    free(canonical);
    return 0;
}

/* One key names one job: an array may not repeat a key. */
static int check_keys_unique(const struct job_spec *s, size_t count, struct api_error *e)
{
    for (size_t i = 1; i < count; i++)
        for (size_t k = 0; k < i; k++)
            if (s[i].idempotency_key && s[k].idempotency_key &&
                strcmp(s[i].idempotency_key, s[k].idempotency_key) == 0) {
                char field[48];
                snprintf(field, sizeof field, "[%zu].idempotency_key", i);
                return api_fail(e, 400, "invalid_argument", field,
                                "%s repeats the key of job [%zu] in the same array", field, k);
            }
    return 0;
}

int api_parse_submit(const char *body, size_t len, const struct config *cfg,
                     const struct serve_caps *caps, const char *idempotency_header,
                     struct job_spec **specs, size_t *n, bool *many, struct api_error *e)
{
    *specs = NULL;
    *n = 0;
    json_t *root = api_parse_body(body, len, e);
    if (!root) return -1;
    *many = json_is_array(root);
    size_t count = *many ? json_array_size(root) : 1;
    if (*many && (count == 0 || count > (size_t)cfg->max_batch)) {
        json_decref(root);
        return api_fail(e, 400, "invalid_argument", NULL,
                        "an array submit needs 1 to %lld jobs (--max-batch), got %zu",
                        (long long)cfg->max_batch, count);
    }
    struct job_spec *s = calloc(count, sizeof *s);
    if (!s) {
        json_decref(root);
        return api_fail(e, 500, "internal", NULL, "out of memory");
    }
    size_t done = 0;
    for (; done < count; done++) {
        char prefix[32] = "";
        if (*many) snprintf(prefix, sizeof prefix, "[%zu].", done);
        json_t *obj = *many ? json_array_get(root, done) : root;
        if (api_parse_job(obj, cfg, caps, prefix, &s[done], e) < 0) break; /* s[done] is freed */
    }
    int rc = done == count ? 0 : -1;
    if (rc == 0 && idempotency_header)
        rc = apply_idempotency_header(idempotency_header, *many, &s[0], e);
    if (rc == 0) rc = check_keys_unique(s, count, e);
    for (size_t i = 0; rc == 0 && i < count; i++)
        if (s[i].idempotency_key)
            rc = fingerprint(*many ? json_array_get(root, i) : root, &s[i], e);
    json_decref(root);
    if (rc < 0) {
        api_specs_free(s, done);
        return -1;
    }
    *specs = s;
    *n = count;
    return 0;
}
