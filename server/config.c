/* config: one table of options; each is read from the file, then the environment, then
 * the command line, so the later source wins. */
#include "server/config_internal.h"
#include "server/db.h"
#include "server/log.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const struct option_def options[] = {
    {"listen", OPT_LISTEN, 0, 0, 0, "127.0.0.1:8080",
     "address to listen on; port 0 picks a free port"},
    {"data-dir", OPT_PATH, OFF(data_dir), 0, 0, "./spawnpool-data",
     "SQLite database and job output"},
    {"database", OPT_PATH, OFF(database), 0, 0, "DATA_DIR/spawnpool.db",
     "the store: a SQLite file, or postgresql://... (libpq URL; keep the password in PGPASSFILE "
     "or PGPASSWORD, not here)"},
    {"node", OPT_STRING, OFF(node), 0, 0, "the host name",
     "this node's name among those sharing a PostgreSQL database (unique; letters, digits, . _ "
     "- :)"},
    {"advertise-url", OPT_STRING, OFF(advertise_url), 0, 0, "http://LISTEN",
     "the URL GET /v1/nodes shows for this node"},
    {"node-timeout", OPT_SECONDS, OFF(node_timeout), 0, 0, "10",
     "PostgreSQL: a node whose lease is this old is declared dead and its jobs recovered; a node "
     "that cannot renew its own for half of it kills its jobs"},
    {"workers", OPT_INT, OFF(workers), 1, 1024, "CPUs", "size of the pre-forked pool"},
    {"config", OPT_PATH, OFF(config_file), 0, 0, "none",
     "JSON file with any of these settings (keys use _)"},
    {"max-queued", OPT_INT, OFF(max_queued), 1, 100000000, "100000",
     "queued jobs over this: 429 queue_full"},
    {"max-body", OPT_BYTES, OFF(max_body), 64, 8 << 20, "1M", "request bodies over this: 413"},
    {"max-output", OPT_BYTES, OFF(max_output), 0, INT64_MAX / 2, "10M",
     "bytes kept per stream and job; the rest is dropped"},
    {"max-batch", OPT_INT, OFF(max_batch), 1, 100000, "1000", "jobs in one array submit"},
    {"job-dir", OPT_PATH, OFF(job_dir), 0, 0, "the server's cwd",
     "working directory of jobs that give no cwd"},
    {"default-timeout", OPT_SECONDS, OFF(default_timeout), 0, 0, "0 (none)",
     "timeout of jobs (and templates) that give none; kept with each job at submit"},
    {"kill-grace", OPT_SECONDS, OFF(kill_grace), 0, 0, "10",
     "seconds from SIGTERM to SIGKILL on timeout, terminate and shutdown"},
    {"shutdown-grace", OPT_SECONDS, OFF(shutdown_grace), 0, 0, "30",
     "seconds running jobs get to finish on SIGTERM"},
    {"retry-backoff", OPT_SECONDS, OFF(retry_backoff), 0, 0, "1",
     "delay before a job's first retry; doubles each attempt"},
    {"retry-backoff-max", OPT_SECONDS, OFF(retry_backoff_max), 0, 0, "60",
     "longest delay between retries"},
    {"durability", OPT_STRING, OFF(durability), 0, 0, "normal",
     "normal: a commit survives a crash of the process; full: also a power failure (fsync per "
     "commit, slower)"},
    {"kill-mechanism", OPT_STRING, OFF(kill_mechanism), 0, 0, "auto",
     "how a job's whole tree is killed: auto, cgroup (v2 leaf + cgroup.kill) or pgroup (process "
     "group + subreaper)"},
    {"token-file", OPT_PATH, OFF(token_file), 0, 0, "none",
     "bearer tokens for /v1, one per line (several: rotation); made with a random token if "
     "missing"},
    {"notify-secret-file", OPT_PATH, OFF(notify_secret_file), 0, 0, "DATA_DIR/notify-secret",
     "key that signs notify_url callbacks (HMAC-SHA256); made with a random secret if missing"},
    {"insecure-no-auth", OPT_BOOL, OFF(insecure_no_auth), 0, 0, "false",
     "listen on a non-loopback address without a token (anyone who can connect runs commands)"},
    {"open-metrics", OPT_BOOL, OFF(open_metrics), 0, 0, "false", "serve /metrics without a token"},
    {"tls-cert", OPT_PATH, OFF(tls_cert), 0, 0, "none",
     "PEM certificate: serve HTTPS (with --tls-key)"},
    {"tls-key", OPT_PATH, OFF(tls_key), 0, 0, "none", "PEM private key of --tls-cert"},
    {"run-as", OPT_STRING, OFF(run_as), 0, 0, "the server's user",
     "USER[:GROUP]: jobs run as this user, supplementary groups cleared (start as root)"},
    {"http-threads", OPT_INT, OFF(http_threads), 1, 256, "CPUs (at least 2)",
     "threads answering HTTP"},
    {"max-connections", OPT_INT, OFF(max_connections), 4, 100000, "1024",
     "open HTTP connections at most"},
    {"max-connections-per-address", OPT_INT, OFF(max_conns_per_address), 0, 100000,
     "a quarter of max-connections", "open HTTP connections from one client address (0: no limit)"},
    {"head-timeout", OPT_SECONDS, OFF(head_timeout), 0, 0, "20",
     "seconds a client has to send a request's head (request line and headers); also how "
     "long an idle keep-alive connection is kept"},
    {"body-timeout", OPT_SECONDS, OFF(body_timeout), 0, 0, "60",
     "seconds a client has to send a request's body once its head is in"},
    {"allow-origin", OPT_ORIGINS, OFF(allow_origins), 0, 0, "none",
     "a browser origin (scheme://host[:port]) whose pages may call the API, besides the "
     "server's own; repeatable (environment and config: a comma-separated list or an array)"},
    {"allow-host", OPT_HOSTS, OFF(allow_hosts), 0, 0, "none",
     "a name clients reach the server by, accepted in the Host header besides the listen "
     "address (and localhost, 127.0.0.1 and [::1] on loopback); \"*\": any; repeatable"},
    {"max-long-polls", OPT_INT, OFF(max_long_polls), 1, 100000, "half of max-connections",
     "waits, output follows and event streams open at once (more: 429)"},
    {"log-format", OPT_STRING, OFF(log_format), 0, 0, "text",
     "text: `TIME LEVEL message`; json: one JSON object a line (time, level, msg and fields)"},
    {"log-level", OPT_STRING, OFF(log_level), 0, 0, "info",
     "the least level logged: debug, info, warn or error"},
    {"access-log", OPT_BOOL, OFF(access_log), 0, 0, "false",
     "log a line per HTTP request: method, path (no query string), status, bytes, microseconds"},
    {"stream-keepalive", OPT_SECONDS, OFF(stream_keepalive), 0, 0, "15",
     "seconds an event stream (/v1/events) may stay quiet before a `: keep-alive` comment line "
     "is sent, so proxies keep it open (0: never)"},
    {"retain", OPT_AGE, OFF(retain), 0, 3650 * 86400, "7d",
     "finished jobs older than this are deleted, with their events and output (s, m, h, d; "
     "0 or off: kept by age)"},
    {"retain-jobs", OPT_COUNT, OFF(retain_jobs), 1, 1000000000, "100000",
     "finished jobs kept at most; the oldest go first (0 or off: no limit)"},
    {"limit-nofile", OPT_LIMIT, 0, PROTO_LIMIT_NOFILE, 0, "inherited",
     "open files per job (RLIMIT_NOFILE); also the most a job may ask for"},
    {"limit-nproc", OPT_LIMIT, 0, PROTO_LIMIT_NPROC, 0, "inherited",
     "processes of the job's user (RLIMIT_NPROC; not enforced for root: see limit-pids)"},
    {"limit-core", OPT_LIMIT, 0, PROTO_LIMIT_CORE, 0, "inherited",
     "core dump size per job (RLIMIT_CORE), bytes"},
    {"limit-as", OPT_LIMIT, 0, PROTO_LIMIT_AS, 0, "inherited",
     "address space per process of a job (RLIMIT_AS), bytes"},
    {"limit-memory", OPT_LIMIT, 0, PROTO_LIMIT_MEMORY, 0, "none",
     "memory per job (cgroup memory.max; over it the kernel kills the job), bytes"},
    {"limit-pids", OPT_LIMIT, 0, PROTO_LIMIT_PIDS, 0, "none",
     "processes and threads per job (cgroup pids.max)"},
    {"limit-cpu", OPT_LIMIT, 0, PROTO_LIMIT_CPU, 0, "none",
     "CPUs per job, fractions allowed (cgroup cpu.max); also the most a job may ask for"},
};
#define NOPTIONS (sizeof options / sizeof options[0])

