/* tasks: job templates from the config file ("tasks"), the service's version of
 * multiprocessing's Process subclass: a named argv with {param} slots and defaults.
 * A param is substituted inside argv elements and never reaches a shell. */
#ifndef SPAWNPOOL_TASKS_H
#define SPAWNPOOL_TASKS_H

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
    int64_t max_output;         /* bytes kept per stream, 0: the server's (at most it) */
    bool has_retry_backoff;     /* retry_backoff is set (at most --retry-backoff-max) */
    double retry_backoff;       /* seconds before a job's first retry */
};

struct task_set {
    struct task_template *tasks;
    size_t n;
};

/* A template param or a limit as submitted: a member of a JSON object, handed to the server
 * without JSON (jansson stays out of server/'s headers; the API and the config reader convert). */
enum task_arg_kind { TASK_ARG_OTHER, TASK_ARG_STRING, TASK_ARG_INTEGER, TASK_ARG_REAL };
struct task_arg {
    const char *key;
    enum task_arg_kind kind; /* OTHER: neither a string nor a number (null, bool, array, ...) */
    const char *string;      /* STRING: its bytes (NULs allowed), string_len of them */
    size_t string_len;
    int64_t integer; /* INTEGER */
    double real;     /* REAL */
};

struct json_t; /* (jansson's, declared only: this header does not include jansson) */
/* The members of JSON object obj as task_args (pointing into obj; free *args) in *args, n of
 * them; *args NULL if obj is not an object. Returns 0, or -1 when out of memory. */
int task_args_from_json(struct json_t *obj, struct task_arg **args, size_t *n);
/* The template called name, or NULL. */
const struct task_template *tasks_find(const struct task_set *set, const char *name);
/* Fills spec->argv from t with the n params (the members of the submitted "params" object, in
 * its order; strings or numbers). Returns 0, or -1 with the offending param's name in bad
 * (missing, unknown or neither a string nor a number) and why in err. */
int tasks_expand(const struct task_template *t, const struct task_arg *params, size_t n,
                 struct job_spec *spec, char *bad, size_t badlen, char *err, size_t errlen);
/* Reads the n members of a "limits" object ({"nofile": 256, "memory": 1073741824, ...}:
 * integers in each limit's range, bytes for core, as and memory; cpu a number of CPUs, kept
 * in thousandths) into l; args NULL: the value
 * was not an object. Returns 0, or -1 with the offending key in bad ("" for the object itself)
 * and why in err. */
int tasks_parse_limits(const struct task_arg *args, size_t n, struct proto_limits *l, char *bad,
                       size_t badlen, char *err, size_t errlen);
/* Frees the set. */
void tasks_free(struct task_set *set);

#endif
