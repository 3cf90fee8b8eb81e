/* cron_helpers: what the cron tests share: ISO times, loading zones, and CHECK_NEXT, which
 * compares a cron_next answer with an expected time and prints both when they differ. */
#ifndef SPAWNPOOL_TEST_CRON_HELPERS_H
#define SPAWNPOOL_TEST_CRON_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "server/calendar.h"
#include "server/cron.h"

/* "2026-03-08T07:00:00Z" (or "...T07:00Z") as UTC seconds; -1 for "none". */
static inline int64_t iso(const char *s)
{
    if (strcmp(s, "none") == 0) return -1;
    struct calendar_time t = {0};
    long long y;
    int n = sscanf(s, "%lld-%d-%dT%d:%d:%d", &y, &t.month, &t.day, &t.hour, &t.minute, &t.second);
    if (n < 5) abort();
    t.year = y;
    return calendar_join(&t);
}

static inline void format_utc(int64_t t, char out[32])
{
    if (t == -1) {
        snprintf(out, 32, "none");
        return;
    }
    struct calendar_time c;
    calendar_split(t, &c);
    snprintf(out, 32, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)c.year, c.month, c.day, c.hour,
             c.minute, c.second);
}

static inline struct tz *zone(const char *name)
{
    struct tz *z = NULL;
    char err[300];
    if (tz_load(name, &z, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return z;
}

static inline struct cron *parse(const char *expr)
{
    struct cron *c = NULL;
    char err[300] = "";
    if (cron_parse(expr, &c, err, sizeof err) < 0) {
        fprintf(stderr, "'%s' was refused: %s\n", expr, err);
        CHECK(0);
        return NULL;
    }
    return c;
}

/* Checks that the run after `after` of expr in zone is expected (both "...Z" UTC or "none"). */
#define CHECK_NEXT(expr, zone_name, after, expected)                                               \
    check_next(__LINE__, expr, zone_name, after, expected)
static inline void check_next(int line, const char *expr, const char *zone_name, const char *after,
                              const char *expected)
{
    struct cron *c = parse(expr);
    struct tz *z = zone(zone_name);
    int64_t got = c ? cron_next(c, z, iso(after)) : -2;
    check_count++;
    if (got != iso(expected)) {
        char g[32];
        format_utc(got, g);
        fprintf(stderr, "line %d: '%s' in %s after %s: got %s, expected %s\n", line, expr,
                zone_name, after, g, expected);
        check_failures++;
    }
    cron_free(c);
    tz_free(z);
}

#endif