void config_usage(FILE *out)
{
    fprintf(out, "usage: spawnpool serve [--flag value]...\n"
                 "       spawnpool --help | --version\n\n"
                 "A process pool and job-dispatch service: submit, inspect, wait for and\n"
                 "terminate commands over HTTP (API: /v1/jobs). Every flag can also be set as\n"
                 "SPAWNPOOL_<FLAG> in the environment or as a key of the --config file.\n\n");
    int width = 0; /* the longest flag sets the column */
    for (size_t i = 0; i < NOPTIONS; i++)
        if ((int)strlen(options[i].flag) > width) width = (int)strlen(options[i].flag);
    for (size_t i = 0; i < NOPTIONS; i++) {
        char env[64];
        size_t j = 0;
        for (const char *c = options[i].flag; *c && j < sizeof env - 1; c++)
            env[j++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
        env[j] = '\0';
        fprintf(out, "  --%-*s %s (default %s; SPAWNPOOL_%s)\n", width, options[i].flag,
                options[i].help, options[i].def, env);
    }
}

const struct option_def *config_find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (strlen(options[i].flag) == len && strncmp(options[i].flag, name, len) == 0)
            return &options[i];
    return NULL;
}

static void env_name(const struct option_def *o, char *out, size_t n)
{
    size_t j = snprintf(out, n, "SPAWNPOOL_");
    for (const char *c = o->flag; *c && j < n - 1; c++)
        out[j++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
    out[j] = '\0';
}

/* Makes a path absolute against the current directory. */
static int absolutize(char *path, char *err, size_t errlen, const char *what)
{
    if (path[0] == '/') return 0;
    char cwd[PATH_MAX], joined[PATH_MAX * 2];
    if (!getcwd(cwd, sizeof cwd)) {
        snprintf(err, errlen, "getcwd() failed while resolving %s: %s", what, strerror(errno));
        return -1;
    }
    snprintf(joined, sizeof joined, "%s/%s", cwd, path);
    if (strlen(joined) >= PATH_MAX) {
        snprintf(err, errlen, "%s is too long", what);
        return -1;
    }
    strcpy(path, joined);
    return 0;
}

bool config_is_loopback(const char *host)
{
    return strcasecmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
           strcmp(host, "::1") == 0;
}

/* What SIGHUP applies while running (the HTTP front end's access policy, retention). */
static bool reloadable(const struct option_def *o)
{
    return o->offset == OFF(token_file) || o->offset == OFF(allow_origins) ||
           o->offset == OFF(allow_hosts) || o->offset == OFF(open_metrics) ||
           o->offset == OFF(retain) || o->offset == OFF(retain_jobs);
}

static void add_name(char *out, size_t outlen, const char *name)
{
    size_t used = strlen(out);
    snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", name);
}

void config_restart_changes(const struct config *old, const struct config *new, char *out,
                            size_t outlen)
{
    out[0] = '\0';
    for (size_t i = 0; i < NOPTIONS; i++) {
        if (reloadable(&options[i])) continue;
        char a[PATH_MAX + 64], b[PATH_MAX + 64];
        config_option_text(old, &options[i], a, sizeof a);
        config_option_text(new, &options[i], b, sizeof b);
        if (strcmp(a, b) != 0) add_name(out, outlen, options[i].flag);
    }
    bool tasks_same = old->tasks.n == new->tasks.n;
    for (size_t i = 0; tasks_same && i < old->tasks.n; i++)
        tasks_same = strcmp(old->tasks.tasks[i].name, new->tasks.tasks[i].name) == 0;
    if (!tasks_same) add_name(out, outlen, "tasks");
    if (old->n_queues != new->n_queues ||
        (old->n_queues &&
         memcmp(old->queues, new->queues, old->n_queues * sizeof *old->queues) != 0))
        add_name(out, outlen, "queues");
    if (old->allow_commands != new->allow_commands) add_name(out, outlen, "allow_commands");
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < cfg->n_tokens; i++)
        free(cfg->tokens[i]);
    free(cfg->tokens);
    cfg->tokens = NULL;
    cfg->n_tokens = 0;
    config_list_free(&cfg->allow_origins);
    config_list_free(&cfg->allow_hosts);
    if (cfg->notify_secret) explicit_bzero(cfg->notify_secret, strlen(cfg->notify_secret));
    free(cfg->notify_secret);
    cfg->notify_secret = NULL;
    tasks_free(&cfg->tasks);
    free(cfg->queues);
    cfg->queues = NULL;
    cfg->n_queues = 0;
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 8080;
    strcpy(cfg->data_dir, "spawnpool-data");
    strcpy(cfg->kill_mechanism, "auto");
    strcpy(cfg->durability, "normal");
    strcpy(cfg->log_format, "text");
    strcpy(cfg->log_level, "info");
    cfg->stream_keepalive = 15;
    cfg->node_timeout = 10;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->workers = cpus > 0 ? (int)cpus : 2;
    cfg->http_threads = cfg->workers < 2 ? 2 : cfg->workers;
    cfg->max_connections = 1024;
    cfg->max_queued = 100000;
    cfg->max_body = 1 << 20;
    cfg->max_output = 10 << 20;
    cfg->max_batch = 1000;
    cfg->shutdown_grace = 30;
    cfg->kill_grace = 10;
    cfg->retry_backoff = 1;
    cfg->retry_backoff_max = 60;
    cfg->allow_commands = true;
    cfg->head_timeout = 20;
    cfg->body_timeout = 60;
    cfg->max_conns_per_address = -1; /* a quarter of --max-connections unless set */
    cfg->retain = 7 * 86400;
    cfg->retain_jobs = 100000;
}

