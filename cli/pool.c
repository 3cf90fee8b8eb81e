/* pool: the commands about the server rather than one job: queues, queue (pause, resume,
 * set), workers, nodes, tasks, events (the live stream of state changes) and health. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"

/* A JSON integer as text, "-" for anything else (null). */
static void int_or_dash(json_t *v, char *out, size_t n)
{
    if (json_is_integer(v))
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
    else
        snprintf(out, n, "-");
}

/* ---- queues, queue --------------------------------------------------------------------- */

static const char *const queue_header[] = {"NAME", "QUEUED", "RUNNING", "CONCURRENCY", "PAUSED"};

/* One queue's row. */
static void queue_row(struct cli_table *t, json_t *q)
{
    char conc[32];
    int_or_dash(json_object_get(q, "concurrency"), conc, sizeof conc);
    const char *name = json_string_value(json_object_get(q, "name"));
    cli_table_cell(t, NULL, "%s", name ? name : "?");
    cli_table_cell(t, NULL, "%lld", (long long)json_integer_value(json_object_get(q, "queued")));
    cli_table_cell(t, NULL, "%lld", (long long)json_integer_value(json_object_get(q, "running")));
    cli_table_cell(t, NULL, "%s", conc);
    cli_table_cell(t, NULL, "%s", json_is_true(json_object_get(q, "paused")) ? "yes" : "no");
}

/* `spawnpool queues`: the queues as a table (--json: the API's body). */
int cli_cmd_queues(struct cli *c, int argc, char **argv)
{
    int rc = cli_only_help("queues", argc, argv, 0);
    if (rc) return rc < 0 ? CLI_OK : rc;
    struct cli_resp r;
    if ((rc = cli_call(c, "GET", "/v1/queues", NULL, &r, "queues"))) return rc;
    if (c->json) {
        cli_print_body(&r);
    } else {
        struct cli_table t;
        cli_table_init(&t, 5, queue_header);
        size_t i;
        json_t *q;
        json_array_foreach(json_object_get(r.json, "queues"), i, q) queue_row(&t, q);
        cli_table_print(c, &t);
    }
    cli_resp_free(&r);
    return CLI_OK;
}

enum { Q_CONCURRENCY = 256, Q_PAUSED, Q_HELP };

/* `spawnpool queue pause|resume NAME`, `queue set NAME --concurrency N|none [--paused
 * true|false]`: PATCHes the queue and prints its new line (--json: its body). */
int cli_cmd_queue(struct cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"concurrency", required_argument, NULL, Q_CONCURRENCY},
        {"paused", required_argument, NULL, Q_PAUSED},
        {"help", no_argument, NULL, Q_HELP},
        {NULL, 0, NULL, 0},
    };
    json_t *body = json_object();
    optind = 1;
    opterr = 0;
    int opt, rc = CLI_OK;
    while (rc == CLI_OK && (opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case Q_CONCURRENCY: {
            char *end;
            errno = 0;
            long long n = strtoll(optarg, &end, 10);
            if (strcmp(optarg, "none") == 0)
                json_object_set_new(body, "concurrency", json_null());
            else if (!errno && end != optarg && !*end && n >= 0)
                json_object_set_new(body, "concurrency", json_integer(n));
            else
                rc = cli_usage_error("queue", "--concurrency wants a number or 'none', got '%s'",
                                     optarg);
            break;
        }
        case Q_PAUSED:
            if (strcmp(optarg, "true") == 0 || strcmp(optarg, "false") == 0)
                json_object_set_new(body, "paused", json_boolean(optarg[0] == 't'));
            else
                rc = cli_usage_error("queue", "--paused wants true or false, got '%s'", optarg);
            break;
        case 'h':
        case Q_HELP:
            cli_help_page("queue", stdout);
            json_decref(body);
            return CLI_OK;
        default:
            rc = optopt >= Q_CONCURRENCY
                     ? cli_usage_error("queue", "%s needs a value", argv[optind - 1])
                     : cli_usage_error("queue", "unknown option '%s'", argv[optind - 1]);
        }
    }
    const char *action = optind < argc ? argv[optind] : NULL;
    const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (rc) {
    } else if (!action || !name) {
        rc = cli_usage_error("queue", "pause NAME, resume NAME or set NAME --concurrency N|none");
    } else if (optind + 2 < argc) {
        rc = cli_usage_error("queue", "unexpected argument '%s'", argv[optind + 2]);
    } else if (strcmp(action, "pause") == 0 || strcmp(action, "resume") == 0) {
        if (json_object_size(body))
            rc = cli_usage_error("queue", "--concurrency and --paused go with 'queue set'");
        json_object_set_new(body, "paused", json_boolean(action[0] == 'p'));
    } else if (strcmp(action, "set") == 0) {
        if (!json_object_size(body))
            rc = cli_usage_error("queue", "set what? --concurrency N|none, --paused true|false");
    } else {
        rc = cli_usage_error("queue", "unknown action '%s': pause, resume or set", action);
    }
    if (rc) {
        json_decref(body);
        return rc;
    }
    char *esc = cli_escape(name);
    char path[1024], what[300];
    snprintf(path, sizeof path, "/v1/queues/%s", esc ? esc : "");
    snprintf(what, sizeof what, "queue %s", name);
    free(esc);
    struct cli_resp r;
    rc = cli_call(c, "PATCH", path, body, &r, what);
    json_decref(body);
    if (rc) return rc;
    if (c->json) {
        cli_print_body(&r);
    } else {
        struct cli_table t;
        cli_table_init(&t, 5, queue_header);
        queue_row(&t, r.json);
        cli_table_print(c, &t);
    }
    cli_resp_free(&r);
    return CLI_OK;
}

