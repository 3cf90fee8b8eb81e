/* Unit tests for server/clock: clock_format (formatted by arithmetic) writes what gmtime_r +
 * strftime write, for the epoch, leap days, century and 400-year boundaries, the end of
 * 9999, and a sweep of a million times from 1970 to 2400; and it returns the length. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "server/clock.h"

/* The reference: libc's UTC calendar. */
static void reference(int64_t ms, char out[64])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 64, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 64 - n, ".%03dZ", (int)(ms % 1000));
}

static int same(int64_t ms)
{
    char got[32], want[64];
    size_t n = clock_format(ms, got);
    reference(ms, want);
    if (strcmp(got, want) == 0 && n == strlen(got)) return 1;
    fprintf(stderr, "clock_format(%lld): '%s' (%zu), want '%s'\n", (long long)ms, got, n, want);
    return 0;
}

int main(void)
{
    char out[32];
    CHECK_EQ_INT(clock_format(0, out), 24);
    CHECK(strcmp(out, "1970-01-01T00:00:00.000Z") == 0);
    CHECK(clock_format(1795780800123LL, out) == 24 && strcmp(out, "2026-11-27T12:00:00.123Z") == 0);
    static const int64_t edges[] = {
        951782400000LL,   /* 2000-02-29 */
        951868799999LL,   /* 2000-02-29T23:59:59.999 */
        4107542400000LL,  /* 2100-03-01 (not a leap year) */
        4107456000000LL,  /* 2100-02-28 */
        13569465600000LL, /* 2400-01-01 */
        253402300799999LL /* 9999-12-31T23:59:59.999 */
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        CHECK(same(edges[i]));
    srand(11);
    int bad = 0;
    for (int i = 0; i < 1000000 && bad < 5; i++) {
        int64_t ms = ((int64_t)rand() << 31 ^ rand()) % 13569465600000LL;
        if (!same(ms)) bad++;
    }
    CHECK_EQ_INT(bad, 0);

    /* clock_parse reads what clock_format writes, and the RFC 3339 forms people type */
    bad = 0;
    for (int i = 0; i < 200000 && bad < 5; i++) {
        int64_t ms = ((int64_t)rand() << 31 ^ rand()) % 253402300799999LL, back = -1;
        clock_format(ms, out);
        if (clock_parse(out, &back) < 0 || back != ms) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    int64_t t = 0;
    CHECK_EQ_INT(clock_parse("2026-03-08T07:00:00Z", &t), 0);
    CHECK(t == 1772953200000LL);
    CHECK_EQ_INT(clock_parse("2026-03-08T02:00:00-05:00", &t), 0);
    CHECK(t == 1772953200000LL);
    CHECK_EQ_INT(clock_parse("2026-03-08t12:30:00.5+05:30", &t), 0);
    CHECK(t == 1772953200500LL);
    CHECK_EQ_INT(clock_parse("2024-02-29 00:00:00Z", &t), 0);
    const char *invalid[] = {"",
                             "2026-03-08",
                             "2026-03-08T07:00:00",
                             "2026-13-01T00:00:00Z",
                             "2026-02-29T00:00:00Z",
                             "2026-04-31T00:00:00Z",
                             "2026-03-08T24:00:00Z",
                             "2026-03-08T07:60:00Z",
                             "2026-03-08T07:00:00.Z",
                             "2026-03-08T07:00:00+0500",
                             "2026-03-08T07:00:00Zjunk",
                             "tomorrow",
                             "1772953200"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        if (clock_parse(invalid[i], &t) == 0) {
            fprintf(stderr, "clock_parse accepted '%s'\n", invalid[i]);
            CHECK(0);
        }
    return check_report();
}
