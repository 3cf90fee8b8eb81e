/* submit_opts: the options of `spawnpool run` and `spawnpool submit`, turned into the
 * submit body of POST /v1/jobs (the fields as the API names them). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum {
    O_NAME = 256,
    O_QUEUE,
    O_PRIORITY,
    O_TIMEOUT,
    O_ENV,
    O_CWD,
    O_AFTER,
    O_MAX_ATTEMPTS,
    O_KEY,
    O_KEY_LIMIT,
    O_GROUP,
    O_GROUP_SIZE,
    O_TASK,
    O_PARAM,
    O_STDIN_FILE,
    O_IDEMPOTENCY_KEY,
    O_SHELL,
    O_NOTIFY_URL,
    O_LIMIT,
    O_AT,
    O_DELAY,
    O_MAX_OUTPUT,
    O_RETRY_BACKOFF,
    O_CPU,
    O_DETACH,
    O_NO_STDIN,
    O_WAIT,
    O_QUIET,
    O_HELP,
};

static const struct option options[] = {
    {"name", required_argument, NULL, O_NAME},
    {"queue", required_argument, NULL, O_QUEUE},
    {"priority", required_argument, NULL, O_PRIORITY},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"env", required_argument, NULL, O_ENV},
    {"cwd", required_argument, NULL, O_CWD},
    {"after", required_argument, NULL, O_AFTER},
    {"max-attempts", required_argument, NULL, O_MAX_ATTEMPTS},
    {"key", required_argument, NULL, O_KEY},
    {"key-limit", required_argument, NULL, O_KEY_LIMIT},
    {"group", required_argument, NULL, O_GROUP},
    {"group-size", required_argument, NULL, O_GROUP_SIZE},
    {"task", required_argument, NULL, O_TASK},
    {"param", required_argument, NULL, O_PARAM},
    {"stdin-file", required_argument, NULL, O_STDIN_FILE},
    {"idempotency-key", required_argument, NULL, O_IDEMPOTENCY_KEY},
    {"shell", required_argument, NULL, O_SHELL},
    {"notify-url", required_argument, NULL, O_NOTIFY_URL},
    {"limit", required_argument, NULL, O_LIMIT},
    {"at", required_argument, NULL, O_AT},
    {"delay", required_argument, NULL, O_DELAY},
    {"max-output", required_argument, NULL, O_MAX_OUTPUT},
    {"retry-backoff", required_argument, NULL, O_RETRY_BACKOFF},
    {"cpu", required_argument, NULL, O_CPU},
    {"detach", no_argument, NULL, O_DETACH},
    {"no-stdin", no_argument, NULL, O_NO_STDIN},
    {"wait", no_argument, NULL, O_WAIT},
    {"quiet", no_argument, NULL, O_QUIET},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

bool cli_submit_takes_value(const char *arg)
{
    if (strncmp(arg, "--", 2) != 0 || strchr(arg, '=')) return false;
    for (const struct option *o = options; o->name; o++)
        if (strcmp(o->name, arg + 2) == 0) return o->has_arg == required_argument;
    return false;
}

/* The options that set one string field of the submit body as they are. */
static const char *string_field(int opt)
{
    switch (opt) {
    case O_NAME:
        return "name";
    case O_QUEUE:
        return "queue";
    case O_KEY:
        return "concurrency_key";
    case O_GROUP:
        return "group";
    case O_TASK:
        return "task";
    case O_IDEMPOTENCY_KEY:
        return "idempotency_key";
    case O_SHELL:
        return "command";
    case O_NOTIFY_URL:
        return "notify_url";
    default:
        return NULL;
    }
}

/* The long name of option id opt. */
static const char *opt_name(int opt)
{
    for (const struct option *o = options; o->name; o++)
        if (o->val == opt) return o->name;
    return "?";
}

/* The options that set one integer field, and the range the API takes. */
struct int_field {
    int opt;
    const char *key;
    long long lo, hi;
};

static const struct int_field *int_field(int opt)
{
    static const struct int_field fields[] = {
        {O_PRIORITY, "priority", INT_MIN, INT_MAX},
        {O_MAX_ATTEMPTS, "max_attempts", 1, 100},
        {O_KEY_LIMIT, "concurrency_limit", 1, 10000},
        {O_GROUP_SIZE, "group_size", 1, INT_MAX},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].opt == opt) return &fields[i];
    return NULL;
}

