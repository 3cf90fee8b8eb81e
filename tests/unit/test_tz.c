/* Unit tests for server/tz and server/tz_rule: zone names, load errors (bad names, unknown
 * zones, directories, malformed files under $TZDIR), hand-made TZif blobs (v1 and v2, every
 * footer rule form, truncations), and tz_offset and tz_next_change against glibc's own
 * localtime_r (this single-threaded test may set TZ; the server never does) for real zones
 * from 1900 to 2100, TZif v1 copies of them, and POSIX rule strings. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "server/calendar.h"
#include "server/tz.h"
#include "server/tz_internal.h"

/* The UTC seconds of y-m-d h:mi. */
static int64_t utc(int64_t y, int mo, int d, int h, int mi)
{
    struct calendar_time t = {y, mo, d, h, mi, 0};
    return calendar_join(&t);
}

static int glibc_offset(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!localtime_r(&tt, &tm)) return -999999;
    return (int)tm.tm_gmtoff;
}

static void glibc_zone(const char *tzvalue)
{
    setenv("TZ", tzvalue, 1);
    tzset();
}

/* ------------------------------------------------------------------ names and loading */

static void test_names(void)
{
    const char *good[] = {"UTC",       "Europe/Berlin", "America/Argentina/Buenos_Aires",
                          "Etc/GMT+5", "Etc/GMT-14",    "America/Port-au-Prince",
                          "EST5EDT"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECK(tz_name_ok(good[i]));
    const char *bad[] = {
        "",     "/etc/passwd", "../x",           "Europe/../x",    "Europe/./Berlin",
        "a//b", "Europe/",     "Europe/Berlin ", "Europe\\Berlin", "zone\n",
        ".."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(!tz_name_ok(bad[i]));
        struct tz *z = NULL;
        char err[300] = "";
        CHECK(tz_load(bad[i], &z, err, sizeof err) == -1 && z == NULL);
        CHECK(strstr(err, "bad time zone name") != NULL);
    }
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK(!tz_name_ok(longname));
}

static void test_load(void)
{
    struct tz *z = NULL;
    char err[300] = "";
    CHECK(tz_load("UTC", &z, err, sizeof err) == 0);
    if (z) {
        CHECK(strcmp(tz_name(z), "UTC") == 0);
        CHECK_EQ_INT(tz_offset(z, 0), 0);
        CHECK_EQ_INT(tz_offset(z, utc(2026, 7, 1, 0, 0)), 0);
        int64_t at;
        CHECK(tz_next_change(z, 0, &at) == -1);
        tz_free(z);
    }
    CHECK(tz_load("Nowhere/Atlantis", &z, err, sizeof err) == -1);
    CHECK(strstr(err, "unknown time zone 'Nowhere/Atlantis'") != NULL);
    CHECK(tz_load("America", &z, err, sizeof err) == -1); /* a directory of zones */
    CHECK(strstr(err, "unknown time zone 'America'") != NULL);
    CHECK(tz_load("Europe/Berlin", &z, err, sizeof err) == 0);
    if (z) {
        CHECK(strcmp(tz_name(z), "Europe/Berlin") == 0);
        CHECK_EQ_INT(tz_offset(z, utc(2026, 1, 15, 12, 0)), 3600);
        CHECK_EQ_INT(tz_offset(z, utc(2026, 7, 15, 12, 0)), 7200);
        tz_free(z);
    }
    tz_free(NULL);
}

/* $TZDIR is where zones are read from: a malformed file there is reported as such. */
static void test_tzdir(void)
{
    char dir[] = "/tmp/test_tz.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[300];
    snprintf(path, sizeof path, "%s/Bad", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("TZif2 not really", f);
        fclose(f);
    }
    setenv("TZDIR", dir, 1);
    struct tz *z = NULL;
    char err[600] = "";
    CHECK(tz_load("Bad", &z, err, sizeof err) == -1);
    CHECK(strstr(err, "time zone 'Bad'") != NULL && strstr(err, "malformed TZif") != NULL);
    CHECK(tz_load("Europe/Berlin", &z, err, sizeof err) == -1); /* not in this TZDIR */
    CHECK(strstr(err, "unknown time zone") != NULL);
    CHECK(tz_load("UTC", &z, err, sizeof err) == 0); /* built in */
    tz_free(z);
    unsetenv("TZDIR");
    unlink(path);
    rmdir(dir);
}

/* ------------------------------------------------------------------ hand-made TZif */

struct blob {
    uint8_t b[4096];
    size_t n;
};

static void put_u32(struct blob *b, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        b->b[b->n++] = (uint8_t)(v >> (8 * i));
}

static void put_header(struct blob *b, int version, uint32_t timecnt, uint32_t typecnt)
{
    memcpy(b->b + b->n, "TZif", 4);
    b->n += 4;
    b->b[b->n++] = (uint8_t)version;
    memset(b->b + b->n, 0, 15);
    b->n += 15;
    put_u32(b, 0);       /* isutcnt */
    put_u32(b, 0);       /* isstdcnt */
    put_u32(b, 0);       /* leapcnt */
    put_u32(b, timecnt); /* timecnt */
    put_u32(b, typecnt); /* typecnt */
    put_u32(b, 4);       /* charcnt */
}

/* A zone with transitions at times[i] to offsets[i] (type i + 1; type 0 is offset0), as v1
 * (version 0) or v2 with the footer rule. */
static void make_tzif(struct blob *b, int version, int32_t offset0, const int64_t *times,
                      const int32_t *offsets, uint32_t n, const char *footer)
{
    b->n = 0;
    for (int pass = 0; pass < (version ? 2 : 1); pass++) {
        unsigned tsize = pass == 0 ? 4 : 8;
        put_header(b, version, n, n + 1);
        for (uint32_t i = 0; i < n; i++) {
            if (tsize == 8) put_u32(b, (uint32_t)((uint64_t)times[i] >> 32));
            put_u32(b, (uint32_t)times[i]);
        }
        for (uint32_t i = 0; i < n; i++)
            b->b[b->n++] = (uint8_t)(i + 1);
        for (uint32_t i = 0; i <= n; i++) {
            put_u32(b, (uint32_t)(i == 0 ? offset0 : offsets[i - 1]));
            b->b[b->n++] = 0;
            b->b[b->n++] = 0;
        }
        memcpy(b->b + b->n, "ABC", 4);
        b->n += 4;
    }
    if (version) b->n += (size_t)sprintf((char *)b->b + b->n, "\n%s\n", footer);
}

static void test_blobs(void)
{
    struct blob b;
    struct tz *z = NULL;
    char err[300];
    int64_t times[2] = {1000000, 2000000};
    int32_t offsets[2] = {3600, 7200};

    make_tzif(&b, 0, -1800, times, offsets, 2, NULL);
    CHECK(tz_parse(b.b, b.n, "v1", &z, err, sizeof err) == 0);
    if (z) {
        CHECK_EQ_INT(tz_offset(z, -5000000000), -1800); /* before the first: type 0 */
        CHECK_EQ_INT(tz_offset(z, 999999), -1800);
        CHECK_EQ_INT(tz_offset(z, 1000000), 3600);
        CHECK_EQ_INT(tz_offset(z, 1999999), 3600);
        CHECK_EQ_INT(tz_offset(z, 5000000000), 7200); /* after the last, no footer: the last */
        int64_t at = 0;
        CHECK(tz_next_change(z, 0, &at) == 0 && at == 1000000);
        CHECK(tz_next_change(z, 1000000, &at) == 0 && at == 2000000);
        CHECK(tz_next_change(z, 2000000, &at) == -1);
        tz_free(z);
    }

    /* v2: the footer's rule from the last transition on */
    make_tzif(&b, '2', 0, times, offsets, 1, "EST5EDT,M3.2.0,M11.1.0");
    CHECK(tz_parse(b.b, b.n, "v2", &z, err, sizeof err) == 0);
    if (z) {
        CHECK_EQ_INT(tz_offset(z, 999999), 0);
        CHECK_EQ_INT(tz_offset(z, 1000000), -18000); /* January 1970: EST by the rule */
        CHECK_EQ_INT(tz_offset(z, utc(2026, 7, 1, 0, 0)), -14400);
        int64_t at = 0;
        CHECK(tz_next_change(z, 0, &at) == 0 && at == 1000000); /* 0 -> -5 h */
        CHECK(tz_next_change(z, utc(2026, 1, 1, 0, 0), &at) == 0 && at == utc(2026, 3, 8, 7, 0));
        CHECK(tz_next_change(z, at, &at) == 0 && at == utc(2026, 11, 1, 6, 0));
        tz_free(z);
    }

    /* a transition that changes nothing of the offset is no change */
    int32_t same[2] = {3600, 3600};
    make_tzif(&b, '2', 3600, times, same, 2, "");
    CHECK(tz_parse(b.b, b.n, "same", &z, err, sizeof err) == 0);
    if (z) {
        int64_t at;
        CHECK(tz_next_change(z, 0, &at) == -1);
        tz_free(z);
    }

    /* every truncation of a good blob is refused, never read past */
    make_tzif(&b, '3', 0, times, offsets, 2, "<+0530>-5:30");
    CHECK(tz_parse(b.b, b.n, "ok", &z, err, sizeof err) == 0);
    tz_free(z);
    int refused = 0;
    for (size_t n = 0; n + 1 < b.n; n++) {
        z = NULL;
        if (tz_parse(b.b, n, "cut", &z, err, sizeof err) == -1 &&
            strstr(err, "malformed TZif data") != NULL)
            refused++;
        tz_free(z);
    }
    CHECK_EQ_INT(refused, (int)b.n - 1);

    struct {
        size_t at;
        uint8_t value;
        const char *why;
    } breaks[] = {
        {0, 'X', "no TZif header"},
        {4, '1', "unknown TZif version"},
        {44 + 8 + 1, 9, "unknown type"}, /* the second transition's type index */
        {31, 1, "leap-second"},          /* leapcnt = 1 */
    };
    for (size_t i = 0; i < sizeof breaks / sizeof *breaks; i++) {
        make_tzif(&b, 0, 0, times, offsets, 2, NULL);
        b.b[breaks[i].at] = breaks[i].value;
        z = NULL;
        CHECK(tz_parse(b.b, b.n, "broken", &z, err, sizeof err) == -1 && !z);
        if (!strstr(err, breaks[i].why)) fprintf(stderr, "break %zu: %s\n", i, err);
        CHECK(strstr(err, breaks[i].why) != NULL);
    }
    int64_t backwards[2] = {2000000, 1000000};
    make_tzif(&b, 0, 0, backwards, offsets, 2, NULL);
    CHECK(tz_parse(b.b, b.n, "backwards", &z, err, sizeof err) == -1);
    CHECK(strstr(err, "not ascending") != NULL);
    int32_t huge[2] = {3600, 100000};
    make_tzif(&b, 0, 0, times, huge, 2, NULL);
    CHECK(tz_parse(b.b, b.n, "huge", &z, err, sizeof err) == -1);
    const char *bad_footers[] = {"EST5EDT",
                                 "EST",
                                 "E5",
                                 "EST5EDT,M3.2.0",
                                 "EST5EDT,M13.1.0,M1.1.0",
                                 "EST5EDT,M3.6.0,M11.1.0",
                                 "EST5EDT,J0,J100",
                                 "EST5EDT,366,100",
                                 "EST5EDT,M3.2.0/168,M11.1.0",
                                 "<EST5",
                                 "EST5x",
                                 "EST25"};
    for (size_t i = 0; i < sizeof bad_footers / sizeof *bad_footers; i++) {
        make_tzif(&b, '2', 0, times, offsets, 2, bad_footers[i]);
        z = NULL;
        int rc = tz_parse(b.b, b.n, "footer", &z, err, sizeof err);
        if (rc == 0) fprintf(stderr, "footer '%s' was accepted\n", bad_footers[i]);
        CHECK(rc == -1 && !z);
        tz_free(z);
    }
}

/* ------------------------------------------------------------------ against glibc */

/* Compares z with glibc's zone TZ=tzvalue from year `from` to `to`: samples every 7 h 13 min,
 * and on both sides of every change tz_next_change reports; between two changes glibc's offset
 * must not change either (checked at the samples). Returns the number of changes seen. */
static int compare_with_glibc(const struct tz *z, const char *tzvalue, int from, int to)
{
    glibc_zone(tzvalue);
    int64_t t = utc(from, 1, 1, 0, 0), end = utc(to, 1, 1, 0, 0), next;
    int changes = 0, bad = 0;
    if (tz_next_change(z, t, &next) < 0) next = INT64_MAX;
    while (t < end && bad < 5) {
        if (next <= t) {
            changes++;
            if (tz_offset(z, next - 1) != glibc_offset(next - 1) ||
                tz_offset(z, next) != glibc_offset(next) ||
                tz_offset(z, next - 1) == tz_offset(z, next)) {
                fprintf(stderr, "%s: change at %lld: ours %d -> %d, glibc %d -> %d\n", tzvalue,
                        (long long)next, tz_offset(z, next - 1), tz_offset(z, next),
                        glibc_offset(next - 1), glibc_offset(next));
                bad++;
            }
            int64_t after = next;
            if (tz_next_change(z, after, &next) < 0) next = INT64_MAX;
            CHECK(next > after);
            continue;
        }
        if (tz_offset(z, t) != glibc_offset(t)) {
            fprintf(stderr, "%s: at %lld ours %d, glibc %d\n", tzvalue, (long long)t,
                    tz_offset(z, t), glibc_offset(t));
            bad++;
        }
        t += 7 * 3600 + 13 * 60;
    }
    CHECK_EQ_INT(bad, 0);
    return changes;
}

static const char *const zones[] = {
    "America/New_York",    "Europe/Berlin",     "Pacific/Chatham",    "Asia/Kolkata",
    "Australia/Lord_Howe", "America/Sao_Paulo", "Africa/Casablanca",  "Europe/Dublin",
    "America/Nuuk",        "Antarctica/Troll",  "Pacific/Apia",       "America/Santiago",
    "Asia/Tehran",         "Australia/Sydney",  "Pacific/Kiritimati", "Etc/GMT+5",
};

static void test_real_zones(void)
{
    for (size_t i = 0; i < sizeof zones / sizeof *zones; i++) {
        struct tz *z = NULL;
        char err[300], tzvalue[300];
        if (tz_load(zones[i], &z, err, sizeof err) < 0) {
            fprintf(stderr, "%s\n", err);
            CHECK(0);
            continue;
        }
        snprintf(tzvalue, sizeof tzvalue, ":%s", zones[i]);
        int changes = compare_with_glibc(z, tzvalue, 1900, 2100);
        printf("%-20s %4d offset changes 1900-2100 agree with glibc\n", zones[i], changes);
        tz_free(z);
    }
}

/* The same file cut down to its v1 part (32-bit times, no footer) agrees with glibc within
 * 32-bit time, and with the whole file. */
static void test_v1_copies(void)
{
    const char *names[] = {"America/New_York", "Europe/Berlin", "Pacific/Chatham"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[300];
        snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", names[i]);
        FILE *f = fopen(path, "rb");
        CHECK(f != NULL);
        if (!f) continue;
        static uint8_t buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        CHECK(n > 44 && buf[4] >= '2');
        buf[4] = 0; /* a v1 reader stops after the first block: the rest is never looked at */
        struct tz *v1 = NULL, *whole = NULL;
        char err[300];
        CHECK(tz_parse(buf, n, names[i], &v1, err, sizeof err) == 0);
        CHECK(tz_load(names[i], &whole, err, sizeof err) == 0);
        if (v1 && whole) {
            char tzvalue[300];
            snprintf(tzvalue, sizeof tzvalue, ":%s", names[i]);
            compare_with_glibc(v1, tzvalue, 1902, 2037);
            for (int64_t t = INT32_MIN; t < INT32_MAX - 86400; t += 86400 * 3 + 3607)
                if (tz_offset(v1, t) != tz_offset(whole, t)) {
                    CHECK_EQ_INT(tz_offset(v1, t), tz_offset(whole, t));
                    break;
                }
        }
        tz_free(v1);
        tz_free(whole);
    }
}

/* POSIX rule strings as a footer with no transitions (the rule holds for all time) against
 * glibc reading the same string from TZ: every date form, negative and over-24 h times,
 * southern and negative DST, DST all year. */
static void test_rules(void)
{
    const char *rules[] = {
        "EST5EDT,M3.2.0,M11.1.0",
        "CET-1CEST,M3.5.0,M10.5.0/3",
        "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
        "IST-1GMT0,M10.5.0,M3.5.0/1",
        "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
        "<-04>4<-03>,M9.1.6/24,M4.1.6/24",
        "<+00>0<+02>-2,M3.5.0/1,M10.5.0/3",
        "AAA3BBB,J60/2,J300/2",
        "AAA3BBB,59/-1,299/26",
        "AAA-10:30BBB-11,M10.1.0,M4.1.0",
        "XXX3YYY2:30:15,M4.1.0/0:00:30,M10.5.6/1:59:59",
        "<+0530>-5:30",
        "AAA-14",
    };
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        struct blob b;
        make_tzif(&b, '3', 0, NULL, NULL, 0, rules[i]);
        struct tz *z = NULL;
        char err[300];
        if (tz_parse(b.b, b.n, rules[i], &z, err, sizeof err) < 0) {
            fprintf(stderr, "%s: %s\n", rules[i], err);
            CHECK(0);
            continue;
        }
        compare_with_glibc(z, rules[i], 1970, 2060);
        tz_free(z);
    }
    /* DST all year (RFC 8536 3.3.1), where glibc gives EST for the hours before 05:00 UTC
     * on January 1 and tzcode does not */
    struct tz_rule r;
    const char *why = NULL;
    CHECK(tz_rule_parse("EST5EDT4,0/0,J365/25", 20, &r, &why) == 0);
    int64_t at;
    CHECK(tz_rule_next_change(&r, utc(2030, 6, 1, 0, 0), &at) == -1); /* DST all year */
    CHECK_EQ_INT(tz_rule_offset(&r, utc(2030, 1, 1, 0, 0)), -4 * 3600);
    CHECK_EQ_INT(tz_rule_offset(&r, utc(2030, 12, 31, 23, 59)), -4 * 3600);
    CHECK_EQ_INT(tz_rule_offset(&r, utc(2030, 1, 1, 5, 0)), -4 * 3600);
    CHECK_EQ_INT(tz_rule_offset(&r, utc(2030, 1, 1, 4, 59)), -4 * 3600);
    CHECK(tz_rule_parse("EST5EDT", 7, &r, &why) == -1 && strstr(why, "without a rule"));
}

int main(void)
{
    test_names();
    test_load();
    test_tzdir();
    test_blobs();
    test_real_zones();
    test_v1_copies();
    test_rules();
    return check_report();
}