/* Loads cfg; a reload (SIGHUP) makes no missing file, so a token file absent for a moment
 * in a rotation fails the reload instead of replacing every token with a new one. */
static int load(struct config *cfg, int argc, char **argv, bool reload, char *err, size_t errlen)
{
    config_defaults(cfg);
    cfg->argc = argc;
    cfg->argv = argv;
    /* which file? a flag beats the environment */
    const char *file = getenv("SPAWNPOOL_CONFIG");
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
    }
    if (file && file[0]) {
        if (config_load_file(cfg, file, err, errlen) < 0) return -1;
        snprintf(cfg->config_file, sizeof cfg->config_file, "%s", file);
    }
    for (size_t i = 0; i < NOPTIONS; i++) {
        char name[64];
        env_name(&options[i], name, sizeof name);
        const char *v = getenv(name);
        if (v && v[0] && config_set_option(cfg, &options[i], v, LEVEL_ENV, name, err, errlen) < 0)
            return -1;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            config_usage(stdout);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (see spawnpool --help)", a);
            return -1;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const struct option_def *o = config_find_option(a + 2, len);
        if (!o) {
            snprintf(err, errlen, "unknown flag '%.*s' (see spawnpool --help)", (int)len + 2, a);
            return -1;
        }
        const char *value = eq                    ? eq + 1
                            : o->type == OPT_BOOL ? "true"
                                                  : (i + 1 < argc ? argv[++i] : NULL);
        if (!value) {
            snprintf(err, errlen, "flag --%s needs a value", o->flag);
            return -1;
        }
        if (config_set_option(cfg, o, value, LEVEL_COMMAND_LINE, "command line", err, errlen) < 0)
            return -1;
    }
    if (!cfg->job_dir[0] && !getcwd(cfg->job_dir, sizeof cfg->job_dir)) {
        snprintf(err, errlen, "getcwd() failed: %s", strerror(errno));
        return -1;
    }
    if (absolutize(cfg->data_dir, err, errlen, "--data-dir") < 0 ||
        absolutize(cfg->job_dir, err, errlen, "--job-dir") < 0)
        return -1;
    if (!cfg->node[0]) { /* the host name, cut to what a name may hold */
        char host[256] = "";
        gethostname(host, sizeof host - 1);
        size_t n =
            strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
        snprintf(cfg->node, sizeof cfg->node, "%.*s", (int)(n ? n : 4), n ? host : "node");
    }
    if (!cfg->database[0]) { /* the embedded default: a SQLite file in the data dir */
        if (strlen(cfg->data_dir) + sizeof "/spawnpool.db" > sizeof cfg->database) {
            snprintf(err, errlen, "--data-dir is too long");
            return -1;
        }
        snprintf(cfg->database, sizeof cfg->database, "%s/spawnpool.db", cfg->data_dir);
    } else if (!db_target_is_postgres(cfg->database) &&
               absolutize(cfg->database, err, errlen, "--database") < 0) {
        return -1;
    }
    if (!cfg->max_long_polls) cfg->max_long_polls = cfg->max_connections / 2;
    if (cfg->max_conns_per_address < 0) cfg->max_conns_per_address = cfg->max_connections / 4;
    if (cfg->run_as[0] && config_resolve_run_as(cfg, err, errlen) < 0) return -1;
    if (cfg->node_timeout < 3) { /* (the lease is renewed every second: a margin of two) */
        snprintf(err, errlen, "--node-timeout must be at least 3 seconds, got %g",
                 cfg->node_timeout);
        return -1;
    }
    if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
        snprintf(err, errlen, "--tls-cert and --tls-key go together");
        return -1;
    }
    if (!reload) { /* the log's settings hold from here (a reload would race the threads) */
        enum log_level least = LOG_LEVEL_INFO;
        log_level_parse(cfg->log_level, &least); /* (checked when it was set) */
        log_configure(least, strcmp(cfg->log_format, "json") == 0);
    }
    if (cfg->token_file[0] && config_load_tokens(cfg, !reload, err, errlen) < 0) return -1;
    if (!cfg->n_tokens && !cfg->insecure_no_auth && !config_is_loopback(cfg->listen_host)) {
        snprintf(err, errlen,
                 "refusing to listen on %s without a token: whoever can connect could run "
                 "commands here. Give --token-file FILE (made with a random token if missing), "
                 "or --insecure-no-auth if every client that can reach it may run commands",
                 cfg->listen_host);
        return -1;
    }
    return config_load_notify_secret(cfg, !reload, err,
                                     errlen); /* last: a refused setup makes no file */
}

int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    return load(cfg, argc, argv, false, err, errlen);
}

int config_reload(struct config *fresh, const struct config *running, char *err, size_t errlen)
{
    return load(fresh, running->argc, running->argv, true, err, errlen);
}
