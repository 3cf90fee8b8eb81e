/* tasks: parsing and expanding job templates. */
#include "server/tasks_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Finds the next {name} slot in s from p: sets *start, *len (of name); NULL if none. */
static const char *next_slot(const char *p, const char **name, size_t *len)
{
    for (const char *open = strchr(p, '{'); open; open = strchr(open + 1, '{')) {
        const char *q = open + 1;
        while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
               *q == '_')
            q++;
        if (*q == '}' && q > open + 1) {
            *name = open + 1;
            *len = (size_t)(q - open - 1);
            return open;
        }
    }
    return NULL;
}

static int add_param(struct task_template *t, const char *name, size_t len)
{
    for (size_t i = 0; i < t->n_params; i++)
        if (strlen(t->params[i]) == len && strncmp(t->params[i], name, len) == 0) return 0;
    char **grown = realloc(t->params, (t->n_params + 1) * sizeof *grown);
    if (!grown) return -1;
    t->params = grown;
    t->params[t->n_params] = strndup(name, len);
    return t->params[t->n_params++] ? 0 : -1;
}

int tasks_parse_limits(const struct task_arg *args, size_t n, struct proto_limits *l, char *bad,
                       size_t badlen, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    bad[0] = '\0';
    if (!args) {
        snprintf(err, errlen,
                 "limits must be an object of nofile, nproc, core, as, memory, pids, cpu");
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        const char *key = args[k].key;
        int which = -1;
        for (int i = 0; i < PROTO_LIMITS; i++)
            if (strcmp(key, proto_limit_name(i)) == 0) which = i;
        snprintf(bad, badlen, "%s", key);
        if (which < 0) {
            snprintf(err, errlen,
                     "unknown limit '%.60s' (known: nofile, nproc, core, as, memory, pids, cpu)",
                     key);
            return -1;
        }
        int64_t min = job_limit_min(which), max = job_limit_max(which);
        if (which == PROTO_LIMIT_CPU) { /* a number of CPUs, fractions allowed: 0.5, 2 */
            double cores = args[k].kind == TASK_ARG_INTEGER ? (double)args[k].integer
                           : args[k].kind == TASK_ARG_REAL  ? args[k].real
                                                            : -1;
            if (job_cpu_parse(cores, &l->v[which]) < 0) {
                snprintf(err, errlen, "limits.cpu must be a number of CPUs from 0.01 to %d",
                         JOB_CPU_MAX / 1000);
                return -1;
            }
            l->set |= 1u << which;
            continue;
        }
        if (args[k].kind != TASK_ARG_INTEGER || args[k].integer < min || args[k].integer > max) {
            snprintf(err, errlen, "limits.%s must be an integer%s from %lld to %lld", key,
                     job_limit_is_bytes(which) ? " of bytes" : "", (long long)min, (long long)max);
            return -1;
        }
        l->set |= 1u << which;
        l->v[which] = args[k].integer;
    }
    bad[0] = '\0';
    return 0;
}

int task_args_from_json(struct json_t *obj, struct task_arg **args, size_t *n)
{
    *args = NULL;
    *n = 0;
    if (!json_is_object(obj)) return 0;
    struct task_arg *a = calloc(json_object_size(obj) + 1, sizeof *a);
    if (!a) return -1;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        struct task_arg *t = &a[(*n)++];
        t->key = key;
        if (json_is_string(v)) {
            t->kind = TASK_ARG_STRING;
            t->string = json_string_value(v);
            t->string_len = json_string_length(v);
        } else if (json_is_integer(v)) {
            t->kind = TASK_ARG_INTEGER;
            t->integer = json_integer_value(v);
        } else if (json_is_real(v)) {
            t->kind = TASK_ARG_REAL;
            t->real = json_real_value(v);
        }
    }
    *args = a;
    return 0;
}

