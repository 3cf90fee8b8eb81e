/* jobs: the commands that read jobs: ls, show, wait, logs (kill, rm and rerun, which change
 * them, are in cli/job_changes.c). Each speaks one or two endpoints of the API. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sigabbrev_np, vasprintf */
#endif
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/cli.h"

/* The width of NAME/COMMAND in ls, in characters. */
#define LS_NAME_WIDTH 40
/* The most ids GET /v1/jobs/wait takes. */
#define WAIT_MAX_IDS 100
/* The longest long-poll the server holds (s). */
#define LONG_POLL_MAX 300.0

/* ---- helpers of this file -------------------------------------------------------------- */

/* Seconds of the monotonic clock. */
static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* How long the job ran (to now while it runs) into out; "-" before it started. */
static void job_duration(json_t *job, char *out, size_t n)
{
    double start = cli_time_parse(json_string_value(json_object_get(job, "started_at")));
    double end = cli_time_parse(json_string_value(json_object_get(job, "finished_at")));
    if (start < 0) {
        snprintf(out, n, "-");
        return;
    }
    if (end < 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        end = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    }
    cli_fmt_duration(end > start ? end - start : 0, out, n);
}

/* The job's end as one word: its exit code, the signal's name, or "-". */
static void job_exit(json_t *job, char *out, size_t n)
{
    json_t *code = json_object_get(job, "exit_code"), *sig = json_object_get(job, "signal");
    if (json_is_integer(sig))
        cli_signal_name((int)json_integer_value(sig), out, n);
    else if (json_is_integer(code))
        snprintf(out, n, "%lld", (long long)json_integer_value(code));
    else
        snprintf(out, n, "-");
}

/* s cut to at most max characters (UTF-8 kept whole), "…" at the end when cut; into out. */
static void cut_text(const char *s, size_t max, char *out, size_t n)
{
    if (cli_text_width(s) <= max) {
        snprintf(out, n, "%s", s);
        return;
    }
    size_t chars = 0, at = 0;
    for (; s[at]; at++) {
        if (((unsigned char)s[at] & 0xC0) != 0x80 && ++chars == max) break; /* room for … */
    }
    snprintf(out, n, "%.*s…", (int)at, s);
}

/* ---- ls -------------------------------------------------------------------------------- */

/* `spawnpool ls [filters] [--limit N] [--before ID]` (cli/ls_query.c reads them): the jobs,
 * newest first, as a table (--json: the API's page); a hint on stderr when there are more. */
int cli_cmd_ls(struct cli *c, int argc, char **argv)
{
    char path[4096];
    char again[2048]; /* (the paging hint repeats the filters) */
    int rc = cli_jobs_query("ls", argc, argv, path, sizeof path, again, sizeof again);
    if (rc) return rc < 0 ? CLI_OK : rc;
    struct cli_resp r;
    rc = cli_call(c, "GET", path, NULL, &r, "ls");
    if (rc) return rc;
    if (c->json) {
        cli_print_body(&r);
        cli_resp_free(&r);
        return CLI_OK;
    }
    static const char *const header[] = {"ID",      "STATE",    "NAME/COMMAND", "QUEUE",
                                         "STARTED", "DURATION", "EXIT"};
    struct cli_table t;
    cli_table_init(&t, 7, header);
    size_t i;
    json_t *job;
    json_array_foreach(json_object_get(r.json, "jobs"), i, job)
    {
        const char *state = json_string_value(json_object_get(job, "state"));
        const char *name = json_string_value(json_object_get(job, "name"));
        const char *queue = json_string_value(json_object_get(job, "queue"));
        char what[1024], cut[1100], started[32], dur[32], ex[32];
        if (name && *name)
            snprintf(what, sizeof what, "%s", name);
        else
            cli_fmt_command(job, what, sizeof what);
        cut_text(what, LS_NAME_WIDTH, cut, sizeof cut);
        cli_fmt_time(json_string_value(json_object_get(job, "started_at")), started,
                     sizeof started);
        job_duration(job, dur, sizeof dur);
        job_exit(job, ex, sizeof ex);
        cli_table_cell(&t, NULL, "%lld", (long long)json_integer_value(json_object_get(job, "id")));
        cli_table_cell(&t, cli_color(c, state), "%s", state ? state : "?");
        cli_table_cell(&t, NULL, "%s", cut);
        cli_table_cell(&t, NULL, "%s", queue ? queue : "-");
        cli_table_cell(&t, NULL, "%s", started);
        cli_table_cell(&t, NULL, "%s", dur);
        cli_table_cell(&t, NULL, "%s", ex);
    }
    cli_table_print(c, &t);
    json_t *next = json_object_get(r.json, "next_before");
    if (json_is_integer(next)) {
        fflush(stdout);
        fprintf(stderr, "(more jobs: spawnpool ls%s --before %lld)\n", again,
                (long long)json_integer_value(next));
    }
    cli_resp_free(&r);
    return CLI_OK;
}

