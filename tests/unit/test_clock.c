/* Unit tests for server/clock: clock_format (formatted by arithmetic) writes what gmtime_r +
 * strftime write, for the epoch, leap days, century and 400-year boundaries, the end of
 * 9999, and a sweep of a million times from 1970 to 2400; and it returns the length.
 * clock_parse reads back what clock_format writes, and RFC 3339's other spellings (offsets,
 * fractions of any length, lower case), and refuses what is not a time. */
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

static int64_t parsed(const char *text, bool *inexact)
{
    int64_t ms = -42;
    bool dropped = false;
    if (clock_parse(text, &ms, &dropped) != 0) return -42;
    if (inexact) *inexact = dropped;
    return ms;
}

static void test_parse(void)
{
    bool inexact = true;
    CHECK_EQ_INT(parsed("1970-01-01T00:00:00Z", &inexact), 0);
    CHECK(!inexact);
    CHECK_EQ_INT(parsed("2026-11-27T12:00:00.123Z", NULL), 1795780800123LL);
    CHECK_EQ_INT(parsed("2026-11-27t12:00:00.123z", NULL), 1795780800123LL);
    CHECK_EQ_INT(parsed("2026-11-27 12:00:00.123Z", NULL), 1795780800123LL);
    CHECK_EQ_INT(parsed("2026-11-27T14:00:00.123+02:00", NULL), 1795780800123LL);
    CHECK_EQ_INT(parsed("2026-11-27T14:00:00.123 02:00", NULL), 1795780800123LL); /* a '+' */
    CHECK_EQ_INT(parsed("2026-11-27T06:30:00.123-05:30", NULL), 1795780800123LL);
    CHECK_EQ_INT(parsed("2026-11-27T12:00:00.1Z", NULL), 1795780800100LL);
    CHECK_EQ_INT(parsed("2026-11-27T12:00:00.1239Z", &inexact), 1795780800123LL);
    CHECK(inexact);
    CHECK_EQ_INT(parsed("2026-11-27T12:00:00.1230000Z", &inexact), 1795780800123LL);
    CHECK(!inexact);
    CHECK_EQ_INT(parsed("1969-12-31T23:59:59.999Z", NULL), -1);
    CHECK_EQ_INT(parsed("2000-02-29T00:00:00Z", NULL), 951782400000LL);
    CHECK_EQ_INT(parsed("2016-12-31T23:59:60Z", NULL), 1483228800000LL);
    static const char *const bad[] = {"",
                                      "1h",
                                      "2026-11-27",
                                      "2026-11-27T12:00Z",
                                      "2026-11-27T12:00:00",
                                      "2026-11-27T12:00:00.Z",
                                      "2026-11-27T12:00:00ZZ",
                                      "2026-11-27T12:00:00+0200",
                                      "2026-11-27T12:00:00+24:00",
                                      "2026-02-29T00:00:00Z",
                                      "2100-02-29T00:00:00Z",
                                      "2026-04-31T00:00:00Z",
                                      "2026-13-01T00:00:00Z",
                                      "2026-00-01T00:00:00Z",
                                      "2026-11-27T24:00:00Z",
                                      "2026-11-27T12:60:00Z",
                                      "2026-11-27T12:00:61Z",
                                      "26-11-27T12:00:00Z",
                                      "2026-11-27T12:00:00 Z",
                                      "+2026-11-27T12:00:00Z",
                                      "2026-11-27X12:00:00Z",
                                      "2026-1a-27T12:00:00Z",
                                      "2026-11-27T12:00:00.12a3Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        bool x;
        if (clock_parse(bad[i], &ms, &x) == 0)
            fprintf(stderr, "clock_parse('%s') took it\n", bad[i]);
        CHECK(clock_parse(bad[i], &ms, &x) == -1);
    }
    /* what clock_format writes reads back the same */
    srand(12);
    int bad_back = 0;
    for (int i = 0; i < 200000 && bad_back < 5; i++) {
        int64_t ms = ((int64_t)rand() << 31 ^ rand()) % 253402300799999LL, back;
        char out[32];
        clock_format(ms, out);
        if (clock_parse(out, &back, &inexact) != 0 || back != ms) {
            fprintf(stderr, "clock_parse(clock_format(%lld) = '%s') read it back wrong\n",
                    (long long)ms, out);
            bad_back++;
        }
    }
    CHECK_EQ_INT(bad_back, 0);
}

int main(void)
{
    test_parse();
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
