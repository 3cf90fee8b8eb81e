/* job: the job record shared by the store, the dispatcher and the API, and its states. */
#ifndef SPAWNPOOL_JOB_H
#define SPAWNPOOL_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/proto.h"

enum job_state {
    JOB_QUEUED,
    JOB_RUNNING,
    JOB_SCHEDULED, /* waits for its run_at; becomes queued then (never ran yet) */
    JOB_SUCCEEDED,
    JOB_FAILED,
    JOB_TERMINATED,
    JOB_TIMED_OUT,
    JOB_CANCELED,
    JOB_LOST,
    JOB_STATE_COUNT
};

/* NUL-separated strings back to back ("a\0b\0"); how argv and env travel and are stored. */
struct strblob {
    char *data;
    size_t len;
};

/* What a submitter asks for: the input of POST /v1/jobs after validation. */
struct job_spec {
    char *name;  /* NULL: none */
    char *queue; /* never NULL */
    int64_t priority;
    struct strblob argv; /* at least one string */
    char *command;       /* set when submitted as "command" (argv is sh -c) */
    struct strblob env;  /* "K=V" strings */
    char *cwd;           /* absolute, existed at submit */
    char *stdin_data;
    size_t stdin_len;
    double timeout;   /* seconds, 0: none; the one that applies (default resolved at submit) */
    int max_attempts; /* >= 1 */
    int64_t *after;   /* jobs that must succeed first (Event / join of several) */
    size_t n_after;
    char *idempotency_key;         /* the same key within 24 h returns the first job; NULL: none */
    char *idempotency_fingerprint; /* SHA-256 (hex) of the request, for its key; NULL: none */
    int64_t stdin_from;            /* fed the finished stdout of this job (Pipe); 0: none */
    char *pipeline;   /* stages joined by pipes: "argc,argc,..." over argv; NULL: none */
    char *notify_url; /* POSTed the final job when it ends; NULL: none */
    char *group;      /* gang (Barrier): starts with its group_size members; NULL: none */
    int group_size;
    char *concurrency_key; /* at most concurrency_limit running jobs share it; NULL: none */
    int concurrency_limit;
    struct proto_limits limits; /* rlimits and cgroup limits (defaults, template, job) */
    char *task;                 /* the template it came from, NULL: none */
    char *params;               /* its params, as JSON text; NULL: none */
    int64_t rerun_of;           /* the job this one is a rerun of; 0: none */
    int64_t run_at;             /* wall ms: scheduled, not queued, until then; 0: none */
    char *schedule;             /* the schedule (/v1/schedules) that made it; NULL: none */
    int64_t max_output;         /* bytes kept per stream (<= --max-output); 0: the server's */
    bool has_retry_backoff;     /* false: the server's --retry-backoff applies (rows from before) */
    double retry_backoff;       /* seconds before its first retry (>= 0), doubling up to
                                 * --retry-backoff-max; resolved at submit */
};

/* A job as stored: the spec plus its life so far. Nullable integers use -1 for null. */
struct job {
    int64_t id;
    struct job_spec spec;
    enum job_state state;
    int exit_code; /* -1: null */
    int signal;    /* -1: null */
    char *error;   /* NULL: null */
    int64_t pid;   /* -1: null */
    int worker;    /* -1: null */
    int attempt;
    int64_t created_at, started_at, finished_at; /* wall ms, 0: null */
    int64_t stdout_bytes, stderr_bytes;
    bool truncated;
    int64_t user_us, system_us, maxrss_kb; /* the tree's CPU and peak memory (rusage of its
                                            * main process and what it waited for, or the cgroup
                                            * leaf's: usage_from); -1: unknown */
    int usage_from; /* PROTO_USAGE_* bits: the figures the cgroup leaf gave; -1: unknown */
    char *node;     /* the node that claimed it (its last attempt); NULL: none yet */
    int64_t epoch;  /* that node's lease epoch when it claimed it; 0: none */
};

/* The API name of a state ("queued", ...). */
const char *job_state_name(enum job_state s);
/* Parses a state name; returns 0, or -1 if unknown. */
int job_state_parse(const char *name, enum job_state *out);
/* Longest queue name. */
#define JOB_QUEUE_NAME_MAX 64
/* A queue name: 1 to JOB_QUEUE_NAME_MAX letters, digits, '-', '_' or '.'. */
bool job_queue_name_ok(const char *s);
/* The smallest and largest value a limit (enum proto_limit) may be set to. */
int64_t job_limit_min(int limit);
int64_t job_limit_max(int limit);
/* Whether a limit is a number of bytes (core, as, memory) rather than a count. */
bool job_limit_is_bytes(int limit);
/* The most CPUs a cpu limit may give, in thousandths (what PROTO_LIMIT_CPU holds). */
#define JOB_CPU_MAX (1024 * 1000)
/* A number of CPUs (0.5, 2) into thousandths, rounded; 0, or -1 outside 0.01..1024. */
int job_cpu_parse(double cores, int64_t *milli);
/* Thousandths of a CPU as the API writes them: "0.5", "2", "1.25". */
void job_cpu_format(int64_t milli, char *out, size_t n);
/* Writes the set limits as "nofile=256,memory=1048576" ("" for none). */
void job_limits_format(const struct proto_limits *l, char *out, size_t n);
/* Reads job_limits_format's text (NULL: none); returns 0, or -1 if malformed. */
int job_limits_scan(const char *text, struct proto_limits *l);
/* True for states a job never leaves. */
bool job_state_terminal(enum job_state s);
/* Frees everything a spec owns and zeroes it. */
void job_spec_free(struct job_spec *spec);
/* Frees everything a job owns and zeroes it. */
void job_free(struct job *job);
/* Appends one string to a blob; returns 0 or -1 on ENOMEM. */
int strblob_add(struct strblob *b, const char *s, size_t n);
/* Counts the strings in a blob. */
size_t strblob_count(const struct strblob *b);
/* Iterates: returns the string after prev (NULL: the first), or NULL at the end. */
const char *strblob_next(const struct strblob *b, const char *prev);

#endif