/* ---- show ------------------------------------------------------------------------------ */

/* The fields show prints itself, in its order; the others follow as JSON. */
static const char *const shown[] = {
    "id",           "name",   "state",    "command", "argv",       "pipeline",   "task",
    "params",       "queue",  "priority", "cwd",     "env",        "timeout",    "attempt",
    "max_attempts", "node",   "worker",   "pid",     "created_at", "started_at", "finished_at",
    "exit_code",    "signal", "error",    "output",  NULL,
};

/* True for a field show prints in its own place. */
static bool is_shown(const char *key)
{
    for (int i = 0; shown[i]; i++)
        if (strcmp(shown[i], key) == 0) return true;
    return false;
}

/* A JSON value as text: a string as it is, null as "-", anything else compact JSON. */
static char *value_text(json_t *v)
{
    if (!v || json_is_null(v)) return strdup("-");
    if (json_is_string(v)) return strdup(json_string_value(v));
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    return s ? s : strdup("?");
}

/* One "key: value" line of show, the key padded to the widest. */
static void kv(const char *key, const char *color, const char *end, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void kv(const char *key, const char *color, const char *end, const char *fmt, ...)
{
    printf("%-13s %s", key, color ? color : "");
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    for (char *p = s; p && *p; p++)
        if (*p == '\n') *p = ' ';
    fputs(s ? s : "", stdout);
    printf("%s\n", color ? end : "");
    free(s);
}

/* The human page of one job. */
static void show_job(const struct cli *c, json_t *job)
{
    const char *state = json_string_value(json_object_get(job, "state"));
    char buf[4096], a[64], b[64];
    kv("id:", NULL, NULL, "%lld", (long long)json_integer_value(json_object_get(job, "id")));
    const char *name = json_string_value(json_object_get(job, "name"));
    if (name) kv("name:", NULL, NULL, "%s", name);
    kv("state:", cli_color(c, state), cli_color_end(c), "%s", state ? state : "?");
    cli_fmt_command(job, buf, sizeof buf);
    kv("command:", NULL, NULL, "%s", buf);
    static const char *const plain[] = {"queue", "priority", "cwd", NULL};
    for (int i = 0; plain[i]; i++) {
        char *v = value_text(json_object_get(job, plain[i]));
        snprintf(a, sizeof a, "%s:", plain[i]);
        kv(a, NULL, NULL, "%s", v ? v : "");
        free(v);
    }
    json_t *env = json_object_get(job, "env");
    if (json_object_size(env) == 0) {
        kv("env:", NULL, NULL, "-");
    } else {
        const char *k;
        json_t *v;
        bool first = true;
        json_object_foreach(env, k, v)
        {
            kv(first ? "env:" : "", NULL, NULL, "%s=%s", k, json_string_value(v));
            first = false;
        }
    }
    json_t *timeout = json_object_get(job, "timeout");
    if (json_is_number(timeout)) {
        cli_fmt_duration(json_number_value(timeout), a, sizeof a);
        kv("timeout:", NULL, NULL, "%s", a);
    } else {
        kv("timeout:", NULL, NULL, "-");
    }
    kv("attempt:", NULL, NULL, "%lld/%lld",
       (long long)json_integer_value(json_object_get(job, "attempt")),
       (long long)json_integer_value(json_object_get(job, "max_attempts")));
    /* the node that runs or ran it (several nodes on one PostgreSQL): none while it waits */
    const char *node = json_string_value(json_object_get(job, "node"));
    if (node) kv("node:", NULL, NULL, "%s", node);
    static const char *const ints[] = {"worker", "pid", NULL};
    for (int i = 0; ints[i]; i++) {
        char *v = value_text(json_object_get(job, ints[i]));
        snprintf(a, sizeof a, "%s:", ints[i]);
        kv(a, NULL, NULL, "%s", v ? v : "");
        free(v);
    }
    static const char *const times[][2] = {
        {"created_at", "created:"}, {"started_at", "started:"}, {"finished_at", "finished:"}};
    for (int i = 0; i < 3; i++) {
        const char *t = json_string_value(json_object_get(job, times[i][0]));
        kv(times[i][1], NULL, NULL, "%s", t ? t : "-");
    }
    job_duration(job, a, sizeof a);
    kv("duration:", NULL, NULL, "%s", a);
    json_t *code = json_object_get(job, "exit_code"), *sig = json_object_get(job, "signal");
    if (json_is_integer(code))
        kv("exit_code:", NULL, NULL, "%lld", (long long)json_integer_value(code));
    else
        kv("exit_code:", NULL, NULL, "-");
    if (json_is_integer(sig)) {
        cli_signal_name((int)json_integer_value(sig), a, sizeof a);
        kv("signal:", NULL, NULL, "%s (%lld)", a, (long long)json_integer_value(sig));
    } else {
        kv("signal:", NULL, NULL, "-");
    }
    const char *error = json_string_value(json_object_get(job, "error"));
    if (error) kv("error:", NULL, NULL, "%s", error);
    json_t *out = json_object_get(job, "output");
    if (out) {
        snprintf(a, sizeof a, "%lld bytes",
                 (long long)json_integer_value(json_object_get(out, "stdout_bytes")));
        snprintf(b, sizeof b, "%lld bytes",
                 (long long)json_integer_value(json_object_get(out, "stderr_bytes")));
        kv("stdout:", NULL, NULL, "%s", a);
        kv("stderr:", NULL, NULL, "%s", b);
        if (json_is_true(json_object_get(out, "truncated"))) kv("truncated:", NULL, NULL, "yes");
    }
    /* the optional fields, and any the API adds later, as they come */
    const char *k;
    json_t *v;
    json_object_foreach(job, k, v)
    {
        if (is_shown(k)) continue;
        if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0) ||
            (json_is_object(v) && json_object_size(v) == 0))
            continue; /* not set */
        char *s = value_text(v);
        snprintf(a, sizeof a, "%s:", k);
        kv(a, NULL, NULL, "%s", s ? s : "");
        free(s);
    }
}

