/* schedules: `spawnpool schedules` (the list) and `spawnpool schedule
 * add|show|set|pause|resume|rm NAME`, over /v1/schedules. `schedule add` takes submit's options for
 * the job it makes. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *const header[] = {"NAME", "CRON",    "TIMEZONE", "NEXT RUN", "LAST JOB",
                                     "RUNS", "SKIPPED", "OVERLAP",  "PAUSED"};

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

/* One schedule's row. */
static void row(const struct cli *c, struct cli_table *t, json_t *s)
{
    char next[64] = "-", last[32] = "-";
    const char *at = json_string_value(json_object_get(s, "next_run_at"));
    if (at) cli_fmt_time(at, next, sizeof next);
    json_t *job = json_object_get(s, "last_job_id");
    if (json_is_integer(job))
        snprintf(last, sizeof last, "%lld", (long long)json_integer_value(job));
    bool paused = json_is_true(json_object_get(s, "paused"));
    cli_table_cell(t, NULL, "%s", str(s, "name"));
    cli_table_cell(t, NULL, "%s", str(s, "cron"));
    cli_table_cell(t, NULL, "%s", str(s, "timezone"));
    cli_table_cell(t, NULL, "%s", next);
    cli_table_cell(t, NULL, "%s", last);
    cli_table_cell(t, NULL, "%lld", (long long)json_integer_value(json_object_get(s, "runs")));
    cli_table_cell(t, NULL, "%lld", (long long)json_integer_value(json_object_get(s, "skipped")));
    cli_table_cell(t, NULL, "%s", str(s, "overlap"));
    cli_table_cell(t, paused ? cli_color(c, "queued") : NULL, "%s", paused ? "yes" : "no");
}

/* Prints an answer: its body with --json, else the schedules it holds as a table. */
static void print(const struct cli *c, const struct cli_resp *r)
{
    if (c->json) return cli_print_body(r);
    struct cli_table t;
    cli_table_init(&t, 9, header);
    json_t *list = json_object_get(r->json, "schedules");
    if (list) {
        size_t i;
        json_t *s;
        json_array_foreach(list, i, s) row(c, &t, s);
    } else {
        row(c, &t, r->json);
    }
    cli_table_print(c, &t);
}

int cli_cmd_schedules(struct cli *c, int argc, char **argv)
{
    int rc = cli_only_help("schedules", argc, argv, 0);
    if (rc) return rc < 0 ? CLI_OK : rc;
    struct cli_resp r;
    if ((rc = cli_call(c, "GET", "/v1/schedules", NULL, &r, "schedules"))) return rc;
    print(c, &r);
    cli_resp_free(&r);
    return CLI_OK;
}

/* The value of option argv[*i] (moved past it), or NULL (said) when there is none. */
static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_usage_error("schedule", "%s needs a value", argv[*i]);
        return NULL;
    }
    *i += 1;
    return argv[*i];
}

/* `schedule add NAME --cron EXPR [--timezone TZ] [--overlap O] [--paused] [--no-catch-up]
 * [submit options] -- CMD ARGS...`: the schedule's own options are taken out, the rest
 * describe its job as they would a submit. */
static int add(struct cli *c, int argc, char **argv)
{
    json_t *body = json_object();
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int n = 0, rc = CLI_OK;
    if (!body || !rest) rc = CLI_USAGE;
    if (!rc) rest[n++] = argv[0];
    for (int i = 2; i < argc && !rc; i++) { /* (argv: "add", NAME, ...) */
        const char *a = argv[i], *v = NULL, *key = NULL;
        if (strcmp(a, "--") == 0) {
            while (i < argc)
                rest[n++] = argv[i++];
            break;
        }
        if (strcmp(a, "--cron") == 0) key = "cron";
        if (strcmp(a, "--timezone") == 0 || strcmp(a, "--tz") == 0) key = "timezone";
        if (strcmp(a, "--overlap") == 0) key = "overlap";
        if (key) {
            if (!(v = value(argc, argv, &i)))
                rc = CLI_USAGE;
            else
                json_object_set_new(body, key, json_string(v));
        } else if (strcmp(a, "--paused") == 0) {
            json_object_set_new(body, "paused", json_true());
        } else if (strcmp(a, "--no-catch-up") == 0) {
            json_object_set_new(body, "catch_up", json_false());
        } else {
            rest[n++] = argv[i];
        }
    }
    json_t *job = NULL;
    if (!rc && !json_object_get(body, "cron"))
        rc = cli_usage_error("schedule", "add NAME needs --cron EXPR (e.g. '*/5 * * * *')");
    if (!rc) rc = cli_job_body(c, "schedule", n, rest, &job);
    free(rest);
    if (rc) {
        json_decref(body);
        return rc < 0 ? CLI_OK : rc;
    }
    json_object_set_new(body, "name", json_string(argv[1]));
    json_object_set_new(body, "job", job);
    struct cli_resp r;
    char what[200];
    snprintf(what, sizeof what, "schedule %s", argv[1]);
    rc = cli_call(c, "POST", "/v1/schedules", body, &r, what);
    json_decref(body);
    if (rc) return rc;
    print(c, &r);
    cli_resp_free(&r);
    return CLI_OK;
}

