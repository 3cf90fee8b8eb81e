/* text: a growable text buffer, and JSON written straight into it (the hot responses are
 * encoded without building a jansson tree first). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

static bool reserve(struct text *t, size_t extra)
{
    if (t->failed) return false;
    if (t->len + extra + 1 <= t->cap) return true;
    size_t cap = t->cap ? t->cap : 1024;
    while (cap < t->len + extra + 1)
        cap *= 2;
    char *p = realloc(t->data, cap);
    if (!p) {
        t->failed = true;
        return false;
    }
    t->data = p;
    t->cap = cap;
    return true;
}

void text_add(struct text *t, const char *s, size_t n)
{
    if (!reserve(t, n)) return;
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
}

void text_add_number(struct text *t, double d)
{
    char buf[32];
    for (int precision = 15; precision <= 17; precision++) { /* shortest that reads back */
        snprintf(buf, sizeof buf, "%.*g", precision, d);
        if (strtod(buf, NULL) == d) break;
    }
    text_add(t, buf, strlen(buf));
}

void text_addf(struct text *t, const char *fmt, ...)
{
    /* formatted once into the room there is; only what does not fit is formatted again */
    if (!reserve(t, 64)) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->data[t->len] = '\0';
        return;
    }
    if ((size_t)n >= t->cap - t->len) {
        if (!reserve(t, (size_t)n)) {
            t->data[t->len] = '\0';
            return;
        }
        va_start(ap, fmt);
        vsnprintf(t->data + t->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    t->len += (size_t)n;
}

void text_add_int(struct text *t, int64_t v)
{
    char buf[24], *p = buf + sizeof buf;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--p = '-';
    text_add(t, p, (size_t)(buf + sizeof buf - p));
}

void text_json_string(struct text *t, const char *s)
{
    text_json_stringn(t, s, strlen(s));
}

void text_json_stringn(struct text *t, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (!reserve(t, len + 2)) return;
    text_add(t, "\"", 1);
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        const unsigned char *run = p; /* copy plain bytes in runs */
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p > run) text_add(t, (const char *)run, (size_t)(p - run));
        if (p == end) break;
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p++};
            text_add(t, esc, 2);
        } else if (*p < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            text_add(t, esc, 6);
            p++;
        } else {
            int n = api_utf8_length(p);
            if (n == 0 || n > end - p) { /* not UTF-8: the replacement character */
                text_add(t, "\xef\xbf\xbd", 3);
                p++;
            } else {
                text_add(t, (const char *)p, (size_t)n);
                p += n;
            }
        }
    }
    text_add(t, "\"", 1);
}

void text_free(struct text *t)
{
    free(t->data);
    memset(t, 0, sizeof *t);
}