/* ---- workers --------------------------------------------------------------------------- */

/* `spawnpool workers`: the worker processes as a table (--json: the API's body). */
int cli_cmd_workers(struct cli *c, int argc, char **argv)
{
    int rc = cli_only_help("workers", argc, argv, 0);
    if (rc) return rc < 0 ? CLI_OK : rc;
    struct cli_resp r;
    if ((rc = cli_call(c, "GET", "/v1/workers", NULL, &r, "workers"))) return rc;
    if (c->json) {
        cli_print_body(&r);
    } else {
        static const char *const header[] = {"INDEX", "PID",       "STATE",
                                             "JOB",   "JOBS_DONE", "STARTED"};
        struct cli_table t;
        cli_table_init(&t, 6, header);
        size_t i;
        json_t *w;
        json_array_foreach(json_object_get(r.json, "workers"), i, w)
        {
            char pid[32], job[32], started[32];
            int_or_dash(json_object_get(w, "pid"), pid, sizeof pid);
            int_or_dash(json_object_get(w, "job"), job, sizeof job);
            cli_fmt_time(json_string_value(json_object_get(w, "started_at")), started,
                         sizeof started);
            const char *state = json_string_value(json_object_get(w, "state"));
            cli_table_cell(&t, NULL, "%lld",
                           (long long)json_integer_value(json_object_get(w, "index")));
            cli_table_cell(&t, NULL, "%s", pid);
            /* a busy worker in the colour of a running job; the others plain */
            cli_table_cell(&t, state && strcmp(state, "busy") == 0 ? cli_color(c, "running") : NULL,
                           "%s", state ? state : "?");
            cli_table_cell(&t, NULL, "%s", job);
            cli_table_cell(&t, NULL, "%lld",
                           (long long)json_integer_value(json_object_get(w, "jobs_done")));
            cli_table_cell(&t, NULL, "%s", started);
        }
        cli_table_print(c, &t);
    }
    cli_resp_free(&r);
    return CLI_OK;
}

/* ---- nodes ----------------------------------------------------------------------------- */

/* `spawnpool nodes`: the nodes sharing the server's store as a table, the one that answered
 * marked "(this)"; ALIVE is yes, no (its lease ran out) or dead (declared dead: its jobs were
 * recovered) (--json: the API's body). */
int cli_cmd_nodes(struct cli *c, int argc, char **argv)
{
    int rc = cli_only_help("nodes", argc, argv, 0);
    if (rc) return rc < 0 ? CLI_OK : rc;
    struct cli_resp r;
    if ((rc = cli_call(c, "GET", "/v1/nodes", NULL, &r, "nodes"))) return rc;
    if (c->json) {
        cli_print_body(&r);
    } else {
        static const char *const header[] = {"NAME", "ALIVE", "RUNNING", "HEARTBEAT", "URL"};
        struct cli_table t;
        cli_table_init(&t, 5, header);
        size_t i;
        json_t *n;
        json_array_foreach(json_object_get(r.json, "nodes"), i, n)
        {
            char heartbeat[32];
            cli_fmt_time(json_string_value(json_object_get(n, "heartbeat_at")), heartbeat,
                         sizeof heartbeat);
            const char *name = json_string_value(json_object_get(n, "name"));
            const char *url = json_string_value(json_object_get(n, "url"));
            bool alive = json_is_true(json_object_get(n, "alive"));
            bool dead = json_is_string(json_object_get(n, "dead_since"));
            cli_table_cell(&t, NULL, "%s%s", name ? name : "?",
                           json_is_true(json_object_get(n, "this")) ? " (this)" : "");
            cli_table_cell(&t, cli_color(c, alive ? "succeeded" : "failed"), "%s",
                           alive  ? "yes"
                           : dead ? "dead"
                                  : "no");
            cli_table_cell(&t, NULL, "%lld",
                           (long long)json_integer_value(json_object_get(n, "running")));
            cli_table_cell(&t, NULL, "%s", heartbeat);
            cli_table_cell(&t, NULL, "%s", url && *url ? url : "-");
        }
        cli_table_print(c, &t);
    }
    cli_resp_free(&r);
    return CLI_OK;
}

