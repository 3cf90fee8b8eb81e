/* Unit tests for server/cron in time zones: the DST rule (the top of server/cron.c) on the
 * 2026 changes of America/New_York and Europe/Berlin, for a wall-clock and a fixed job on
 * both sides of each; Pacific/Chatham (+12:45/+13:45) and Asia/Kolkata (+5:30); changes past
 * 2037 (the TZif footer's rule); and cron_next against a minute-by-minute simulation of
 * cronie's daemon around every change of several zones over several years. */
#include "check.h"
#include "cron_helpers.h"

/* America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT at 07:00Z; 2026-11-01 02:00 EDT ->
 * 01:00 EST at 06:00Z. */
static void test_new_york(void)
{
    const char *ny = "America/New_York";
    /* spring forward, wall-clock jobs: 02:xx does not exist and does not run */
    CHECK_NEXT("*/15 * * * *", ny, "2026-03-08T06:30:00Z", "2026-03-08T06:45:00Z"); /* 01:45 */
    CHECK_NEXT("*/15 * * * *", ny, "2026-03-08T06:45:00Z", "2026-03-08T07:00:00Z"); /* 03:00 */
    CHECK_NEXT("30 * * * *", ny, "2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z");   /* 03:30 */
    CHECK_NEXT("* 2 * * *", ny, "2026-03-08T06:00:00Z", "2026-03-09T06:00:00Z");    /* no 02:xx */
    /* spring forward, fixed jobs: 02:30 runs once, at the change (03:00 EDT) */
    CHECK_NEXT("30 2 * * *", ny, "2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z");
    CHECK_NEXT("30 2 * * *", ny, "2026-03-08T06:59:59Z", "2026-03-08T07:00:00Z");
    CHECK_NEXT("30 2 * * *", ny, "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z");
    CHECK_NEXT("0,30 2 * * *", ny, "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"); /* once */
    CHECK_NEXT("0,30 2 * * *", ny, "2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z");
    CHECK_NEXT("0 3 * * *", ny, "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z");
    CHECK_NEXT("0 3 * * *", ny, "2026-03-08T07:00:00Z", "2026-03-09T07:00:00Z");
    CHECK_NEXT("59 1 * * *", ny, "2026-03-08T00:00:00Z", "2026-03-08T06:59:00Z"); /* before */
    CHECK_NEXT("1 3 * * *", ny, "2026-03-08T06:59:00Z", "2026-03-08T07:01:00Z");  /* after */
    CHECK_NEXT("30 2 8 3 *", ny, "2026-03-01T00:00:00Z", "2026-03-08T07:00:00Z"); /* that day */

    /* fall back, wall-clock jobs: 01:xx runs in both passes */
    CHECK_NEXT("5 * * * *", ny, "2026-11-01T04:30:00Z", "2026-11-01T05:05:00Z"); /* 01:05 EDT */
    CHECK_NEXT("5 * * * *", ny, "2026-11-01T05:05:00Z", "2026-11-01T06:05:00Z"); /* 01:05 EST */
    CHECK_NEXT("5 * * * *", ny, "2026-11-01T06:05:00Z", "2026-11-01T07:05:00Z"); /* 02:05 EST */
    CHECK_NEXT("*/30 1 * * *", ny, "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z");
    CHECK_NEXT("*/30 1 * * *", ny, "2026-11-01T06:30:00Z", "2026-11-02T06:00:00Z");
    CHECK_NEXT("*/15 * * * *", ny, "2026-11-01T05:50:00Z", "2026-11-01T06:00:00Z");
    /* fall back, fixed jobs: 01:30 runs in the first pass only */
    CHECK_NEXT("30 1 * * *", ny, "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"); /* EDT */
    CHECK_NEXT("30 1 * * *", ny, "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"); /* not EST */
    CHECK_NEXT("30 1 * * *", ny, "2026-11-01T06:10:00Z", "2026-11-02T06:30:00Z");
    CHECK_NEXT("0 2 * * *", ny, "2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z");  /* 02:00 EST */
    CHECK_NEXT("59 0 * * *", ny, "2026-10-31T12:00:00Z", "2026-11-01T04:59:00Z"); /* before */
    CHECK_NEXT("@daily", ny, "2026-10-31T12:00:00Z", "2026-11-01T04:00:00Z");
    CHECK_NEXT("@daily", ny, "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z");
}

/* Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST at 01:00Z; 2026-10-25 03:00 CEST ->
 * 02:00 CET at 01:00Z. */
static void test_berlin(void)
{
    const char *be = "Europe/Berlin";
    CHECK_NEXT("5 * * * *", be, "2026-03-29T00:00:00Z", "2026-03-29T00:05:00Z"); /* 01:05 CET */
    CHECK_NEXT("5 * * * *", be, "2026-03-29T00:05:00Z", "2026-03-29T01:05:00Z"); /* 03:05 */
    CHECK_NEXT("*/20 * * * *", be, "2026-03-29T00:40:00Z", "2026-03-29T01:00:00Z");
    CHECK_NEXT("30 2 * * *", be, "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"); /* at 03:00 */
    CHECK_NEXT("30 2 * * *", be, "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z");
    CHECK_NEXT("30 1 * * *", be, "2026-03-28T12:00:00Z", "2026-03-29T00:30:00Z"); /* before */
    CHECK_NEXT("30 3 * * *", be, "2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z"); /* after */

    CHECK_NEXT("5 * * * *", be, "2026-10-25T00:00:00Z", "2026-10-25T00:05:00Z");  /* 02:05 CEST */
    CHECK_NEXT("5 * * * *", be, "2026-10-25T00:05:00Z", "2026-10-25T01:05:00Z");  /* 02:05 CET */
    CHECK_NEXT("5 * * * *", be, "2026-10-25T01:05:00Z", "2026-10-25T02:05:00Z");  /* 03:05 CET */
    CHECK_NEXT("30 2 * * *", be, "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"); /* CEST */
    CHECK_NEXT("30 2 * * *", be, "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"); /* once */
    CHECK_NEXT("30 2 * * *", be, "2026-10-25T01:00:00Z", "2026-10-26T01:30:00Z");
    CHECK_NEXT("0 3 * * *", be, "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z"); /* 03:00 CET */
}

/* Far from UTC: Asia/Kolkata +5:30 all year; Pacific/Chatham +12:45, +13:45 in summer (2026:
 * back on Apr 5 03:45 -> 02:45 at 14:00Z Apr 4, forward on Sep 27 02:45 -> 03:45 at 14:00Z
 * Sep 26). */
static void test_far_zones(void)
{
    CHECK_NEXT("0 9 * * *", "Asia/Kolkata", "2026-01-01T00:00:00Z", "2026-01-01T03:30:00Z");
    CHECK_NEXT("0 0 1 1 *", "Asia/Kolkata", "2026-06-01T00:00:00Z", "2026-12-31T18:30:00Z");
    CHECK_NEXT("*/45 * * * *", "Asia/Kolkata", "2026-01-01T00:00:00Z", "2026-01-01T00:15:00Z");
    const char *ch = "Pacific/Chatham";
    CHECK_NEXT("0 9 * * *", ch, "2026-06-01T00:00:00Z", "2026-06-01T20:15:00Z");
    CHECK_NEXT("0 0 1 1 *", ch, "2026-06-01T00:00:00Z", "2026-12-31T10:15:00Z"); /* +13:45 */
    CHECK_NEXT("0 3 * * *", ch, "2026-09-26T00:00:00Z", "2026-09-26T14:00:00Z"); /* in the gap */
    CHECK_NEXT("0 3 * * *", ch, "2026-09-26T14:00:00Z", "2026-09-27T13:15:00Z");
    CHECK_NEXT("0 * * * *", ch, "2026-09-26T13:00:00Z", "2026-09-26T13:15:00Z"); /* 02:00 */
    CHECK_NEXT("0 * * * *", ch, "2026-09-26T13:15:00Z", "2026-09-26T14:15:00Z"); /* 04:00 */
    CHECK_NEXT("0 3 * * *", ch, "2026-04-04T12:00:00Z", "2026-04-04T13:15:00Z"); /* 1st pass */
    CHECK_NEXT("0 3 * * *", ch, "2026-04-04T13:15:00Z", "2026-04-05T14:15:00Z");
    CHECK_NEXT("0 3 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z",
               "2026-10-03T16:00:00Z"); /* a 30-minute change: 02:00 -> 02:30 at 15:30Z */
}

