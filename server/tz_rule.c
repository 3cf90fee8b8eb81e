/* tz_rule: POSIX TZ strings as TZif footers carry them ("CET-1CEST,M3.5.0,M10.5.0/3"): the
 * parser, and the offset and offset changes they give for any year, by arithmetic. */
#include "server/tz_internal.h"

#include "server/calendar.h"

/* Times far beyond any calendar are taken at this bound: a year fits an int64 with room. */
#define RULE_TIME_BOUND ((int64_t)1 << 46)

struct scan {
    const char *p, *end;
    const char *why;
};

static bool at_end(const struct scan *s)
{
    return s->p == s->end;
}

static int peek(const struct scan *s)
{
    return at_end(s) ? -1 : (unsigned char)*s->p;
}

static bool is_alpha(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* A zone abbreviation: 3 or more letters, or <...> of letters, digits, '+' and '-'. */
static int scan_name(struct scan *s)
{
    size_t n = 0;
    if (peek(s) == '<') {
        s->p++;
        while (!at_end(s) &&
               (is_alpha(peek(s)) || is_digit(peek(s)) || peek(s) == '+' || peek(s) == '-'))
            s->p++, n++;
        if (peek(s) != '>') return s->why = "unterminated <name>", -1;
        s->p++;
    } else {
        while (!at_end(s) && is_alpha(peek(s)))
            s->p++, n++;
    }
    if (n < 3) return s->why = "a zone abbreviation needs 3 or more characters", -1;
    return 0;
}

static int scan_number(struct scan *s, int max, int *out)
{
    if (!is_digit(peek(s))) return s->why = "a number was expected", -1;
    int v = 0;
    while (is_digit(peek(s))) {
        v = v * 10 + (*s->p++ - '0');
        if (v > max) return s->why = "a number is out of range", -1;
    }
    *out = v;
    return 0;
}

/* [+-]hh[:mm[:ss]] with hh up to max_hours, in seconds. */
static int scan_hms(struct scan *s, int max_hours, int32_t *out)
{
    int sign = 1, h, m = 0, sec = 0;
    if (peek(s) == '+' || peek(s) == '-') sign = *s->p++ == '-' ? -1 : 1;
    if (scan_number(s, max_hours, &h) < 0) return -1;
    if (peek(s) == ':') {
        s->p++;
        if (scan_number(s, 59, &m) < 0) return -1;
        if (peek(s) == ':') {
            s->p++;
            if (scan_number(s, 59, &sec) < 0) return -1;
        }
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    return 0;
}

static int scan_date(struct scan *s, struct tz_rule_date *d)
{
    if (peek(s) == 'J') {
        s->p++;
        d->kind = TZ_DATE_JULIAN1;
        if (scan_number(s, 365, &d->day) < 0) return -1;
        if (d->day < 1) return s->why = "Jn needs n from 1 to 365", -1;
    } else if (peek(s) == 'M') {
        s->p++;
        d->kind = TZ_DATE_MONTH_WEEK;
        if (scan_number(s, 12, &d->month) < 0) return -1;
        if (peek(s) != '.') return s->why = "Mm.w.d needs its dots", -1;
        s->p++;
        if (scan_number(s, 5, &d->week) < 0) return -1;
        if (peek(s) != '.') return s->why = "Mm.w.d needs its dots", -1;
        s->p++;
        if (scan_number(s, 6, &d->weekday) < 0) return -1;
        if (d->month < 1 || d->week < 1) return s->why = "Mm.w.d out of range", -1;
    } else {
        d->kind = TZ_DATE_JULIAN0;
        if (scan_number(s, 365, &d->day) < 0) return -1;
    }
    d->time = 2 * 3600;
    if (peek(s) == '/') {
        s->p++;
        if (scan_hms(s, 167, &d->time) < 0) return -1; /* RFC 8536 3.3.1: -167 to 167 */
    }
    return 0;
}

int tz_rule_parse(const char *text, size_t len, struct tz_rule *r, const char **why)
{
    struct scan s = {.p = text, .end = text + len, .why = "malformed"};
    int32_t off;
    *r = (struct tz_rule){0};
    if (scan_name(&s) < 0 || scan_hms(&s, 24, &off) < 0) goto fail;
    r->std_offset = -off; /* POSIX counts hours west of Greenwich */
    if (at_end(&s)) return 0;
    if (scan_name(&s) < 0) goto fail;
    r->has_dst = true;
    r->dst_offset = r->std_offset + 3600;
    if (peek(&s) != ',' && !at_end(&s)) {
        if (scan_hms(&s, 24, &off) < 0) goto fail;
        r->dst_offset = -off;
    }
    if (peek(&s) != ',') {
        s.why = at_end(&s) ? "a DST name without a rule" : "',' expected before the DST rule";
        goto fail;
    }
    s.p++;
    if (scan_date(&s, &r->start) < 0) goto fail;
    if (peek(&s) != ',') {
        s.why = "',' expected between the DST start and end";
        goto fail;
    }
    s.p++;
    if (scan_date(&s, &r->end) < 0) goto fail;
    if (!at_end(&s)) {
        s.why = "unexpected characters after the rule";
        goto fail;
    }
    return 0;
fail:
    *why = s.why;
    return -1;
}

/* The day number (since 1970-01-01) on which d falls in year. */
static int64_t rule_day(const struct tz_rule_date *d, int64_t year)
{
    int64_t jan1 = calendar_days_from_civil(year, 1, 1);
    switch (d->kind) {
    case TZ_DATE_JULIAN1:
        return jan1 + d->day - 1 + (calendar_is_leap(year) && d->day >= 60);
    case TZ_DATE_JULIAN0:
        return jan1 + d->day;
    case TZ_DATE_MONTH_WEEK:
        break;
    }
    int64_t first = calendar_days_from_civil(year, d->month, 1);
    int day = 1 + (d->weekday - calendar_weekday(first) + 7) % 7 + (d->week - 1) * 7;
    while (day > calendar_days_in_month(year, d->month))
        day -= 7; /* week 5: the last one */
    return first + day - 1;
}

/* A year's two changes in UTC, in time order, the end first at equal times. Of changes at the
 * same instant the one listed later counts (a year's after the year before's), so DST all
 * year ("EST5EDT,0/0,J365/25": one year's end is the next one's start) stays DST. */
struct rule_change {
    int64_t at;
    bool to_dst;
};

static void rule_changes(const struct tz_rule *r, int64_t year, struct rule_change out[2])
{
    int64_t start = rule_day(&r->start, year) * 86400 + r->start.time - r->std_offset;
    int64_t end = rule_day(&r->end, year) * 86400 + r->end.time - r->dst_offset;
    struct rule_change a = {start, true}, b = {end, false};
    bool start_first = start < end;
    out[0] = start_first ? a : b;
    out[1] = start_first ? b : a;
}

static int64_t clamp_time(int64_t t)
{
    return t < -RULE_TIME_BOUND ? -RULE_TIME_BOUND : t > RULE_TIME_BOUND ? RULE_TIME_BOUND : t;
}

static int64_t year_of(int64_t t)
{
    struct calendar_time c;
    calendar_split(t, &c);
    return c.year;
}

int32_t tz_rule_offset(const struct tz_rule *r, int64_t t)
{
    if (!r->has_dst) return r->std_offset;
    t = clamp_time(t);
    int64_t year = year_of(t + r->std_offset);
    /* the last change at or before t among three years' (a rule's changes stay within
     * 167 h of their year, so t's year and its neighbours hold the one that counts) */
    bool dst = false, found = false;
    int64_t last = 0;
    for (int64_t y = year - 1; y <= year + 1; y++) {
        struct rule_change ch[2];
        rule_changes(r, y, ch);
        for (int k = 0; k < 2; k++)
            if (ch[k].at <= t && (!found || ch[k].at >= last)) /* ties: the later listed */
                found = true, last = ch[k].at, dst = ch[k].to_dst;
    }
    return dst ? r->dst_offset : r->std_offset;
}

int tz_rule_next_change(const struct tz_rule *r, int64_t t, int64_t *at)
{
    if (!r->has_dst || r->dst_offset == r->std_offset) return -1;
    if (t >= RULE_TIME_BOUND) return -1;
    t = clamp_time(t);
    int64_t year = year_of(t + r->std_offset);
    /* a change in every year, unless DST is on all year or only some years have one (a rule
     * on day 59 or 365, say): eleven years hold a leap year even across a century */
    for (int64_t y = year - 1; y <= year + 10; y++) {
        struct rule_change ch[2];
        rule_changes(r, y, ch);
        for (int k = 0; k < 2; k++)
            if (ch[k].at > t && tz_rule_offset(r, ch[k].at - 1) != tz_rule_offset(r, ch[k].at)) {
                *at = ch[k].at;
                return 0;
            }
    }
    return -1;
}
