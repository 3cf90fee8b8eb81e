/* cron: the next run time of a parsed expression in a time zone, found by skipping whole
 * months, days and hours that cannot match (never minute by minute through years).
 *
 * Daylight saving time, as cronie does it (cron(8), "Daylight Saving Time and other time
 * changes"). Cron times are wall-clock times in the schedule's zone; when the zone's offset
 * changes, some wall-clock times are skipped (spring forward) or repeated (fall back):
 * - A job whose minute or hour field starts with '*' ("5 * * * *", "* 9 * * *", @hourly, a
 *   star with a step such as every 15 minutes) follows the wall clock: a skipped time never runs,
 * and in a repeated hour it runs in both passes (Europe/Berlin, 2026-10-25: "5 * * * *" runs at
 * 02:05 CEST and at 02:05 CET).
 * - Any other job (a fixed time: "30 2 * * *", @daily) runs once per wall-clock time it
 *   names: a time skipped by spring forward runs at the first instant after the gap, the
 *   moment of the change (America/New_York, 2026-03-08: "30 2 * * *" runs at 03:00 EDT);
 *   a repeated time runs in its first pass only (2026-11-01: "30 1 * * *" runs at 01:30 EDT,
 *   not again at 01:30 EST).
 * - As in cronie, a change of 3 hours or more is not daylight saving but a new offset
 *   (a zone that moved, a skipped day): then every job follows the wall clock.
 * Day-of-month and day-of-week, as in Vixie cron: when both fields are restricted (neither
 * starts with '*') a day matches if either does ("0 0 13 * 5": the 13th and every Friday);
 * otherwise both must.
 */
#include "server/cron.h"

#include "server/calendar.h"
#include "server/cron_internal.h"

#define CRON_HORIZON ((int64_t)28 * 31557600) /* 28 Julian years, in seconds */
#define CRON_SMALL_CHANGE (3 * 3600)          /* cronie: smaller offset changes are DST */
#define CRON_TIME_MIN ((int64_t)-62135596800) /* 0001-01-01T00:00:00Z */
#define CRON_TIME_MAX ((int64_t)253402300799) /* 9999-12-31T23:59:59Z */
#define CRON_NONE INT64_MAX
#define CRON_MAX_OFFSET (26 * 3600) /* beyond any zone's offset (RFC 8536: under 26 h) */

/* The lowest set bit at or above from (up to 63), or -1. */
static int next_bit(uint64_t bits, int from)
{
    bits >>= from;
    return bits ? from + __builtin_ctzll(bits) : -1;
}

static bool day_matches(const struct cron *c, int64_t year, int month, int day)
{
    bool dom = c->days >> day & 1;
    int weekday = calendar_weekday(calendar_days_from_civil(year, month, day));
    bool dow = c->weekdays >> weekday & 1;
    return c->day_star || c->weekday_star ? dom && dow : dom || dow;
}

bool cron_matches(const struct cron *c, int64_t local)
{
    struct calendar_time t;
    calendar_split(local, &t);
    return (c->months >> t.month & 1) && day_matches(c, t.year, t.month, t.day) &&
           (c->hours >> t.hour & 1) && (c->minutes >> t.minute & 1);
}

bool cron_follows_wall_clock(const struct cron *c)
{
    return c->minute_star || c->hour_star;
}

/* Moves t to the first minute of its next day (which may be past its month's end: the
 * search below moves on to the next month then). */
static void next_day(struct calendar_time *t)
{
    t->day++, t->hour = 0, t->minute = 0;
}

/* The first wall-clock time at or after from (a whole minute) that c names, or CRON_NONE if
 * it is after limit. Each step skips a month, a day, an hour or to the matching minute. */
static int64_t next_local(const struct cron *c, int64_t from, int64_t limit)
{
    struct calendar_time t, end;
    calendar_split(from, &t);
    calendar_split(limit, &end);
    while (t.year <= end.year) {
        int month = next_bit(c->months, t.month);
        if (month < 0) {
            t = (struct calendar_time){.year = t.year + 1, .month = 1, .day = 1};
            continue;
        }
        if (month != t.month) t = (struct calendar_time){.year = t.year, .month = month, .day = 1};
        int last = calendar_days_in_month(t.year, t.month), day = t.day;
        while (day <= last && !day_matches(c, t.year, t.month, day))
            day++;
        if (day > last) {
            t = (struct calendar_time){
                .year = t.year + t.month / 12, .month = t.month % 12 + 1, .day = 1};
            continue;
        }
        if (day != t.day) t.day = day, t.hour = 0, t.minute = 0;
        int hour = next_bit(c->hours, t.hour);
        if (hour < 0) {
            next_day(&t);
            continue;
        }
        if (hour != t.hour) t.hour = hour, t.minute = 0;
        int minute = next_bit(c->minutes, t.minute);
        if (minute < 0) {
            if (++t.hour == 24) next_day(&t);
            t.minute = 0;
            continue;
        }
        t.minute = minute;
        int64_t found = calendar_join(&t);
        return found <= limit ? found : CRON_NONE;
    }
    return CRON_NONE;
}

/* x rounded up to a whole minute. */
static int64_t minute_ceil(int64_t x)
{
    int64_t r = x % 60;
    return r == 0 ? x : r > 0 ? x - r + 60 : x - r;
}

/* The last offset change at or before u that is small enough to be daylight saving and
 * recent enough to matter (within CRON_SMALL_CHANGE): 0 with *at, else -1. */
static int recent_small_change(const struct tz *z, int64_t u, int64_t *at)
{
    int64_t probe = u - CRON_SMALL_CHANGE, c;
    int found = -1;
    while (tz_next_change(z, probe, &c) == 0 && c <= u)
        probe = c, *at = c, found = 0;
    if (found == 0) {
        int d = tz_offset(z, *at) - tz_offset(z, *at - 1);
        if (d >= CRON_SMALL_CHANGE || d <= -CRON_SMALL_CHANGE) found = -1;
    }
    return found;
}

/* Walks the stretches of constant offset from after + 1 on; in each, the first wall-clock
 * time c names that runs there (see the rule at the top) is the answer. */
int64_t cron_next(const struct cron *c, const struct tz *z, int64_t after)
{
    if (after < CRON_TIME_MIN || after > CRON_TIME_MAX) return -1;
    int64_t limit = after + CRON_HORIZON, u = after + 1;
    if (limit > CRON_TIME_MAX) limit = CRON_TIME_MAX; /* a year of 4 digits */
    bool fixed = !cron_follows_wall_clock(c);
    while (u <= limit) {
        int offset = tz_offset(z, u);
        int64_t end, from = u + offset, change;
        if (tz_next_change(z, u, &end) < 0) end = CRON_NONE;
        if (fixed && recent_small_change(z, u, &change) == 0) {
            int before = tz_offset(z, change - 1);
            if (before > offset && change + before > from)
                from = change + before; /* repeated times ran in the first pass */
            else if (before < offset && change == u)
                from = change + before; /* skipped times run at the change, now */
        }
        int64_t local = next_local(c, minute_ceil(from), limit + CRON_MAX_OFFSET);
        if (local == CRON_NONE) return -1;
        if (end == CRON_NONE || local - offset < end) {
            int64_t run = local - offset > u ? local - offset : u;
            return run <= limit ? run : -1;
        }
        u = end;
    }
    return -1;
}
