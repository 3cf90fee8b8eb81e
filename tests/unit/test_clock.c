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
    return check_report();
}