/* `schedule set NAME [--cron EXPR] [--tz TZ] [--overlap O] [--catch-up|--no-catch-up]`: a
 * PATCH of the fields given (argv: "set", NAME, ...); *body gets it. CLI_OK or CLI_USAGE. */
static int set_body(int argc, char **argv, json_t **body)
{
    *body = json_object();
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *key = NULL, *v;
        if (strcmp(a, "--cron") == 0) key = "cron";
        if (strcmp(a, "--timezone") == 0 || strcmp(a, "--tz") == 0) key = "timezone";
        if (strcmp(a, "--overlap") == 0) key = "overlap";
        if (key) {
            if (!(v = value(argc, argv, &i))) return CLI_USAGE;
            json_object_set_new(*body, key, json_string(v));
        } else if (strcmp(a, "--catch-up") == 0 || strcmp(a, "--no-catch-up") == 0) {
            json_object_set_new(*body, "catch_up", json_boolean(a[2] == 'c'));
        } else {
            return cli_usage_error("schedule", "set: unknown option '%s'", a);
        }
    }
    if (json_object_size(*body) == 0)
        return cli_usage_error("schedule",
                               "set what? --cron, --tz, --overlap, --catch-up or --no-catch-up");
    return CLI_OK;
}

int cli_cmd_schedule(struct cli *c, int argc, char **argv)
{
    const char *action = argc > 1 ? argv[1] : NULL;
    if (!action || strcmp(action, "--help") == 0 || strcmp(action, "-h") == 0) {
        if (action) return cli_help_page("schedule", stdout), CLI_OK;
        return cli_usage_error("schedule", "add, show, set, pause, resume or rm NAME");
    }
    if (argc < 3 || argv[2][0] == '-')
        return cli_usage_error("schedule", "%s which schedule? give its NAME", action);
    const char *name = argv[2];
    if (strcmp(action, "add") == 0) return add(c, argc - 1, argv + 1);
    json_t *body = NULL;
    bool set = strcmp(action, "set") == 0;
    if (set) {
        int rc = set_body(argc - 1, argv + 1, &body);
        if (rc) {
            json_decref(body);
            return rc;
        }
    } else if (argc > 3) {
        return cli_usage_error("schedule", "unexpected argument '%s'", argv[3]);
    }
    char *esc = cli_escape(name);
    char path[512], what[200];
    snprintf(path, sizeof path, "/v1/schedules/%s", esc ? esc : "");
    snprintf(what, sizeof what, "schedule %s", name);
    free(esc);
    const char *method = set ? "PATCH" : "GET";
    if (set) {
    } else if (strcmp(action, "pause") == 0 || strcmp(action, "resume") == 0) {
        method = "PATCH";
        body = json_pack("{s:b}", "paused", action[0] == 'p');
    } else if (strcmp(action, "rm") == 0) {
        method = "DELETE";
    } else if (strcmp(action, "show") != 0) {
        return cli_usage_error("schedule",
                               "unknown action '%s': add, show, set, pause, resume or rm", action);
    }
    struct cli_resp r;
    int rc = cli_call(c, method, path, body, &r, what);
    json_decref(body);
    if (rc) return rc;
    if (strcmp(action, "rm") == 0) {
        if (!c->json) printf("schedule %s: removed (the jobs it made stay)\n", name);
    } else if (strcmp(action, "show") == 0 && !c->json) {
        char *text = json_dumps(r.json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text) puts(text);
        free(text);
    } else {
        print(c, &r);
    }
    cli_resp_free(&r);
    return CLI_OK;
}
