/* tasks: job templates from the config file ("tasks"), the service's version of
 * multiprocessing's Process subclass: a named argv with {param} slots and defaults.
 * A param is substituted inside argv elements and never reaches a shell. */
#ifndef SPAWNPOOL_TASKS_H
#define SPAWNPOOL_TASKS_H

#include <jansson.h>
#include <stddef.h>

#include "server/job.h"

struct task_template {
    char *name;
    struct strblob argv; /* with {param} slots */
    char **params;       /* the slot names, in order of first use */
    size_t n_params;
    char *queue; /* defaults; NULL / 0: the server's */
    int64_t priority;
    double timeout;
    int max_attempts;
    char *cwd;
    struct strblob env;
    struct proto_limits limits; /* may be above the server's defaults (the admin wrote it) */
};

struct task_set {
    struct task_template *tasks;
    size_t n;
};

/* Reads the config's "tasks" object into set. Returns 0, or -1 with a message in err. */
int tasks_load(struct task_set *set, json_t *tasks, char *err, size_t errlen);
/* The template called name, or NULL. */
const struct task_template *tasks_find(const struct task_set *set, const char *name);
/* Fills spec->argv from t with the params (a JSON object of strings or numbers). Returns 0,
 * or -1 with the offending param's name in bad (missing or unknown) and why in err. */
int tasks_expand(const struct task_template *t, json_t *params, struct job_spec *spec, char *bad,
                 size_t badlen, char *err, size_t errlen);
/* Reads a "limits" object ({"nofile": 256, "memory": 1073741824, ...}: integers in each
 * limit's range, bytes for core, as and memory) into l. Returns 0, or -1 with the offending
 * key in bad ("" for the object itself) and why in err. */
int tasks_parse_limits(json_t *v, struct proto_limits *l, char *bad, size_t badlen, char *err,
                       size_t errlen);
/* Frees the set. */
void tasks_free(struct task_set *set);

#endif