static int load_one(struct task_template *t, const char *name, json_t *def, char *err,
                    size_t errlen)
{
    t->name = strdup(name);
    if (!json_is_object(def)) {
        snprintf(err, errlen, "task %s must be an object", name);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(def, key, v)
    {
        if (strcmp(key, "argv") == 0) {
            size_t i;
            json_t *a;
            if (!json_is_array(v) || json_array_size(v) == 0) goto bad;
            json_array_foreach(v, i, a)
            {
                if (!json_is_string(a) || (i == 0 && json_string_length(a) == 0)) goto bad;
                strblob_add(&t->argv, json_string_value(a), json_string_length(a));
                const char *p = json_string_value(a), *slot, *pname;
                size_t plen;
                while ((slot = next_slot(p, &pname, &plen))) {
                    if (add_param(t, pname, plen) < 0) goto bad;
                    p = pname + plen + 1;
                }
            }
        } else if (strcmp(key, "queue") == 0 && json_is_string(v) &&
                   job_queue_name_ok(json_string_value(v))) {
            t->queue = strdup(json_string_value(v));
        } else if (strcmp(key, "cwd") == 0 && json_is_string(v) && json_string_value(v)[0] == '/' &&
                   json_string_length(v) < 4096) {
            t->cwd = strdup(json_string_value(v));
        } else if (strcmp(key, "priority") == 0 && json_is_integer(v) &&
                   json_integer_value(v) >= -1000000000 && json_integer_value(v) <= 1000000000) {
            t->priority = json_integer_value(v);
        } else if (strcmp(key, "timeout") == 0 && json_is_number(v) && json_number_value(v) > 0 &&
                   json_number_value(v) <= 365.0 * 24 * 3600) {
            t->timeout = json_number_value(v);
        } else if (strcmp(key, "max_attempts") == 0 && json_is_integer(v) &&
                   json_integer_value(v) >= 1 && json_integer_value(v) <= 100) {
            t->max_attempts = (int)json_integer_value(v);
        } else if (strcmp(key, "max_output") == 0 && json_is_integer(v) &&
                   json_integer_value(v) > 0) {
            t->max_output = json_integer_value(v);
        } else if (strcmp(key, "retry_backoff") == 0 && json_is_number(v) &&
                   json_number_value(v) >= 0 && json_number_value(v) <= 365.0 * 24 * 3600) {
            t->has_retry_backoff = true;
            t->retry_backoff = json_number_value(v);
        } else if (strcmp(key, "limits") == 0) {
            char bad[64], why[300];
            struct task_arg *args;
            size_t n;
            if (task_args_from_json(v, &args, &n) < 0) {
                snprintf(err, errlen, "task %s: out of memory", name);
                return -1;
            }
            int rc = tasks_parse_limits(args, n, &t->limits, bad, sizeof bad, why, sizeof why);
            free(args);
            if (rc < 0) {
                snprintf(err, errlen, "task %s: %s", name, why);
                return -1;
            }
        } else if (strcmp(key, "env") == 0 && json_is_object(v)) {
            const char *k;
            json_t *ev;
            json_object_foreach(v, k, ev)
            {
                if (!json_is_string(ev) || !k[0] || strchr(k, '=')) goto bad;
                char kv[4096];
                int n = snprintf(kv, sizeof kv, "%s=%s", k, json_string_value(ev));
                if (n < 0 || (size_t)n >= sizeof kv) goto bad;
                strblob_add(&t->env, kv, (size_t)n);
            }
        } else {
            goto bad;
        }
        continue;
    bad:
        snprintf(err, errlen,
                 "task %s: bad or unknown key '%s' (known: argv (non-empty array of strings), "
                 "queue (a queue name), cwd (absolute path), env (object of strings), priority "
                 "(integer, +-1e9), timeout (seconds > 0, at most a year), max_attempts "
                 "(1-100), max_output (bytes > 0), retry_backoff (seconds >= 0), limits (object))",
                 name, key);
        return -1;
    }
    if (!t->argv.len) {
        snprintf(err, errlen, "task %s needs an argv", name);
        return -1;
    }
    return 0;
}

int tasks_load(struct task_set *set, json_t *tasks, char *err, size_t errlen)
{
    memset(set, 0, sizeof *set);
    if (!json_is_object(tasks)) {
        snprintf(err, errlen, "\"tasks\" must be an object of named templates");
        return -1;
    }
    set->tasks = calloc(json_object_size(tasks) + 1, sizeof *set->tasks);
    if (!set->tasks) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *name;
    json_t *def;
    json_object_foreach(tasks, name, def)
    {
        if (load_one(&set->tasks[set->n++], name, def, err, errlen) < 0) return -1;
    }
    return 0;
}

const struct task_template *tasks_find(const struct task_set *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->tasks[i].name, name) == 0) return &set->tasks[i];
    return NULL;
}