static bool parse_long(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* A size in bytes with an optional K, M or G suffix (binary), as the server's flags take. */
static bool parse_bytes(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
    if (shift) end++;
    if (errno || end == s || *end || v < 1 || v > (LLONG_MAX >> shift)) return false;
    *out = v << shift;
    return true;
}

/* A number of s (seconds, CPUs) in [lo, hi]; lo excluded if open. */
static bool parse_number(const char *s, double lo, bool open, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v < lo || (open && v == lo) || v > hi) return false;
    *out = v;
    return true;
}

/* KEY=VALUE into obj[KEY] (a string); false if there is no '=' or the key is empty. */
static bool set_pair(json_t *obj, const char *kv, bool as_number)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return false;
    char key[256];
    size_t n = (size_t)(eq - kv);
    if (n >= sizeof key) return false;
    memcpy(key, kv, n);
    key[n] = '\0';
    json_t *v;
    if (as_number) {
        long long x;
        if (!parse_long(eq + 1, 0, LLONG_MAX, &x)) return false;
        v = json_integer(x);
    } else {
        v = json_string(eq + 1);
    }
    return v && json_object_set_new(obj, key, v) == 0;
}

/* job[key] = the string s; false if s is not UTF-8 (JSON cannot carry it). */
static bool set_str(json_t *job, const char *key, const char *s)
{
    json_t *v = json_string(s);
    return v && json_object_set_new(job, key, v) == 0;
}

/* The object at job[key], made when missing. */
static json_t *sub_object(json_t *job, const char *key)
{
    json_t *o = json_object_get(job, key);
    if (!o) {
        o = json_object();
        json_object_set_new(job, key, o);
    }
    return o;
}

/* limits.cpu, the one limit that is not an integer: a number of CPUs > 0. */
static bool set_cpu(json_t *job, const char *a)
{
    double cpus;
    return parse_number(a, 0, true, 1024, &cpus) &&
           json_object_set_new(sub_object(job, "limits"), "cpu", json_real(cpus)) == 0;
}

static int cpu_error(const char *cmd, const char *a)
{
    return cli_usage_error(cmd, "--cpu wants a number of CPUs > 0 (0.5, 2), got '%s'", a), -1;
}

