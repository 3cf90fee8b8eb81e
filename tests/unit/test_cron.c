/* Unit tests for server/cron: parsing (every form, names, 7 = Sunday, @shortcuts, and the
 * errors), next times in UTC (month and year ends, leap days, the day-of-month/day-of-week OR
 * rule, nothing within 28 years, the bounds of time), and how fast a rare time is found.
 * Time zones and DST: test_cron_dst.c. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "cron_helpers.h"
#include "server/cron_internal.h"

/* ------------------------------------------------------------------ parsing */

static uint64_t bits(int lo, int hi)
{
    uint64_t b = 0;
    for (int i = lo; i <= hi; i++)
        b |= (uint64_t)1 << i;
    return b;
}

static void test_parse_forms(void)
{
    struct cron *c = parse("* * * * *");
    if (c) {
        CHECK(c->minutes == bits(0, 59) && c->hours == bits(0, 23) && c->days == bits(1, 31));
        CHECK(c->months == bits(1, 12) && c->weekdays == bits(0, 6));
        CHECK(c->minute_star && c->hour_star && c->day_star && c->weekday_star);
        CHECK(cron_follows_wall_clock(c));
    }
    cron_free(c);
    c = parse("0-10/3 */6 1,15 JAN-mar,Dec sun,7");
    if (c) {
        CHECK(c->minutes == (bits(0, 0) | bits(3, 3) | bits(6, 6) | bits(9, 9)));
        CHECK(c->hours == (bits(0, 0) | bits(6, 6) | bits(12, 12) | bits(18, 18)));
        CHECK(c->days == (bits(1, 1) | bits(15, 15)));
        CHECK(c->months == (bits(1, 3) | bits(12, 12)));
        CHECK(c->weekdays == bits(0, 0));
        CHECK(!c->minute_star && c->hour_star && !c->day_star && !c->weekday_star);
        CHECK(cron_follows_wall_clock(c));
    }
    cron_free(c);
    c = parse(" \t30\t2  * *   Mon-FRI \t");
    if (c) {
        CHECK(c->minutes == bits(30, 30) && c->hours == bits(2, 2) && c->weekdays == bits(1, 5));
        CHECK(!cron_follows_wall_clock(c) && c->day_star && !c->weekday_star);
    }
    cron_free(c);
    c = parse("59 23 31 12 5-7"); /* Friday to Sunday: 7 is Sunday */
    if (c) CHECK(c->weekdays == (bits(5, 6) | bits(0, 0)) && c->days == bits(31, 31));
    cron_free(c);
    c = parse("0 0 * * 7");
    if (c) CHECK(c->weekdays == bits(0, 0));
    cron_free(c);
    c = parse("0 0 * * 1-7/2"); /* 1, 3, 5, 7 */
    if (c) CHECK(c->weekdays == (bits(0, 1) | bits(3, 3) | bits(5, 5)));
    cron_free(c);
    c = parse("*/25,7 0 */10 */5 *");
    if (c) {
        CHECK(c->minutes == (bits(0, 0) | bits(7, 7) | bits(25, 25) | bits(50, 50)));
        CHECK(c->days == (bits(1, 1) | bits(11, 11) | bits(21, 21) | bits(31, 31)));
        CHECK(c->months == (bits(1, 1) | bits(6, 6) | bits(11, 11)));
        CHECK(c->day_star); /* "*" first: both day fields must match */
    }
    cron_free(c);
    c = parse("00 007 1-31/1 jan-dec SUN-SAT");
    if (c) CHECK(c->minutes == 1 && c->hours == bits(7, 7) && c->weekdays == bits(0, 6));
    cron_free(c);

    const char *shortcuts[][2] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}, {"  @DAILY ", "0 0 * * *"},
    };
    for (size_t i = 0; i < sizeof shortcuts / sizeof *shortcuts; i++) {
        struct cron *a = parse(shortcuts[i][0]), *b = parse(shortcuts[i][1]);
        if (a && b)
            CHECK(a->minutes == b->minutes && a->hours == b->hours && a->days == b->days &&
                  a->months == b->months && a->weekdays == b->weekdays &&
                  a->minute_star == b->minute_star && a->hour_star == b->hour_star &&
                  a->day_star == b->day_star && a->weekday_star == b->weekday_star);
        cron_free(a);
        cron_free(b);
    }
    c = parse("@hourly");
    if (c) CHECK(cron_follows_wall_clock(c));
    cron_free(c);
    c = parse("@daily");
    if (c) CHECK(!cron_follows_wall_clock(c));
    cron_free(c);
}

