/* cron_parse: the text of a cron expression into one bit set per field, with errors that say
 * which field and what is wrong in it. The syntax is Vixie cron's, as cronie reads it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/cron.h"
#include "server/cron_internal.h"

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const weekday_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct cron_field {
    const char *name;
    int min, max;
    const char *const *names; /* the name of min, min + 1, ...; NULL: numbers only */
    int n_names;
    const char *name_range; /* for the message about an unknown name */
};

static const struct cron_field cron_fields[5] = {
    {"minute", 0, 59, NULL, 0, NULL},
    {"hour", 0, 23, NULL, 0, NULL},
    {"day-of-month", 1, 31, NULL, 0, NULL},
    {"month", 1, 12, month_names, 12, "JAN-DEC"},
    {"day-of-week", 0, 7, weekday_names, 7, "SUN-SAT"},
};

/* @shortcuts as the 5 fields they stand for (cronie's entry.c). */
static const struct {
    const char *name, *fields;
} cron_shortcuts[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* Where a field's text is and how to report a problem in it. */
struct field_text {
    const struct cron_field *f;
    const char *s; /* the field's text, len bytes */
    size_t len;
    char *err;
    size_t errlen;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_letter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Writes "<field> field: <what> (in '<the field>')" to the error; returns -1. */
__attribute__((format(printf, 2, 3))) static int field_fail(const struct field_text *ft,
                                                            const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char field[65];
    size_t n = ft->len < 64 ? ft->len : 64;
    for (size_t i = 0; i < n; i++) /* the field as typed, control characters as '?' */
        field[i] = ft->s[i] > ' ' && ft->s[i] < 0x7f ? ft->s[i] : '?';
    field[n] = '\0';
    snprintf(ft->err, ft->errlen, "%s field: %s (in '%s')", ft->f->name, what, field);
    return -1;
}

/* A length for "%.*s" of a piece of the expression: short enough for a message. */
static int clip(size_t n)
{
    return (int)(n > 32 ? 32 : n);
}

/* Reports the character c where it does not belong (a control character as \xNN). */
static int unexpected(const struct field_text *ft, char c)
{
    if (c > ' ' && c < 0x7f) return field_fail(ft, "unexpected '%c'", c);
    return field_fail(ft, "unexpected '\\x%02x'", (unsigned char)c);
}

/* A number or (where the field has names) a 3-letter name at *p, within end; its value. */
static int parse_value(const struct field_text *ft, const char **p, const char *end, int *out)
{
    const char *q = *p;
    if (q < end && *q >= '0' && *q <= '9') {
        long v = 0;
        while (q < end && *q >= '0' && *q <= '9') {
            v = v * 10 + (*q++ - '0');
            if (v > 1000) v = 1000; /* out of every range, and no overflow */
        }
        if (v < ft->f->min || v > ft->f->max)
            return field_fail(ft, "%.*s is out of range %d-%d", clip((size_t)(q - *p)), *p,
                              ft->f->min, ft->f->max);
        *p = q, *out = (int)v;
        return 0;
    }
    while (q < end && is_letter(*q))
        q++;
    size_t n = (size_t)(q - *p);
    if (n == 0) {
        if (*p == end) return field_fail(ft, "a value is missing");
        return unexpected(ft, **p);
    }
    if (!ft->f->names) return field_fail(ft, "'%.*s' is not a number", clip(n), *p);
    for (int i = 0; i < ft->f->n_names && n == 3; i++)
        if (strncasecmp(*p, ft->f->names[i], 3) == 0) {
            *p = q, *out = ft->f->min + i;
            return 0;
        }
    return field_fail(ft, "unknown name '%.*s' (use %s)", clip(n), *p, ft->f->name_range);
}

/* One list item: '*', a value or a range a-b, then an optional step /n; sets its bits. */
static int parse_item(const struct field_text *ft, const char *p, const char *end, uint64_t *bits)
{
    const char *item = p;
    int lo = ft->f->min, hi = ft->f->max, step = 1;
    bool range = true;
    if (p < end && *p == '*') {
        p++;
    } else {
        if (parse_value(ft, &p, end, &lo) < 0) return -1;
        hi = lo, range = false;
        if (p < end && *p == '-') {
            p++;
            if (parse_value(ft, &p, end, &hi) < 0) return -1;
            range = true;
            if (lo > hi)
                return field_fail(ft, "range '%.*s' goes backwards", clip((size_t)(p - item)),
                                  item);
        }
    }
    if (p < end && *p == '/') {
        if (!range)
            return field_fail(ft, "a step needs a range ('%.*s': write a-b/n or */n)",
                              clip((size_t)(end - item)), item);
        const char *s = ++p;
        long v = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            v = v * 10 + (*p++ - '0');
            if (v > 1000) v = 1000;
        }
        if (p == s) return field_fail(ft, "a step needs a number after '/'");
        if (v < 1 || v > ft->f->max - ft->f->min + 1)
            return field_fail(ft, "step %.*s is out of range 1-%d", clip((size_t)(p - s)), s,
                              ft->f->max - ft->f->min + 1);
        step = (int)v;
    }
    if (p < end) return unexpected(ft, *p);
    for (int v = lo; v <= hi; v += step)
        *bits |= (uint64_t)1 << v;
    return 0;
}

/* A comma-separated list of items. */
static int parse_field(const struct field_text *ft, uint64_t *bits)
{
    const char *p = ft->s, *end = ft->s + ft->len;
    *bits = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;
        if (item_end == p) return field_fail(ft, "an empty list item");
        if (parse_item(ft, p, item_end, bits) < 0) return -1;
        if (!comma) return 0;
        p = comma + 1;
    }
}