int cli_submit_parse(const char *cmd, int argc, char **argv, struct submit_opts *o)
{
    o->job = json_object();
    optind = 1;
    opterr = 0;
    int opt;
    long long n;
    /* "+": options stop at the first word of the command (`spawnpool run ls -l` works) */
    while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        const char *a = optarg;
        const char *key = string_field(opt);
        if (key) {
            if (!set_str(o->job, key, a))
                return cli_usage_error(cmd, "--%s is not UTF-8", opt_name(opt)), -1;
            continue;
        }
        const struct int_field *f = int_field(opt);
        if (f) {
            if (!parse_long(a, f->lo, f->hi, &n))
                return cli_usage_error(cmd, "--%s wants an integer from %lld to %lld, got '%s'",
                                       opt_name(opt), f->lo, f->hi, a),
                       -1;
            json_object_set_new(o->job, f->key, json_integer(n));
            continue;
        }
        switch (opt) {
        case O_TIMEOUT: {
            char *end;
            double t = strtod(a, &end);
            if (end == a || *end || !(t > 0) || !isfinite(t))
                return cli_usage_error(cmd, "--timeout wants seconds > 0, got '%s'", a), -1;
            json_object_set_new(o->job, "timeout", json_real(t));
            break;
        }
        case O_AT: /* RFC 3339: the server checks it and says what it wants */
            json_object_set_new(o->job, "run_at", json_string(a));
            break;
        case O_DELAY: {
            char *end;
            double t = strtod(a, &end); /* seconds, or a span: 90s, 30m, 1.5h, 2d */
            bool plain = end != a && !*end && t >= 0 && isfinite(t);
            if (!plain && !cli_parse_span(a, &t))
                return cli_usage_error(
                           cmd, "--delay wants seconds >= 0 or a span (90s, 30m, 1h, 2d), got '%s'",
                           a),
                       -1;
            json_object_set_new(o->job, "delay", json_real(t));
            break;
        }
        case O_ENV:
            if (!set_pair(sub_object(o->job, "env"), a, false))
                return cli_usage_error(cmd, "--env wants NAME=VALUE, got '%s'", a), -1;
            break;
        case O_CWD:
            o->cwd = a;
            break;
        case O_AFTER: {
            json_t *after = json_object_get(o->job, "after");
            if (!after) json_object_set_new(o->job, "after", after = json_array());
            /* --after 3 --after 4, or --after 3,4 */
            char *copy = strdup(a), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (!parse_long(t, 1, LLONG_MAX, &n)) {
                    free(copy);
                    return cli_usage_error(cmd, "--after wants job ids, got '%s'", a), -1;
                }
                json_array_append_new(after, json_integer(n));
            }
            free(copy);
            break;
        }
        case O_PARAM:
            if (!set_pair(sub_object(o->job, "params"), a, false))
                return cli_usage_error(cmd, "--param wants NAME=VALUE, got '%s'", a), -1;
            break;
        case O_STDIN_FILE:
            o->stdin_file = a;
            break;
        case O_LIMIT:
            if (strncmp(a, "cpu=", 4) == 0) { /* --limit cpu=0.5 is --cpu 0.5 */
                if (!set_cpu(o->job, a + 4)) return cpu_error(cmd, a + 4);
                break;
            }
            if (!set_pair(sub_object(o->job, "limits"), a, true))
                return cli_usage_error(cmd,
                                       "--limit wants NAME=INTEGER (nofile, nproc, core, as, "
                                       "memory, pids) or cpu=CPUS, got '%s'",
                                       a),
                       -1;
            break;
        case O_MAX_OUTPUT:
            if (!parse_bytes(a, &n))
                return cli_usage_error(
                           cmd, "--max-output wants bytes > 0 (K, M, G allowed), got '%s'", a),
                       -1;
            json_object_set_new(o->job, "max_output", json_integer(n));
            break;
        case O_RETRY_BACKOFF: {
            double s;
            if (!parse_number(a, 0, false, 31536000, &s))
                return cli_usage_error(cmd, "--retry-backoff wants seconds >= 0, got '%s'", a), -1;
            json_object_set_new(o->job, "retry_backoff", json_real(s));
            break;
        }
        case O_CPU:
            if (!set_cpu(o->job, a)) return cpu_error(cmd, a);
            break;
        case O_DETACH:
            o->detach = true;
            break;
        case O_NO_STDIN:
            o->no_stdin = true;
            break;
        case O_WAIT:
            o->wait = true;
            break;
        case O_QUIET:
            o->quiet = true;
            break;
        case 'h':
        case O_HELP:
            o->help = true;
            return argc;
        default:
            if (optopt >= O_NAME)
                return cli_usage_error(cmd, "%s needs a value", argv[optind - 1]), -1;
            return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]), -1;
        }
    }
    int first = optind;
    if (first < argc && strcmp(argv[first - 1], "--") != 0 && strcmp(argv[first], "--") == 0)
        first++;
    bool has_cmd = first < argc;
    int kinds = has_cmd + (json_object_get(o->job, "command") != NULL) +
                (json_object_get(o->job, "task") != NULL);
    if (kinds == 0)
        return cli_usage_error(cmd, "what to run? -- CMD ARGS..., --shell 'CMD' or --task NAME"),
               -1;
    if (kinds > 1)
        return cli_usage_error(cmd, "give one of -- CMD ARGS..., --shell 'CMD' and --task NAME"),
               -1;
    if (json_object_get(o->job, "params") && !json_object_get(o->job, "task"))
        return cli_usage_error(cmd, "--param goes with --task"), -1;
    if (has_cmd) {
        json_t *words = json_array();
        for (int i = first; i < argc; i++) {
            json_t *w = json_string(argv[i]);
            if (!w) return cli_usage_error(cmd, "argument '%s' is not UTF-8", argv[i]), -1;
            json_array_append_new(words, w);
        }
        json_object_set_new(o->job, "argv", words);
    }
    return first;
}
