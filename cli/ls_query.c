/* ls_query: what `spawnpool ls` and `spawnpool clean` ask the server: their options as the
 * query of GET /v1/jobs (the filters, --limit, --before) or of DELETE /v1/jobs (the same
 * filters, --all), and ls's again for the hint to the next page. A time is RFC 3339 as the
 * API takes it, or a span ago (90s, 30m, 1h, 2d, 1w). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

enum {
    L_STATE = 256,
    L_QUEUE,
    L_NAME,
    L_RERUN_OF,
    L_SCHEDULE,
    L_CREATED_AFTER,
    L_CREATED_BEFORE,
    L_FINISHED_AFTER,
    L_LIMIT,
    L_BEFORE,
    L_ALL,
    L_HELP
};

/* Appends "&key=escaped value" (or "?key=..." first) to the query q. */
static void add_query(char *q, size_t n, const char *key, const char *value)
{
    char *v = cli_escape(value);
    size_t at = strlen(q);
    snprintf(q + at, n - at, "%s%s=%s", strchr(q, '?') ? "&" : "?", key, v ? v : "");
    free(v);
}

/* Appends " --flag 'value'" to the options the paging hint repeats. */
static void add_again(char *again, size_t n, const char *flag, const char *value)
{
    size_t at = strlen(again);
    snprintf(again + at, n - at, " --%s '%s'", flag, value);
}

bool cli_parse_span(const char *s, double *seconds)
{
    static const struct {
        char unit;
        double seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *s < '0' || *s > '9' || !end[0] || end[1] || !isfinite(v))
        return false;
    double span = -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (*end == units[i].unit) span = v * units[i].seconds;
    if (span < 0 || span > 1e11) return false;
    *seconds = span;
    return true;
}

bool cli_parse_time(const char *s, char *out, size_t n)
{
    /* an RFC 3339 time goes as it is: the server reads it and says what is wrong with it */
    if (strlen(s) >= 10 && s[4] == '-' && s[7] == '-') {
        snprintf(out, n, "%s", s);
        return strlen(s) < n;
    }
    double span;
    if (!cli_parse_span(s, &span)) return false;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - llround(span * 1000);
    long long secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) return false;
    size_t len = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    return len > 0 && (size_t)snprintf(out + len, n - len, ".%03lldZ", ms - secs * 1000) < n - len;
}

int cli_jobs_query(const char *cmd, int argc, char **argv, char *path, size_t n, char *again,
                   size_t again_n)
{
    static const struct option opts[] = {
        {"state", required_argument, NULL, L_STATE},
        {"queue", required_argument, NULL, L_QUEUE},
        {"name", required_argument, NULL, L_NAME},
        {"rerun-of", required_argument, NULL, L_RERUN_OF},
        {"schedule", required_argument, NULL, L_SCHEDULE},
        {"created-after", required_argument, NULL, L_CREATED_AFTER},
        {"created-before", required_argument, NULL, L_CREATED_BEFORE},
        {"finished-after", required_argument, NULL, L_FINISHED_AFTER},
        {"limit", required_argument, NULL, L_LIMIT},
        {"before", required_argument, NULL, L_BEFORE},
        {"all", no_argument, NULL, L_ALL},
        {"help", no_argument, NULL, L_HELP},
        {NULL, 0, NULL, 0},
    };
    bool clean = strcmp(cmd, "clean") == 0; /* --all, no --limit; ls: the other way round */
    snprintf(path, n, "/v1/jobs");
    again[0] = '\0';
    optind = 1;
    opterr = 0;
    int opt;
    long long id;
    char time[64];
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        const char *flag = opts[0].name, *key;
        for (const struct option *o = opts; o->name; o++)
            if (o->val == opt) flag = o->name;
        if ((opt == L_LIMIT && clean) || (opt == L_ALL && !clean))
            return cli_usage_error(cmd, "unknown option '--%s'", flag);
        switch (opt) {
        case L_STATE:
        case L_QUEUE:
        case L_NAME:
        case L_SCHEDULE:
            add_query(path, n, flag, optarg);
            add_again(again, again_n, flag, optarg);
            break;
        case L_RERUN_OF:
            if (!cli_parse_id(cmd, optarg, &id)) return CLI_USAGE;
            add_query(path, n, "rerun_of", optarg);
            add_again(again, again_n, flag, optarg);
            break;
        case L_CREATED_AFTER:
        case L_CREATED_BEFORE:
        case L_FINISHED_AFTER:
            if (!cli_parse_time(optarg, time, sizeof time))
                return cli_usage_error(cmd,
                                       "--%s wants an RFC 3339 time (2026-11-27T12:00:00Z) or a "
                                       "span ago (90s, 30m, 1h, 2d, 1w), got '%s'",
                                       flag, optarg);
            key = opt == L_CREATED_AFTER    ? "created_after"
                  : opt == L_CREATED_BEFORE ? "created_before"
                                            : "finished_after";
            add_query(path, n, key, time);
            add_again(again, again_n, flag, time); /* (the next page: the same bound) */
            break;
        case L_LIMIT: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < 1 || v > 1000)
                return cli_usage_error("ls", "--limit wants 1 to 1000, got '%s'", optarg);
            add_query(path, n, "limit", optarg);
            size_t at = strlen(again);
            snprintf(again + at, again_n - at, " --limit %ld", v);
            break;
        }
        case L_BEFORE:
            if (!cli_parse_id(cmd, optarg, &id)) return CLI_USAGE;
            add_query(path, n, "before", optarg);
            break;
        case L_ALL:
            add_query(path, n, "all", "1");
            break;
        case 'h':
        case L_HELP:
            cli_help_page(cmd, stdout);
            return -1;
        default:
            return cli_bad_option(cmd, argv, L_STATE, "");
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return CLI_OK;
}