/* Past 2037 the TZif table ends and the footer's rule gives the changes: New York 2040-03-11
 * at 07:00Z and 2040-11-04 at 06:00Z; Berlin 2045-03-26 and 2045-10-29 at 01:00Z. */
static void test_footer_years(void)
{
    const char *ny = "America/New_York", *be = "Europe/Berlin";
    CHECK_NEXT("30 2 * * *", ny, "2040-03-10T12:00:00Z", "2040-03-11T07:00:00Z");
    CHECK_NEXT("*/15 * * * *", ny, "2040-03-11T06:45:00Z", "2040-03-11T07:00:00Z");
    CHECK_NEXT("30 1 * * *", ny, "2040-11-04T05:30:00Z", "2040-11-05T06:30:00Z");
    CHECK_NEXT("5 1 * * *", ny, "2040-11-04T05:05:00Z", "2040-11-05T06:05:00Z");
    CHECK_NEXT("5 * * * *", ny, "2040-11-04T05:05:00Z", "2040-11-04T06:05:00Z");
    CHECK_NEXT("30 2 * * *", be, "2045-03-25T12:00:00Z", "2045-03-26T01:00:00Z");
    CHECK_NEXT("30 2 * * *", be, "2045-10-29T00:30:00Z", "2045-10-30T01:30:00Z");
    CHECK_NEXT("0 12 1 7 *", be, "2090-01-01T00:00:00Z", "2090-07-01T10:00:00Z");
}

/* ------------------------------------------------------------------ simulation */

/* cronie's daemon, minute by minute from `start` to `end`: each UTC minute u it reads the
 * wall clock L; a wall-clock job runs if L matches; a fixed job runs if L is new (beyond the
 * latest wall time seen) and matches, or, just after a forward jump of under 3 hours, if any
 * skipped wall time matches; after a backward jump of 3 hours or more every wall time counts
 * as new. Writes the runs to runs[] (up to max); their number. */
static size_t simulate(const struct cron *c, const struct tz *z, int64_t start, int64_t end,
                       int64_t *runs, size_t max)
{
    size_t n = 0;
    int64_t latest = start + tz_offset(z, start) - 60, prev = latest;
    for (int64_t u = start; u < end && n < max; u += 60) {
        int64_t wall = u + tz_offset(z, u);
        int64_t jump = wall - (prev + 60);
        bool run = cron_matches(c, wall);
        if (!cron_follows_wall_clock(c)) {
            if (jump <= -3 * 3600) latest = wall - 60; /* a clock correction */
            if (wall <= latest) run = false;           /* already seen: a repeat */
            if (jump > 0 && jump < 3 * 3600)
                for (int64_t w = prev + 60; w < wall && !run; w += 60)
                    run = cron_matches(c, w); /* skipped ones run now */
            if (wall > latest) latest = wall;
        }
        if (run) runs[n++] = u;
        prev = wall;
    }
    return n;
}

/* For each of several expressions, around each offset change of the zone in [from, to):
 * simulates 3 days and checks cron_next from every 7th minute (and each run and the second
 * before it) against the simulated runs. */