/* ---- tasks ----------------------------------------------------------------------------- */

/* `spawnpool tasks`: whether raw commands are allowed, then the task templates as a table
 * (--json: the API's body). */
int cli_cmd_tasks(struct cli *c, int argc, char **argv)
{
    int rc = cli_only_help("tasks", argc, argv, 0);
    if (rc) return rc < 0 ? CLI_OK : rc;
    struct cli_resp r;
    if ((rc = cli_call(c, "GET", "/v1/tasks", NULL, &r, "tasks"))) return rc;
    if (c->json) {
        cli_print_body(&r);
        cli_resp_free(&r);
        return CLI_OK;
    }
    printf(json_is_true(json_object_get(r.json, "allow_commands"))
               ? "raw commands: allowed (argv and command, besides these tasks)\n"
               : "raw commands: not allowed (these tasks only)\n");
    static const char *const header[] = {"NAME", "COMMAND", "PARAMS", "QUEUE", "TIMEOUT"};
    struct cli_table t;
    cli_table_init(&t, 5, header);
    size_t i, k;
    json_t *task, *p;
    json_array_foreach(json_object_get(r.json, "tasks"), i, task)
    {
        char cmd[2048], params[1024] = "", timeout[32] = "-";
        /* only its argv: a task has no command, task or pipeline of its own */
        json_t *argv_only = json_pack("{s:O}", "argv", json_object_get(task, "argv"));
        cli_fmt_command(argv_only, cmd, sizeof cmd);
        json_decref(argv_only);
        size_t at = 0;
        json_array_foreach(json_object_get(task, "params"), k, p)
        {
            const char *s = json_string_value(p);
            int w = snprintf(params + at, sizeof params - at, "%s%s", k ? "," : "", s ? s : "?");
            if (w > 0) at = at + (size_t)w < sizeof params ? at + (size_t)w : sizeof params - 1;
        }
        json_t *to = json_object_get(task, "timeout");
        if (json_is_number(to)) cli_fmt_duration(json_number_value(to), timeout, sizeof timeout);
        const char *name = json_string_value(json_object_get(task, "name"));
        const char *queue = json_string_value(json_object_get(task, "queue"));
        cli_table_cell(&t, NULL, "%s", name ? name : "?");
        cli_table_cell(&t, NULL, "%s", cmd);
        cli_table_cell(&t, NULL, "%s", at ? params : "-");
        cli_table_cell(&t, NULL, "%s", queue ? queue : "-");
        cli_table_cell(&t, NULL, "%s", timeout);
    }
    cli_table_print(c, &t);
    cli_resp_free(&r);
    return CLI_OK;
}

/* ---- events ---------------------------------------------------------------------------- */

enum { E_JOB = 256, E_QUEUE, E_SINCE, E_HELP };

struct sse {
    const struct cli *cli;
    CURL *h;
    long status;
    char *line; /* the line being read (no newline yet) */
    size_t len, cap;
    char *data; /* the data lines of the event being read, joined by newlines */
    size_t data_len;
    bool has_data;
    char event_id[32];   /* the event's id: line (what --since takes) */
    struct cli_resp err; /* an error answer's body */
    bool failed;         /* out of memory */
};

