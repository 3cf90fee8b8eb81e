/* submit_knobs: what a submitted job may use, against the server's ceilings: its limits
 * (rlimits, memory, pids, cpu), the output it keeps and the backoff before its retries. */
#include <stdio.h>

#include "api/internal.h"
#include "server/tasks.h"

/* The limit's value as the API writes it (a cpu limit is a number of CPUs). */
static void limit_text(int limit, int64_t v, char *out, size_t n)
{
    if (limit == PROTO_LIMIT_CPU)
        job_cpu_format(v, out, n);
    else
        snprintf(out, n, "%lld", (long long)v);
}

/* The job's limits: what it asked for, else its template's, else the server's (--limit-*).
 * The template's or else the server's value is also the most a job may ask for; without
 * either, an rlimit may not go above the server's own hard limit (the worker, root or not,
 * must not hand a job more than the server was given, e.g. by systemd's LimitCORE=), nor a
 * cpu limit above the machine's CPUs. */
int api_apply_limits(const struct config *cfg, const struct serve_caps *caps, const char *prefix,
                     struct job_spec *spec, struct api_error *e)
{
    const struct task_template *t = spec->task ? tasks_find(&cfg->tasks, spec->task) : NULL;
    struct proto_limits asked = spec->limits;
    for (int i = 0; i < PROTO_LIMITS; i++) {
        uint32_t bit = 1u << i;
        const struct proto_limits *ceiling = t && t->limits.set & bit ? &t->limits
                                             : cfg->limits.set & bit  ? &cfg->limits
                                                                      : NULL;
        char field[96], most[32];
        snprintf(field, sizeof field, "%slimits.%s", prefix, proto_limit_name(i));
        if (asked.set & bit) {
            if (ceiling && asked.v[i] > ceiling->v[i]) {
                limit_text(i, ceiling->v[i], most, sizeof most);
                return api_fail(e, 400, "invalid_argument", field,
                                "%s may be at most %s here (%s%s)", field, most,
                                ceiling == &cfg->limits ? "the server's --limit-"
                                                        : "the limit of its task template",
                                ceiling == &cfg->limits ? proto_limit_name(i) : "");
            }
            /* root could raise it, a job may not; a cpu limit over the machine is no limit */
            if (!ceiling && caps->limit_hard[i] >= 0 && asked.v[i] > caps->limit_hard[i]) {
                limit_text(i, caps->limit_hard[i], most, sizeof most);
                return api_fail(e, 400, "invalid_argument", field, "%s may be at most %s here (%s)",
                                field, most,
                                i == PROTO_LIMIT_CPU ? "the machine's CPUs"
                                                     : "the server's own hard limit");
            }
            if (!caps->limit_supported[i])
                return api_fail(e, 400, "invalid_argument", field,
                                "this server cannot enforce a %s limit: it has no cgroup %s "
                                "controller (see /healthz \"limits\")",
                                proto_limit_name(i), proto_limit_name(i));
        } else if (ceiling) {
            spec->limits.set |= bit;
            spec->limits.v[i] = ceiling->v[i];
        }
    }
    return 0;
}

/* max_output and retry_backoff: the job's, else its template's, else the server's, kept with
 * the job (a restart with other settings changes no job submitted); the job's may not go
 * above --max-output and --retry-backoff-max (refused, not clamped: a job gets what it
 * shows). The server's settings still bound them when the job runs, should they shrink. */
int api_apply_knobs(json_t *obj, const struct config *cfg, const char *prefix,
                    struct job_spec *spec, struct api_error *e)
{
    const struct task_template *t = spec->task ? tasks_find(&cfg->tasks, spec->task) : NULL;
    char field[64];
    if (spec->max_output > cfg->max_output) {
        snprintf(field, sizeof field, "%smax_output", prefix);
        return api_fail(e, 400, "invalid_argument", field,
                        "%s may be at most %lld bytes here (the server's --max-output)", field,
                        (long long)cfg->max_output);
    }
    if (spec->has_retry_backoff && spec->retry_backoff > cfg->retry_backoff_max) {
        snprintf(field, sizeof field, "%sretry_backoff", prefix);
        return api_fail(e, 400, "invalid_argument", field,
                        "%s may be at most %g seconds here (the server's --retry-backoff-max)",
                        field, cfg->retry_backoff_max);
    }
    if (!json_object_get(obj, "max_output"))
        spec->max_output = t && t->max_output ? t->max_output : cfg->max_output;
    if (!json_object_get(obj, "retry_backoff")) {
        spec->has_retry_backoff = true;
        spec->retry_backoff = t && t->has_retry_backoff ? t->retry_backoff : cfg->retry_backoff;
    }
    return 0;
}