static void compare_zone(const char *zone_name, int from, int to)
{
    static const char *const exprs[] = {
        "*/15 * * * *",
        "5 * * * *",
        "30 2 * * *",
        "0,30 1-3 * * *",
        "* 2 * * *",
        "0 2 * * *",
        "59 1 * * *",
        "0 3 * * *",
        "45 2,3 * * 0",
        "15,45 * * * *",
        "@daily",
        "@hourly",
        "*/7 1-4 * * *",
        "0 0-5 * * *",
        "30 0-2/2 * * *",
        "0 1 * * *",
        "15 2 * 3,4,9,10,11 SUN",
        "0-59/20 2 * * *",
        "50 0 * * *",
    };
    struct tz *z = zone(zone_name);
    int64_t t = iso("2026-01-01T00:00:00Z"), end_all, change;
    struct calendar_time f = {from, 1, 1, 0, 0, 0}, e = {to, 1, 1, 0, 0, 0};
    t = calendar_join(&f), end_all = calendar_join(&e);
    int changes = 0, compared = 0, bad = 0;
    static int64_t runs[8192];
    while (tz_next_change(z, t, &change) == 0 && change < end_all && bad < 5) {
        changes++;
        int64_t start = change - 36 * 3600, end = change + 36 * 3600;
        for (size_t i = 0; i < sizeof exprs / sizeof *exprs; i++) {
            struct cron *c = parse(exprs[i]);
            if (!c) continue;
            size_t n = simulate(c, z, start, end, runs, 8192);
            size_t k = 0;
            for (int64_t after = start + 7200; after < end - 7200 && bad < 5; after += 7 * 60) {
                for (int extra = 0; extra < 3; extra++) {
                    int64_t a = extra == 0 ? after : extra == 1 ? after + 59 : after - 1;
                    while (k < n && runs[k] <= after - 3600)
                        k++;
                    size_t j = k;
                    while (j < n && runs[j] <= a)
                        j++;
                    if (j >= n) continue; /* beyond the simulated days */
                    int64_t got = cron_next(c, z, a);
                    compared++;
                    if (got != runs[j]) {
                        char g[32], w[32], at[32];
                        format_utc(got, g), format_utc(runs[j], w), format_utc(a, at);
                        fprintf(stderr, "%s '%s' after %s: got %s, simulated %s\n", zone_name,
                                exprs[i], at, g, w);
                        bad++;
                    }
                }
            }
            for (size_t r = 0; r < n && bad < 5; r++) /* each run from just before it */
                if (cron_next(c, z, runs[r] - 1) != runs[r]) {
                    char w[32];
                    format_utc(runs[r], w);
                    fprintf(stderr, "%s '%s': the run at %s is not found\n", zone_name, exprs[i],
                            w);
                    bad++;
                }
            cron_free(c);
        }
        t = change;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(changes > 0);
    printf("%-20s %3d changes %d-%d, %d answers agree with the simulation\n", zone_name, changes,
           from, to, compared);
    tz_free(z);
}

static void test_against_simulation(void)
{
    compare_zone("America/New_York", 2025, 2029);
    compare_zone("Europe/Berlin", 2025, 2028);
    compare_zone("Pacific/Chatham", 2025, 2028);
    compare_zone("Australia/Lord_Howe", 2025, 2028);
    compare_zone("Europe/Dublin", 2026, 2028);
    compare_zone("America/Santiago", 2026, 2028);
    compare_zone("America/New_York", 2040, 2042); /* the footer's rule */
    compare_zone("Pacific/Apia", 2011, 2013);     /* a skipped day (a 24 h change) */
    compare_zone("America/Nuuk", 2023, 2025);     /* a -1 h change, and the zone's move */
}

int main(void)
{
    test_new_york();
    test_berlin();
    test_far_zones();
    test_footer_years();
    test_against_simulation();
    return check_report();
}