static int parse_fields(const char *text, struct cron *c, char *err, size_t errlen)
{
    struct field_text ft[5];
    int n = 0;
    for (const char *p = text;;) {
        while (is_space(*p))
            p++;
        if (!*p) break;
        const char *start = p;
        while (*p && !is_space(*p))
            p++;
        if (n < 5)
            ft[n] = (struct field_text){&cron_fields[n], start, (size_t)(p - start), err, errlen};
        n++;
    }
    if (n != 5) {
        snprintf(err, errlen,
                 "expected 5 fields (minute hour day-of-month month day-of-week) or an @shortcut, "
                 "found %d",
                 n);
        return -1;
    }
    uint64_t bits[5];
    for (int i = 0; i < 5; i++)
        if (parse_field(&ft[i], &bits[i]) < 0) return -1;
    c->minutes = bits[0];
    c->hours = (uint32_t)bits[1];
    c->days = (uint32_t)bits[2];
    c->months = (uint16_t)bits[3];
    c->weekdays = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f); /* 7 is Sunday */
    c->minute_star = ft[0].s[0] == '*';
    c->hour_star = ft[1].s[0] == '*';
    c->day_star = ft[2].s[0] == '*';
    c->weekday_star = ft[4].s[0] == '*';
    return 0;
}

int cron_parse(const char *expr, struct cron **out, char *err, size_t errlen)
{
    size_t len = strnlen(expr, CRON_EXPR_MAX + 1);
    if (len > CRON_EXPR_MAX) {
        snprintf(err, errlen, "the expression is longer than %d bytes", CRON_EXPR_MAX);
        return -1;
    }
    const char *text = expr;
    while (is_space(*text))
        text++;
    if (*text == '@') {
        size_t n = strcspn(text, " \t");
        const char *rest = text + n;
        while (is_space(*rest))
            rest++;
        const char *fields = NULL;
        for (size_t i = 0; i < sizeof cron_shortcuts / sizeof cron_shortcuts[0]; i++)
            if (strlen(cron_shortcuts[i].name) == n &&
                strncasecmp(text, cron_shortcuts[i].name, n) == 0)
                fields = cron_shortcuts[i].fields;
        if (!fields) {
            snprintf(err, errlen,
                     "unknown shortcut '%.*s' (use @yearly, @annually, @monthly, @weekly, "
                     "@daily, @midnight or @hourly)",
                     (int)(n > 32 ? 32 : n), text);
            return -1;
        }
        if (*rest) {
            snprintf(err, errlen, "%.*s stands for all 5 fields: nothing may follow it", (int)n,
                     text);
            return -1;
        }
        text = fields;
    }
    struct cron parsed = {0};
    if (parse_fields(text, &parsed, err, errlen) < 0) return -1;
    struct cron *c = malloc(sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *c = parsed;
    *out = c;
    return 0;
}

void cron_free(struct cron *c)
{
    free(c);
}