/* The param called key (len bytes, not NUL-terminated) among the n in params, or NULL. */
static const struct task_arg *find_param(const struct task_arg *params, size_t n, const char *key,
                                         size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(params[i].key, key, len) == 0 && params[i].key[len] == '\0') return &params[i];
    return NULL;
}

int tasks_expand(const struct task_template *t, const struct task_arg *params, size_t n,
                 struct job_spec *spec, char *bad, size_t badlen, char *err, size_t errlen)
{
    for (size_t k = 0; k < n; k++) {
        const char *key = params[k].key;
        bool known = false;
        for (size_t i = 0; i < t->n_params; i++)
            known |= strcmp(t->params[i], key) == 0;
        if (!known) {
            snprintf(bad, badlen, "%s", key);
            snprintf(err, errlen, "task %s has no param '%.60s'", t->name, key);
            return -1;
        }
        if (params[k].kind == TASK_ARG_OTHER) {
            snprintf(bad, badlen, "%s", key);
            snprintf(err, errlen, "param '%.60s' must be a string or a number", key);
            return -1;
        }
    }
    for (size_t i = 0; i < t->n_params; i++)
        if (!find_param(params, n, t->params[i], strlen(t->params[i]))) {
            snprintf(bad, badlen, "%s", t->params[i]);
            snprintf(err, errlen, "task %s needs param '%s'", t->name, t->params[i]);
            return -1;
        }
    for (const char *a = strblob_next(&t->argv, NULL); a; a = strblob_next(&t->argv, a)) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        if (!f) return -1;
        const char *p = a, *slot, *name;
        size_t nlen;
        while ((slot = next_slot(p, &name, &nlen))) {
            fwrite(p, 1, (size_t)(slot - p), f);
            /* every slot is a param, and each was given (checked above) */
            const struct task_arg *pv = find_param(params, n, name, nlen);
            if (pv->kind == TASK_ARG_STRING)
                fwrite(pv->string, 1, pv->string_len, f);
            else if (pv->kind == TASK_ARG_INTEGER)
                fprintf(f, "%lld", (long long)pv->integer);
            else
                fprintf(f, "%.15g", pv->real);
            p = name + nlen + 1;
        }
        fputs(p, f);
        fclose(f);
        if (out && a == t->argv.data && len == 0) { /* the program itself came out empty */
            free(out);
            snprintf(bad, badlen, "%s", t->n_params ? t->params[0] : "");
            snprintf(err, errlen, "task %s: the program (argv[0]) would be empty", t->name);
            return -1;
        }
        int rc = out ? strblob_add(&spec->argv, out, len) : -1;
        free(out);
        if (rc < 0) return -1;
    }
    return 0;
}

void tasks_free(struct task_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        struct task_template *t = &set->tasks[i];
        free(t->name);
        free(t->argv.data);
        for (size_t k = 0; k < t->n_params; k++)
            free(t->params[k]);
        free(t->params);
        free(t->queue);
        free(t->cwd);
        free(t->env.data);
    }
    free(set->tasks);
    memset(set, 0, sizeof *set);
}
