/* fuzz_cron: cron expressions and TZif files. The input is "EXPRESSION\0TZIF": the text
 * before the first NUL goes to cron_parse, the bytes after it (if any) to tz_parse.
 * Invariants: a refused expression or zone says why; a zone's offsets stay within 26 hours
 * and its changes are strictly later, real changes; a run cron_next finds is after the time
 * asked about, within 28 years, on a wall-clock minute the expression names (or, for a fixed
 * job, at an offset change), found again from just before it, and no earlier from later. */
#include <string.h>

#include "server/cron.h"
#include "tests/fuzz/fuzz_common.h"

#define HORIZON ((int64_t)28 * 31557600)

static void check_zone(const struct tz *z)
{
    static const int64_t probes[] = {INT64_MIN,  -4000000000LL, -1,           0,
                                     1700000000, 2200000000LL,  4102444800LL, INT64_MAX};
    for (size_t i = 0; i < sizeof probes / sizeof *probes; i++) {
        int off = tz_offset(z, probes[i]);
        FUZZ_REQUIRE(off > -26 * 3600 && off < 26 * 3600);
    }
    int64_t t = -4000000000LL, at;
    for (int k = 0; k < 64 && tz_next_change(z, t, &at) == 0; k++) {
        FUZZ_REQUIRE(at > t);
        FUZZ_REQUIRE(tz_offset(z, at - 1) != tz_offset(z, at));
        t = at;
    }
}

static void check_next(const struct cron *c, const struct tz *z, int64_t after)
{
    int64_t r = cron_next(c, z, after);
    if (r == -1) return;
    FUZZ_REQUIRE(r > after && r <= after + HORIZON);
    int64_t wall = r + tz_offset(z, r);
    bool at_change = tz_offset(z, r - 1) != tz_offset(z, r);
    if (!(cron_follows_wall_clock(c) ? false : at_change))
        FUZZ_REQUIRE(wall % 60 == 0 && cron_matches(c, wall));
    FUZZ_REQUIRE(cron_next(c, z, r - 1) == r);
    int64_t later = cron_next(c, z, after + 3599);
    FUZZ_REQUIRE(later == -1 || later >= r);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static struct tz *utc;
    char err[512];
    if (!utc) FUZZ_REQUIRE(tz_load("UTC", &utc, err, sizeof err) == 0);

    const unsigned char *nul = memchr(data, 0, size);
    size_t expr_len = nul ? (size_t)(nul - data) : size;
    char *expr = malloc(expr_len + 1);
    if (!expr) return 0;
    memcpy(expr, data, expr_len);
    expr[expr_len] = '\0';

    struct tz *z = NULL;
    if (nul) {
        err[0] = '\0';
        if (tz_parse(nul + 1, size - expr_len - 1, "fuzz", &z, err, sizeof err) == 0)
            check_zone(z);
        else
            FUZZ_REQUIRE(!z && strncmp(err, "malformed TZif data: ", 21) == 0);
    }
    struct cron *c = NULL;
    err[0] = '\0';
    if (cron_parse(expr, &c, err, sizeof err) == 0) {
        static const int64_t afters[] = {0, 1772953200, 1793512800, 2216400000LL, 253402300000LL};
        for (size_t i = 0; i < sizeof afters / sizeof *afters; i++) {
            check_next(c, utc, afters[i]);
            if (z) check_next(c, z, afters[i]);
        }
        cron_free(c);
    } else {
        FUZZ_REQUIRE(!c && err[0] != '\0');
    }
    tz_free(z);
    free(expr);
    return 0;
}