static void test_parse_errors(void)
{
    static const char *const cases[][2] = {
        {"60 * * * *", "minute field: 60 is out of range 0-59"},
        {"* 24 * * *", "hour field: 24 is out of range 0-23"},
        {"* * 0 * *", "day-of-month field: 0 is out of range 1-31"},
        {"* * 32 * *", "day-of-month field: 32 is out of range 1-31"},
        {"* * * 0 *", "month field: 0 is out of range 1-12"},
        {"* * * 13 *", "month field: 13 is out of range 1-12"},
        {"* * * * 8", "day-of-week field: 8 is out of range 0-7"},
        {"99999999999999999999 * * * *", "minute field: 99999999999999999999 is out of range"},
        {"1-99 * * * *", "minute field: 99 is out of range 0-59"},
        {"*/0 * * * *", "minute field: step 0 is out of range 1-60"},
        {"0 0-23/0 * * *", "hour field: step 0 is out of range 1-24"},
        {"*/61 * * * *", "minute field: step 61 is out of range 1-60"},
        {"*/ * * * *", "minute field: a step needs a number after '/'"},
        {"5/10 * * * *", "minute field: a step needs a range"},
        {"* * * * MON/2", "day-of-week field: a step needs a range"},
        {"* * * FOO *", "month field: unknown name 'FOO' (use JAN-DEC)"},
        {"* * * JANUARY *", "month field: unknown name 'JANUARY'"},
        {"* * * * FRIDAY", "day-of-week field: unknown name 'FRIDAY' (use SUN-SAT)"},
        {"* * * * JAN", "day-of-week field: unknown name 'JAN'"},
        {"MON * * * *", "minute field: 'MON' is not a number"},
        {"* * L * *", "day-of-month field: 'L' is not a number"},
        {"* * * * 5#3", "day-of-week field: unexpected '#'"},
        {"? * * * *", "minute field: unexpected '?'"},
        {"** * * * *", "minute field: unexpected '*'"},
        {"1-2-3 * * * *", "minute field: unexpected '-'"},
        {"-1 * * * *", "minute field: unexpected '-'"},
        {"1- * * * *", "minute field: a value is missing"},
        {"5-3 * * * *", "minute field: range '5-3' goes backwards"},
        {"* * * DEC-JAN *", "month field: range 'DEC-JAN' goes backwards"},
        {"1,,2 * * * *", "minute field: an empty list item"},
        {",1 * * * *", "minute field: an empty list item"},
        {"* 1, * * *", "hour field: an empty list item"},
        {"* * * *", "expected 5 fields (minute hour day-of-month month day-of-week) or an "
                    "@shortcut, found 4"},
        {"* * * * * *", "found 6"},
        {"0 0 1 1 * /bin/true", "found 6"},
        {"", "found 0"},
        {" \t ", "found 0"},
        {"@reboot", "unknown shortcut '@reboot'"},
        {"@", "unknown shortcut '@'"},
        {"@daily 5", "@daily stands for all 5 fields: nothing may follow it"},
        {"0 0\n1 * * *", "hour field: unexpected '\\x0a'"},
        {"0 0 1 * \x01", "day-of-week field: unexpected '\\x01'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct cron *c = NULL;
        char err[300] = "";
        int rc = cron_parse(cases[i][0], &c, err, sizeof err);
        if (rc != -1 || !strstr(err, cases[i][1]))
            fprintf(stderr, "'%s': rc %d, err '%s', expected '%s'\n", cases[i][0], rc, err,
                    cases[i][1]);
        CHECK(rc == -1 && c == NULL && strstr(err, cases[i][1]) != NULL);
    }
    char *big = malloc(CRON_EXPR_MAX + 2);
    if (big) {
        memset(big, ' ', CRON_EXPR_MAX + 1);
        memcpy(big, "* * * * *", 9);
        big[CRON_EXPR_MAX + 1] = '\0';
        struct cron *c = NULL;
        char err[300] = "";
        CHECK(cron_parse(big, &c, err, sizeof err) == -1 && strstr(err, "longer than"));
        free(big);
    }
    char tiny[8]; /* a short error buffer gets a truncated, terminated message */
    struct cron *c = NULL;
    CHECK(cron_parse("61 * * * *", &c, tiny, sizeof tiny) == -1 && strlen(tiny) == 7);
}

/* ------------------------------------------------------------------ next times in UTC */

static void test_next_utc(void)
{
    CHECK_NEXT("* * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z");
    CHECK_NEXT("* * * * *", "UTC", "2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z");
    CHECK_NEXT("* * * * *", "UTC", "2026-01-01T00:00:59Z", "2026-01-01T00:01:00Z");
    CHECK_NEXT("*/15 * * * *", "UTC", "2026-12-31T23:50:00Z", "2027-01-01T00:00:00Z");
    CHECK_NEXT("0 0 1 1 *", "UTC", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z");
    CHECK_NEXT("@yearly", "UTC", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
    CHECK_NEXT("59 23 31 12 *", "UTC", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z");
    CHECK_NEXT("0 0 * * *", "UTC", "2026-01-31T12:00:00Z", "2026-02-01T00:00:00Z");
    CHECK_NEXT("0 0 31 * *", "UTC", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z");
    CHECK_NEXT("0 0 1 * *", "UTC", "2026-02-15T00:00:00Z", "2026-03-01T00:00:00Z");
    CHECK_NEXT("0 12 29 2 *", "UTC", "2026-01-01T00:00:00Z", "2028-02-29T12:00:00Z");
    CHECK_NEXT("0 12 29 2 *", "UTC", "2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z");
    CHECK_NEXT("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"); /* 2100 */
    CHECK_NEXT("0 0 28 2 *", "UTC", "2028-02-28T00:00:00Z", "2029-02-28T00:00:00Z");
    CHECK_NEXT("0 0 30 2 *", "UTC", "2026-01-01T00:00:00Z", "none");
    CHECK_NEXT("0 0 31 4,6,9,11 *", "UTC", "2026-01-01T00:00:00Z", "none");
    CHECK_NEXT("0 9 * * 1-5", "UTC", "2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z");
    CHECK_NEXT("30 8 * * SAT", "UTC", "2026-01-01T00:00:00Z", "2026-01-03T08:30:00Z");
    CHECK_NEXT("0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z");
    CHECK_NEXT("0 0 * 2 0", "UTC", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z");
    CHECK_NEXT("0 0 1 JAN *", "UTC", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z");
    /* day-of-month and day-of-week both restricted: either one */
    CHECK_NEXT("0 0 29 2 1", "UTC", "2026-01-01T00:00:00Z", "2026-02-02T00:00:00Z");
    CHECK_NEXT("0 0 29 2 1", "UTC", "2026-02-23T00:00:00Z", "2027-02-01T00:00:00Z");
    CHECK_NEXT("0 0 29 2 1", "UTC", "2028-02-28T00:00:00Z", "2028-02-29T00:00:00Z");
    CHECK_NEXT("0 0 13 * 1", "UTC", "2026-02-10T00:00:00Z", "2026-02-13T00:00:00Z");
    CHECK_NEXT("0 0 13 * 1", "UTC", "2026-02-13T00:00:00Z", "2026-02-16T00:00:00Z");
    CHECK_NEXT("0 0 1-7 * 1", "UTC", "2026-02-08T00:00:00Z", "2026-02-09T00:00:00Z");
    CHECK_NEXT("0 0 1-7 * 1", "UTC", "2026-02-28T00:00:00Z", "2026-03-01T00:00:00Z");
    /* ... but a field starting with '*', even with a step, makes it both */
    CHECK_NEXT("0 0 */2 * 5", "UTC", "2026-02-01T00:00:00Z", "2026-02-13T00:00:00Z");
    CHECK_NEXT("0 0 13 * *", "UTC", "2026-02-01T00:00:00Z", "2026-02-13T00:00:00Z");
    CHECK_NEXT("0 0 * * 5", "UTC", "2026-02-01T00:00:00Z", "2026-02-06T00:00:00Z");
    CHECK_NEXT("0 0 13 * */7", "UTC", "2026-02-01T00:00:00Z", "2026-09-13T00:00:00Z");
    /* Feb 29 that is a Sunday (day-of-week starts with '*': both): 2032 */
    CHECK_NEXT("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z");
    CHECK_NEXT("0 0 29 2 */7", "UTC", "2026-01-01T00:00:00Z", "2032-02-29T00:00:00Z");
    CHECK_NEXT("0 0 29 2 *", "UTC", "9999-03-01T00:00:00Z", "none"); /* past year 9999 */
    CHECK_NEXT("59 23 31 12 *", "UTC", "9999-12-31T23:58:00Z", "9999-12-31T23:59:00Z");
    CHECK_NEXT("* * * * *", "UTC", "1969-12-31T23:59:00Z", "1970-01-01T00:00:00Z");
}

static void test_limits(void)
{
    struct cron *c = parse("* * * * *");
    struct tz *z = zone("UTC");
    if (c) {
        CHECK(cron_next(c, z, INT64_MAX) == -1);
        CHECK(cron_next(c, z, INT64_MIN) == -1);
        CHECK(cron_next(c, z, iso("10000-01-01T00:00:00Z")) == -1);
        CHECK(cron_next(c, z, iso("0001-01-01T00:00:00Z")) == iso("0001-01-01T00:01:00Z"));
    }
    cron_free(c);
    /* the last run within 28 years is found; one just beyond is not */
    c = parse("0 0 29 2 */7"); /* Feb 29 that is a Sunday: 2032, then 2060 */
    if (c) {
        CHECK(cron_next(c, z, iso("2032-03-01T00:00:00Z")) == iso("2060-02-29T00:00:00Z"));
        CHECK(cron_next(c, z, iso("2032-01-01T00:00:00Z")) == iso("2032-02-29T00:00:00Z"));
    }
    cron_free(c);
    c = parse("0 0 1 1 *");
    if (c) CHECK(cron_next(c, z, iso("2026-01-01T00:00:00Z")) == iso("2027-01-01T00:00:00Z"));
    cron_free(c);
    tz_free(z);
}

/* Fast: skipping by fields, not minutes (a figure, not an assertion). */
static void test_speed(void)
{
    const char *exprs[] = {"0 0 29 2 1", "0 0 29 2 */7", "0 0 30 2 *", "59 23 31 12 *"};
    const char *zones[] = {"UTC", "America/New_York"};
    for (size_t zi = 0; zi < 2; zi++) {
        struct tz *z = zone(zones[zi]);
        for (size_t i = 0; i < sizeof exprs / sizeof *exprs; i++) {
            struct cron *c = parse(exprs[i]);
            if (!c) continue;
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            int64_t t = iso("2026-01-01T00:00:00Z"), sum = 0;
            for (int k = 0; k < 1000; k++)
                sum += cron_next(c, z, t + k * 3600);
            clock_gettime(CLOCK_MONOTONIC, &b);
            double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) /
                        1000 / 1000;
            printf("cron_next '%s' in %s: %.1f us per call (%lld)\n", exprs[i], zones[zi], us,
                   (long long)(sum % 7));
            cron_free(c);
        }
        tz_free(z);
    }
}

int main(void)
{
    test_parse_forms();
    test_parse_errors();
    test_next_utc();
    test_limits();
    test_speed();
    return check_report();
}