/* `spawnpool show ID...`: each job as key: value lines (--json: its body). The first
 * error's status, after trying every id. */
int cli_cmd_show(struct cli *c, int argc, char **argv)
{
    int rc = cli_only_help("show", argc, argv, -1);
    if (rc) return rc < 0 ? CLI_OK : rc;
    long long *ids;
    size_t n;
    if ((rc = cli_parse_ids("show", argc, argv, optind, &ids, &n))) return rc;
    bool printed = false;
    for (size_t i = 0; i < n; i++) {
        char path[64], what[64];
        cli_job_path(path, sizeof path, ids[i], NULL);
        snprintf(what, sizeof what, "job %lld", ids[i]);
        struct cli_resp r;
        int one = cli_call(c, "GET", path, NULL, &r, what);
        cli_keep_worst(&rc, one);
        if (one) continue;
        if (c->json) {
            cli_print_body(&r);
        } else {
            if (printed) putchar('\n');
            show_job(c, r.json);
        }
        printed = true;
        fflush(stdout);
        cli_resp_free(&r);
    }
    free(ids);
    return rc;
}

/* ---- wait ------------------------------------------------------------------------------ */

enum { W_ANY = 256, W_TIMEOUT, W_HELP };

/* One line of wait's output: id, state, exit, duration; into the table. */
static void wait_row(const struct cli *c, struct cli_table *t, json_t *job)
{
    const char *state = json_string_value(json_object_get(job, "state"));
    char ex[32], dur[32];
    job_exit(job, ex, sizeof ex);
    job_duration(job, dur, sizeof dur);
    json_t *code = json_object_get(job, "exit_code");
    cli_table_cell(t, NULL, "job %lld", (long long)json_integer_value(json_object_get(job, "id")));
    cli_table_cell(t, cli_color(c, state), "%s", state ? state : "?");
    if (json_is_integer(json_object_get(job, "signal")) || !json_is_integer(code))
        cli_table_cell(t, NULL, "%s", ex);
    else
        cli_table_cell(t, NULL, "exit %s", ex);
    cli_table_cell(t, NULL, "%s", dur);
}

/* The server's long-poll for what remains until the deadline (< 0: none), as a query
 * value. */
static void poll_timeout(double deadline, char *out, size_t n)
{
    double left = deadline < 0 ? LONG_POLL_MAX : deadline - now_mono();
    if (left > LONG_POLL_MAX) left = LONG_POLL_MAX;
    if (left < 0) left = 0;
    snprintf(out, n, "%.3f", left);
}