/* One event's data, printed: as it came (--json), or one human line. */
static void print_event(struct sse *s)
{
    if (s->cli->json) {
        fwrite(s->data, 1, s->data_len, stdout);
        putchar('\n');
        fflush(stdout);
        return;
    }
    json_t *e = json_loadb(s->data, s->data_len, 0, NULL);
    if (!e) {
        printf("%.*s\n", (int)s->data_len, s->data);
        fflush(stdout);
        return;
    }
    const struct cli *c = s->cli;
    char at[32];
    cli_fmt_time(json_string_value(json_object_get(e, "at")), at, sizeof at);
    const char *from = json_string_value(json_object_get(e, "from"));
    const char *to = json_string_value(json_object_get(e, "state"));
    const char *detail = json_string_value(json_object_get(e, "detail"));
    printf("%s  %s  job %lld  %s → %s%s%s%s%s\n", s->event_id[0] ? s->event_id : "-", at,
           (long long)json_integer_value(json_object_get(e, "id")), from ? from : "-",
           cli_color(c, to), to ? to : "?", to ? cli_color_end(c) : "", detail ? "  " : "",
           detail ? detail : "");
    fflush(stdout);
    json_decref(e);
}

/* One line of the stream (without its newline). */
static void sse_line(struct sse *s, const char *line, size_t n)
{
    if (n == 0) { /* the end of an event */
        if (s->has_data) print_event(s);
        s->data_len = 0;
        s->has_data = false;
        return;
    }
    if (line[0] == ':') return; /* a comment: keep-alive */
    if (n >= 5 && strncmp(line, "data:", 5) == 0) {
        size_t skip = n > 5 && line[5] == ' ' ? 6 : 5;
        size_t need = s->data_len + (n - skip) + 2;
        char *grown = realloc(s->data, need);
        if (!grown) {
            s->failed = true;
            return;
        }
        s->data = grown;
        if (s->has_data) s->data[s->data_len++] = '\n';
        memcpy(s->data + s->data_len, line + skip, n - skip);
        s->data_len += n - skip;
        s->has_data = true;
    }
    if (n > 3 && strncmp(line, "id:", 3) == 0) { /* kept for the line (and --since) */
        size_t skip = line[3] == ' ' ? 4 : 3;
        snprintf(s->event_id, sizeof s->event_id, "%.*s", (int)(n - skip), line + skip);
    }
    /* event: is always "state": the data carries all */
}

/* The stream's bytes, split into lines; an error answer's body kept instead. */
static size_t on_sse(char *data, size_t size, size_t nmemb, void *userp)
{
    struct sse *s = userp;
    size_t n = size * nmemb;
    if (s->status == 0) curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
    if (s->status != 200) {
        return cli_resp_append(&s->err, data, n, 65536) ? n : 0;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = data[i];
        if (ch == '\n') {
            size_t len = s->len;
            if (len && s->line[len - 1] == '\r') len--;
            sse_line(s, s->line ? s->line : "", len);
            s->len = 0;
            if (s->failed) return 0;
            continue;
        }
        if (s->len + 1 >= s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 1024;
            char *grown = realloc(s->line, cap);
            if (!grown) return 0;
            s->line = grown;
            s->cap = cap;
        }
        s->line[s->len++] = ch;
    }
    return n;
}

/* `spawnpool events [--job ID] [--queue Q] [--since EVENT_ID]`: the state changes as they
 * happen, one line each (--json: each event's data), until the stream ends or Ctrl-C. */
