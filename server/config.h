/* config: the server's settings from flags, SPAWNPOOL_* environment variables and the
 * JSON config file (a flag beats the environment, which beats the file). */
#ifndef SPAWNPOOL_CONFIG_H
#define SPAWNPOOL_CONFIG_H

#include <limits.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "server/tasks.h"

/* A repeatable setting (--allow-origin a --allow-origin b). */
struct strlist {
    char **items;
    size_t n;
    int level; /* the source that set it (file 1, environment 2, command line 3): a later
                * source replaces the list, repeats within one source add to it */
};

struct config {
    char listen_host[256];   /* --listen host part */
    int listen_port;         /* 0: pick a free port */
    char data_dir[PATH_MAX]; /* absolute once loaded */
    char database[PATH_MAX]; /* a SQLite file (absolute once loaded) or a PostgreSQL URL */
    char node[64];           /* this node's name (--node; default the host name) */
    char advertise_url[256]; /* what GET /v1/nodes shows for it (default http://LISTEN) */
    double node_timeout;     /* seconds: an older lease is a dead node's */
    char job_dir[PATH_MAX];  /* default cwd of jobs, absolute */
    char config_file[PATH_MAX];
    char kill_mechanism[16]; /* auto, cgroup, pgroup */
    char durability[16];     /* normal (synchronous=NORMAL), full (synchronous=FULL) */
    int workers;
    int http_threads;
    int max_connections;
    int64_t max_queued;
    int64_t max_body;
    int64_t max_output;
    int64_t max_batch;      /* jobs in one array submit */
    int64_t max_long_polls; /* waits, output follows and event streams open at once */
    double shutdown_grace;  /* seconds running jobs get to finish on SIGTERM */
    double kill_grace;      /* seconds between the polite signal and SIGKILL */
    double default_timeout; /* seconds, 0: none; a job takes it at submit */
    double retry_backoff;   /* seconds before the first retry; doubles per attempt */
    double retry_backoff_max;
    double retain;         /* seconds a finished job is kept (--retain), 0: no age limit */
    int64_t retain_jobs;   /* finished jobs kept at most (--retain-jobs), 0: no limit */
    struct task_set tasks; /* templates from the config file's "tasks" */
    struct queue_decl {    /* queues declared in the config file's "queues" */
        char name[72];
        int concurrency; /* -1: no limit */
        bool paused;
    } * queues;
    size_t n_queues;
    bool allow_commands;       /* false: only templates run (argv/command get 403) */
    char token_file[PATH_MAX]; /* bearer tokens, one per line; "": no auth */
    char **tokens;             /* read from token_file (made if missing) */
    size_t n_tokens;
    char notify_secret_file[PATH_MAX]; /* HMAC key of notify_url callbacks; default in data_dir */
    char *notify_secret;               /* read from it (made if missing), trailing newline cut */
    bool insecure_no_auth;             /* allow a non-loopback listen without tokens */
    char run_as[128];                  /* USER[:GROUP] jobs run as; "": the server's own user */
    uid_t run_uid;                     /* resolved from run_as */
    gid_t run_gid;
    bool open_metrics;            /* /metrics without a token */
    char tls_cert[PATH_MAX];      /* PEM certificate (chain) for HTTPS; "": plain HTTP */
    char tls_key[PATH_MAX];       /* its PEM private key */
    struct proto_limits limits;   /* --limit-*: every job's, and the most a submit may ask */
    struct strlist allow_origins; /* browser origins let in besides the server's own,
                                   * normalised: lower case, no default port */
    struct strlist allow_hosts;   /* Host names accepted besides the listen address and, on
                                   * loopback, localhost/127.0.0.1/::1; "*": any */
    double head_timeout;          /* seconds to receive a request's head (and keep-alive idle) */
    double body_timeout;          /* seconds to receive a request's body once its head is in */
    int max_conns_per_address;    /* open connections from one client address; 0: no limit */
    char log_format[16];          /* text, json (one object a line) */
    char log_level[16];           /* debug, info, warn, error: the least level written */
    bool access_log;              /* a line per HTTP request (method, path, status, bytes, us) */
    double stream_keepalive;      /* seconds: an idle event stream gets a comment; 0: never */
    int argc;                     /* the words after "serve", kept to reload on SIGHUP */
    char **argv;
};

/* Fills cfg from defaults, the config file, the environment and argv (the words after
 * "serve"). Returns 0; 1 if --help was given (usage printed); -1 with a message in err. */
int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen);
/* Loads fresh the way running was loaded (its argv, the environment, the config file) for
 * SIGHUP; makes no missing token or secret file. 0, or -1 with a message in err. */
int config_reload(struct config *fresh, const struct config *running, char *err, size_t errlen);
/* Sets every setting to its built-in default (what config_load starts from). */
void config_defaults(struct config *cfg);
/* Applies a config file's JSON text over cfg; source names it in errors ("config file X").
 * Returns 0, or -1 with a message in err. */
int config_apply_text(struct config *cfg, const char *text, size_t len, const char *source,
                      char *err, size_t errlen);
/* Writes the names of the settings that differ between old and new and that only take
 * effect at a restart, comma-separated, into out ("" when none). */
void config_restart_changes(const struct config *old, const struct config *new, char *out,
                            size_t outlen);
/* True if host (a listen address) is a loopback one: localhost, 127.x.y.z, ::1. */
bool config_is_loopback(const char *host);
/* True if s is in the list (compared without regard to case). */
bool config_list_has(const struct strlist *l, const char *s);
/* Frees what config_load allocated (tokens, lists, task templates). */
void config_free(struct config *cfg);
/* Prints the flags, their environment variables and defaults. */
void config_usage(FILE *out);

#endif