/* `spawnpool wait ID... [--any] [--timeout S]`: long-polls until the jobs end; one id exits
 * as the job did, several 0/1, CLI_PENDING when --timeout ran out first. */
int cli_cmd_wait(struct cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"any", no_argument, NULL, W_ANY},
        {"timeout", required_argument, NULL, W_TIMEOUT},
        {"help", no_argument, NULL, W_HELP},
        {NULL, 0, NULL, 0},
    };
    bool any = false;
    double timeout = -1;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case W_ANY:
            any = true;
            break;
        case W_TIMEOUT:
            if (!cli_parse_seconds(optarg, &timeout))
                return cli_usage_error("wait", "--timeout wants seconds >= 0, got '%s'", optarg);
            break;
        case 'h':
        case W_HELP:
            cli_help_page("wait", stdout);
            return CLI_OK;
        default:
            return cli_bad_option("wait", argv, W_ANY, "");
        }
    }
    long long *ids;
    size_t n;
    int rc = cli_parse_ids("wait", argc, argv, optind, &ids, &n);
    if (rc) return rc;
    if (n > WAIT_MAX_IDS) {
        free(ids);
        return cli_usage_error("wait", "at most %d job ids at once, got %zu", WAIT_MAX_IDS, n);
    }
    double deadline = timeout < 0 ? -1 : now_mono() + timeout;
    /* the path without its timeout: /v1/jobs/ID/wait or /v1/jobs/wait?ids=..&mode=.. */
    size_t cap = 64 + n * 21;
    char *base = malloc(cap), *path = malloc(cap + 32);
    if (!base || !path) {
        free(ids), free(base), free(path);
        return CLI_RUN_ERROR;
    }
    if (n == 1) {
        cli_job_path(base, cap, ids[0], "/wait?");
    } else {
        size_t at = (size_t)snprintf(base, cap, "/v1/jobs/wait?mode=%s&ids=", any ? "any" : "all");
        for (size_t i = 0; i < n; i++)
            at += (size_t)snprintf(base + at, cap - at, "%s%lld", i ? "," : "", ids[i]);
        snprintf(base + at, cap - at, "&");
    }
    free(ids);
    struct cli_resp r;
    bool done = false;
    for (;;) {
        char t[32];
        poll_timeout(deadline, t, sizeof t);
        snprintf(path, cap + 32, "%stimeout=%s", base, t);
        if ((rc = cli_call(c, "GET", path, NULL, &r, "wait"))) break;
        done = n == 1 ? cli_job_ended(r.json) : json_is_true(json_object_get(r.json, "done"));
        if (done || (deadline >= 0 && now_mono() >= deadline)) break;
        cli_resp_free(&r);
    }
    free(base);
    free(path);
    if (rc) return rc;
    json_t *jobs = n == 1 ? json_pack("[O]", r.json) : json_incref(json_object_get(r.json, "jobs"));
    if (c->json) {
        cli_print_body(&r);
    } else {
        struct cli_table tab;
        cli_table_init(&tab, 4, NULL);
        size_t i;
        json_t *job;
        json_array_foreach(jobs, i, job) wait_row(c, &tab, job);
        cli_table_print(c, &tab);
    }
    if (!done) {
        rc = CLI_PENDING;
    } else if (n == 1) {
        rc = cli_job_status(r.json);
    } else {
        /* all: every one succeeded; any: one of those that ended did */
        bool ok_all = true, ok_any = false;
        size_t i;
        json_t *job;
        json_array_foreach(jobs, i, job)
        {
            if (!cli_job_ended(job)) continue;
            bool ok = cli_job_status(job) == CLI_OK;
            ok_all = ok_all && ok;
            ok_any = ok_any || ok;
        }
        rc = (any ? ok_any : ok_all) ? CLI_OK : CLI_FAILED;
    }
    json_decref(jobs);
    cli_resp_free(&r);
    return rc;
}

/* ---- logs ------------------------------------------------------------------------------ */

enum { G_FOLLOW = 256, G_STDERR, G_OFFSET, G_HELP };

struct output_get {
    CURL *h;
    long status;
    int write_errno;
    struct cli_resp err; /* an error answer's body */
};