int cli_cmd_events(struct cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"job", required_argument, NULL, E_JOB},
        {"queue", required_argument, NULL, E_QUEUE},
        {"since", required_argument, NULL, E_SINCE},
        {"help", no_argument, NULL, E_HELP},
        {NULL, 0, NULL, 0},
    };
    long long job = 0, since = -1;
    const char *queue = NULL;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case E_JOB:
            if (!cli_parse_id("events", optarg, &job)) return CLI_USAGE;
            break;
        case E_QUEUE:
            queue = optarg;
            break;
        case E_SINCE: {
            char *end;
            errno = 0;
            since = strtoll(optarg, &end, 10);
            if (errno || end == optarg || *end || since < 0)
                return cli_usage_error("events", "--since wants an event id >= 0, got '%s'",
                                       optarg);
            break;
        }
        case 'h':
        case E_HELP:
            cli_help_page("events", stdout);
            return CLI_OK;
        default:
            return optopt >= E_JOB
                       ? cli_usage_error("events", "%s needs a value", argv[optind - 1])
                       : cli_usage_error("events", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("events", "unexpected argument '%s'", argv[optind]);
    char url[2400];
    int at = snprintf(url, sizeof url, "%s/v1/events", c->server);
    const char *sep = "?";
    if (job) {
        at += snprintf(url + at, sizeof url - (size_t)at, "%sjob=%lld", sep, job);
        sep = "&";
    }
    if (queue) {
        char *q = cli_escape(queue);
        at += snprintf(url + at, sizeof url - (size_t)at, "%squeue=%.1000s", sep, q ? q : "");
        free(q);
        sep = "&";
    }
    if (since >= 0) snprintf(url + at, sizeof url - (size_t)at, "%slast_event_id=%lld", sep, since);
    struct sse s = {.cli = c};
    if (!(s.h = cli_curl_new(c))) return CLI_RUN_ERROR;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = cli_auth_header(c);
    headers = curl_slist_append(headers, "Accept: text/event-stream");
    curl_easy_setopt(s.h, CURLOPT_URL, url);
    curl_easy_setopt(s.h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(s.h, CURLOPT_WRITEFUNCTION, on_sse);
    curl_easy_setopt(s.h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(s.h, CURLOPT_ERRORBUFFER, errbuf);
    /* the stream may be quiet for hours: no transfer timeout; TCP keep-alive (and the
     * server's keep-alive comments) find a peer that went away */
    curl_easy_setopt(s.h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->verbose) fprintf(stderr, "> GET %s\n", url);
    CURLcode res = curl_easy_perform(s.h);
    if (s.status == 0) curl_easy_getinfo(s.h, CURLINFO_RESPONSE_CODE, &s.status);
    curl_easy_cleanup(s.h);
    curl_slist_free_all(headers);
    int rc = CLI_OK;
    if (s.status != 200 && s.status != 0) { /* the API's error */
        s.err.status = s.status;
        s.err.json = s.err.body ? json_loadb(s.err.body, s.err.len, 0, NULL) : NULL;
        rc = cli_check(c, &s.err, "events");
        if (rc == CLI_OK) rc = CLI_SERVER_ERROR;
    } else if (res != CURLE_OK) { /* no answer, or the stream broke */
        snprintf(s.err.error, sizeof s.err.error, "%s",
                 errbuf[0] ? errbuf : curl_easy_strerror(res));
        rc = cli_check(c, &s.err, "events");
    }
    cli_resp_free(&s.err);
    free(s.line);
    free(s.data);
    return rc;
}

/* ---- health ---------------------------------------------------------------------------- */

/* `spawnpool health`: the server's /healthz in two lines (--json: its body); 0 when it is
 * 200 "ok", CLI_SERVER_ERROR for 503 or a draining server. */
int cli_cmd_health(struct cli *c, int argc, char **argv)
{
    int rc = cli_only_help("health", argc, argv, 0);
    if (rc) return rc < 0 ? CLI_OK : rc;
    struct cli_resp r;
    cli_request(c, "GET", "/healthz", NULL, &r);
    const char *status = json_string_value(json_object_get(r.json, "status"));
    /* 200 and 503 both carry the summary; anything else is an error of its own */
    if ((r.status != 200 && r.status != 503) || !status) {
        rc = cli_check(c, &r, "health");
        cli_resp_free(&r);
        return rc ? rc : CLI_SERVER_ERROR;
    }
    if (c->json) {
        cli_print_body(&r);
    } else {
        json_t *w = json_object_get(r.json, "workers"), *j = json_object_get(r.json, "jobs");
        const char *version = json_string_value(json_object_get(r.json, "version"));
        json_t *store = json_object_get(r.json, "store");
        const char *store_status = json_string_value(json_object_get(store, "status"));
        const char *store_error = json_string_value(json_object_get(store, "error"));
        bool ok = strcmp(status, "ok") == 0;
        printf("%s%s%s  spawnpool %s  (%s)\n", cli_color(c, ok ? "succeeded" : "failed"), status,
               cli_color_end(c), version ? version : "?", c->server);
        printf("workers %lld: %lld idle, %lld busy, %lld starting  jobs: %lld queued, %lld "
               "running, %lld scheduled  store: %s%s%s\n",
               (long long)json_integer_value(json_object_get(w, "total")),
               (long long)json_integer_value(json_object_get(w, "idle")),
               (long long)json_integer_value(json_object_get(w, "busy")),
               (long long)json_integer_value(json_object_get(w, "starting")),
               (long long)json_integer_value(json_object_get(j, "queued")),
               (long long)json_integer_value(json_object_get(j, "running")),
               (long long)json_integer_value(json_object_get(j, "scheduled")),
               store_status ? store_status : "?", store_error ? ": " : "",
               store_error ? store_error : "");
    }
    /* healthy is 200 and "ok": 503 (no_workers, store_degraded) and a server that drains
     * (200 "draining") are not */
    rc = r.status == 200 && strcmp(status, "ok") == 0 ? CLI_OK : CLI_SERVER_ERROR;
    cli_resp_free(&r);
    return rc;
}
