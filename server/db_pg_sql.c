/* db_pg_sql: the SQL text of the PostgreSQL driver. One scanner walks a statement as
 * PostgreSQL's lexer would (string literals '' and E'', quoted identifiers, dollar quotes, line
 * and nested block comments) and replaces each SQLite parameter (`?`, `?N`) outside them:
 * with `$N` to prepare it, or with its bound value as a literal for the replay journal. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/db_pg_internal.h"

/* A growing string; oom set once an allocation failed (then everything else is a no-op). */
struct buf {
    char *p;
    size_t n, cap;
    bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static char *finish(struct buf *b)
{
    if (!b->p) put(b, "", 0);
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    return b->p;
}

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || (unsigned char)c >= 0x80;
}

/* The length of the token at p that no parameter can be inside (a literal, a quoted
 * identifier, a comment), or 0 if none starts there. prev: the character before p. */
static size_t opaque_len(const char *p, char prev)
{
    const char *q = p;
    if (q[0] == '-' && q[1] == '-') {
        while (*q && *q != '\n')
            q++;
        return (size_t)(q - p);
    }
    if (q[0] == '/' && q[1] == '*') { /* nested, as PostgreSQL has them */
        int depth = 0;
        while (*q) {
            if (q[0] == '/' && q[1] == '*')
                depth++, q += 2;
            else if (q[0] == '*' && q[1] == '/') {
                q += 2;
                if (--depth == 0) break;
            } else
                q++;
        }
        return (size_t)(q - p);
    }
    bool escapes = false;
    if ((q[0] == 'e' || q[0] == 'E') && q[1] == '\'' && !ident_char(prev)) escapes = true, q++;
    if (*q == '\'' || *q == '"') {
        char quote = *q++;
        while (*q) {
            if (escapes && *q == '\\' && q[1])
                q += 2;
            else if (*q == quote && q[1] == quote)
                q += 2;
            else if (*q++ == quote)
                break;
        }
        return (size_t)(q - p);
    }
    if (*q == '$' && !ident_char(prev)) { /* $tag$ ... $tag$ (not $1: a parameter) */
        const char *t = q + 1;
        if (*t >= '0' && *t <= '9') return 0;
        while (*t && *t != '$' && ident_char(*t))
            t++;
        if (*t != '$') return 0;
        size_t taglen = (size_t)(t - q) + 1;
        const char *end = t + 1;
        while ((end = strchr(end, '$')) && strncmp(end, q, taglen) != 0)
            end++;
        return end ? (size_t)(end + taglen - p) : strlen(p);
    }
    return 0;
}

/* Writes parameter n (1-based) into b. */
typedef void emit_fn(struct buf *b, int n, void *arg);

static char *rewrite(const char *sql, int *nparams, emit_fn *emit, void *arg)
{
    struct buf b = {0};
    int max = 0;
    char prev = ' ';
    const char *p = sql;
    while (*p) {
        size_t skip = opaque_len(p, prev);
        if (skip) {
            put(&b, p, skip);
            p += skip;
            prev = p[-1];
            continue;
        }
        if (*p != '?') {
            prev = *p;
            put(&b, p++, 1);
            continue;
        }
        p++;
        int n;
        if (*p >= '0' && *p <= '9') {
            char *end;
            long v = strtol(p, &end, 10);
            p = end;
            n = v > 65535 ? 65535 : (int)v;
        } else
            n = max + 1;
        if (n > max) max = n;
        emit(&b, n, arg);
        prev = '0';
    }
    if (nparams) *nparams = max;
    return finish(&b);
}

static void emit_dollar(struct buf *b, int n, void *arg)
{
    (void)arg;
    putf(b, "$%d", n);
}

char *pg_sql_translate(const char *sql, int *nparams)
{
    return rewrite(sql, nparams, emit_dollar, NULL);
}

void pg_format_double(char out[32], double v)
{
    for (int digits = 15; digits <= 17; digits++) { /* the shortest that reads back the same */
        snprintf(out, 32, "%.*g", digits, v);
        if (strtod(out, NULL) == v) return;
    }
}

struct expand {
    const struct pg_param *params;
    int nparams;
    bool std_strings;
};

/* Text as a literal: '...' with quotes doubled; E'...' with backslashes doubled too when it
 * has any (right whatever standard_conforming_strings says, as PQescapeLiteral does). */
static void emit_text(struct buf *b, const char *s)
{
    bool backslash = strchr(s, '\\') != NULL;
    puts_(b, backslash ? " E'" : "'");
    for (const char *q = s; *q; q++) {
        const char *run = q;
        while (*q && *q != '\'' && *q != '\\')
            q++;
        put(b, run, (size_t)(q - run));
        if (!*q) break;
        put(b, q, 1);
        put(b, q, 1);
    }
    puts_(b, "'");
}

static void emit_value(struct buf *b, int n, void *arg)
{
    const struct expand *x = arg;
    const struct pg_param *v = n >= 1 && n <= x->nparams ? &x->params[n - 1] : NULL;
    switch (v ? v->type : PG_NULL) {
    case PG_NULL:
        puts_(b, "NULL");
        break;
    case PG_INT: /* typed as the bound parameter is: int8 (so `?1 * ?2` cannot overflow int4) */
        putf(b, v->i < 0 ? "(%lld)::int8" : "%lld::int8", (long long)v->i);
        break;
    case PG_DOUBLE:
        if (isnan(v->d))
            puts_(b, "'NaN'::float8");
        else if (isinf(v->d))
            puts_(b, v->d < 0 ? "'-Infinity'::float8" : "'Infinity'::float8");
        else {
            char num[32];
            pg_format_double(num, v->d);
            putf(b, "'%s'::float8", num);
        }
        break;
    case PG_TEXT:
        emit_text(b, v->p);
        break;
    case PG_BLOB: {
        static const char hex[] = "0123456789abcdef";
        puts_(b, x->std_strings ? "'\\x" : " E'\\\\x");
        const unsigned char *u = (const unsigned char *)v->p;
        for (size_t i = 0; i < v->n; i++) {
            char h[2] = {hex[u[i] >> 4], hex[u[i] & 15]};
            put(b, h, 2);
        }
        puts_(b, "'::bytea");
        break;
    }
    }
}

char *pg_sql_expand(const char *sql, const struct pg_param *params, int nparams, bool std_strings)
{
    struct expand x = {params, nparams, std_strings};
    return rewrite(sql, NULL, emit_value, &x);
}