/* Output bytes straight to fd 1 when the answer is 200; an error's body kept. */
static size_t on_output(char *data, size_t size, size_t nmemb, void *userp)
{
    struct output_get *g = userp;
    size_t n = size * nmemb;
    if (g->status == 0) curl_easy_getinfo(g->h, CURLINFO_RESPONSE_CODE, &g->status);
    if (g->status != 200) {
        return cli_resp_append(&g->err, data, n, 65536) ? n : 0;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(STDOUT_FILENO, data + off, n - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            g->write_errno = errno;
            return 0;
        }
        off += (size_t)w;
    }
    return n;
}

/* GET the output once, to fd 1 as it comes. The exit status (said). */
static int logs_once(struct cli *c, long long id, const char *stream, long long offset)
{
    struct output_get g = {0};
    if (!(g.h = cli_curl_new(c))) return CLI_RUN_ERROR;
    char url[1400], errbuf[CURL_ERROR_SIZE] = "", what[64];
    snprintf(url, sizeof url, "%s/v1/jobs/%lld/output?stream=%s&offset=%lld", c->server, id, stream,
             offset);
    struct curl_slist *headers = cli_auth_header(c);
    curl_easy_setopt(g.h, CURLOPT_URL, url);
    curl_easy_setopt(g.h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(g.h, CURLOPT_WRITEFUNCTION, on_output);
    curl_easy_setopt(g.h, CURLOPT_WRITEDATA, &g);
    curl_easy_setopt(g.h, CURLOPT_ERRORBUFFER, errbuf);
    if (c->verbose) fprintf(stderr, "> GET %s\n", url);
    CURLcode res = curl_easy_perform(g.h);
    if (g.status == 0) curl_easy_getinfo(g.h, CURLINFO_RESPONSE_CODE, &g.status);
    curl_easy_cleanup(g.h);
    curl_slist_free_all(headers);
    snprintf(what, sizeof what, "job %lld's %s", id, stream);
    int rc = CLI_OK;
    if (g.write_errno) {
        if (g.write_errno != EPIPE)
            fprintf(stderr, "spawnpool: writing %s: %s\n", what, strerror(g.write_errno));
        rc = CLI_FAILED;
    } else if (g.status != 200 && g.status != 0) { /* the API's error (JSON) */
        g.err.status = g.status;
        g.err.json = g.err.body ? json_loadb(g.err.body, g.err.len, 0, NULL) : NULL;
        rc = cli_check(c, &g.err, what);
        if (rc == CLI_OK) rc = CLI_SERVER_ERROR; /* (a 2xx other than 200: not output) */
    } else if (res != CURLE_OK) { /* no answer, or the transfer broke in the middle */
        g.err.status = 0;
        snprintf(g.err.error, sizeof g.err.error, "%s",
                 errbuf[0] ? errbuf : curl_easy_strerror(res));
        rc = cli_check(c, &g.err, what);
    }
    cli_resp_free(&g.err);
    return rc;
}

/* `spawnpool logs ID [-f] [--stderr] [--offset N]`: the captured output, byte for byte, to
 * stdout (-f: live until the job ends). */
int cli_cmd_logs(struct cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'},
        {"stderr", no_argument, NULL, G_STDERR},
        {"offset", required_argument, NULL, G_OFFSET},
        {"help", no_argument, NULL, G_HELP},
        {NULL, 0, NULL, 0},
    };
    bool follow = false, err = false;
    long long offset = 0;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            follow = true;
            break;
        case G_STDERR:
            err = true;
            break;
        case G_OFFSET: {
            char *end;
            errno = 0;
            offset = strtoll(optarg, &end, 10);
            if (errno || end == optarg || *end || offset < 0)
                return cli_usage_error("logs", "--offset wants bytes >= 0, got '%s'", optarg);
            break;
        }
        case 'h':
        case G_HELP:
            cli_help_page("logs", stdout);
            return CLI_OK;
        default:
            return cli_bad_option("logs", argv, G_FOLLOW, "");
        }
    }
    if (optind >= argc) return cli_usage_error("logs", "which job? give its id");
    if (optind + 1 < argc)
        return cli_usage_error("logs", "one job at a time, got '%s' too", argv[optind + 1]);
    long long id;
    if (!cli_parse_id("logs", argv[optind], &id)) return CLI_USAGE;
    fflush(stdout);
    /* the stream asked for goes to stdout, as without -f (`logs -f --stderr ID | grep`) */
    if (follow)
        return cli_follow(c, id, err ? -1 : STDOUT_FILENO, err ? STDOUT_FILENO : -1, offset, offset,
                          -1, NULL, NULL);
    return logs_once(c, id, err ? "stderr" : "stdout", offset);
}
