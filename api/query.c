/* query: strict query-string and path-id parsing. Unknown or repeated parameters are
 * rejected like unknown JSON fields, so a typo never goes unnoticed. The parsers work on
 * plain strings (tests/fuzz/fuzz_query.c drives them); the api_query_* wrappers read the
 * values from the connection. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

size_t api_unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r;) {
        int hi = r[0] == '%' ? hex_value(r[1]) : -1, lo = hi >= 0 ? hex_value(r[2]) : -1;
        if (lo >= 0 && (hi | lo)) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else
            *w++ = *r++;
    }
    *w = '\0';
    return (size_t)(w - s);
}

int api_query_key(struct query_keys *k, const char *key, struct api_error *e)
{
    bool known = false;
    for (const char *const *a = k->allowed; *a; a++)
        if (strcmp(*a, key) == 0) known = true;
    if (!known)
        return api_fail(e, 400, "invalid_argument", key, "unknown query parameter '%.100s'", key);
    for (int i = 0; i < k->nseen; i++)
        if (strcmp(k->seen[i], key) == 0)
            return api_fail(e, 400, "invalid_argument", key, "query parameter '%s' is given twice",
                            key);
    if (k->nseen < QUERY_MAX_KEYS) k->seen[k->nseen++] = key;
    return 0;
}

int api_parse_int(const char *name, const char *v, int64_t min, int64_t max, int64_t *out,
                  struct api_error *e)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < min || n > max || (*v != '-' && (*v < '0' || *v > '9')))
        return api_fail(e, 400, "invalid_argument", name,
                        "query parameter '%s' must be an integer from %lld to %lld, got '%.50s'",
                        name, (long long)min, (long long)max, v);
    *out = n;
    return 0;
}

int api_parse_seconds(const char *name, const char *v, double min, double max, double *out,
                      struct api_error *e)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(d) || d < min || d > max || (*v < '0' || *v > '9'))
        return api_fail(e, 400, "invalid_argument", name,
                        "query parameter '%s' must be a number of seconds from %g to %g, got "
                        "'%.50s'",
                        name, min, max, v);
    *out = d;
    return 0;
}

int api_parse_id(const char *text, size_t len, int64_t *out, struct api_error *e)
{
    int64_t v = 0;
    bool ok = len > 0 && len <= 19 && text[0] != '0';
    for (size_t i = 0; ok && i < len; i++) {
        int digit = text[i] - '0';
        if (digit < 0 || digit > 9 || v > (INT64_MAX - digit) / 10)
            ok = false; /* not a digit, or past the largest id (2^63-1) */
        else
            v = v * 10 + digit;
    }
    if (!ok)
        return api_fail(e, 400, "invalid_argument", "id",
                        "job id must be a positive integer, got '%.*s'", (int)(len > 40 ? 40 : len),
                        text);
    *out = v;
    return 0;
}

int api_parse_id_list(const char *v, int64_t *ids, size_t max, size_t *n, struct api_error *e)
{
    *n = 0;
    if (!v || !*v)
        return api_fail(e, 400, "invalid_argument", "ids",
                        "ids is required: a comma-separated list of job ids");
    for (const char *p = v;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (*n == max)
            return api_fail(e, 400, "invalid_argument", "ids", "ids lists at most %zu jobs", max);
        if (api_parse_id(p, len, &ids[*n], e) < 0) {
            snprintf(e->field, sizeof e->field, "ids");
            return -1;
        }
        ++*n;
        if (!comma) return 0;
        p = comma + 1;
    }
}

struct check {
    struct query_keys keys;
    struct api_error *e;
    bool bad;
};

static enum MHD_Result check_one(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    (void)value;
    struct check *ck = cls;
    if (api_query_key(&ck->keys, key, ck->e) == 0) return MHD_YES;
    ck->bad = true;
    return MHD_NO;
}

int api_query_check(struct MHD_Connection *c, const char *const *allowed, struct api_error *e)
{
    struct check ck = {.keys = {.allowed = allowed}, .e = e};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, check_one, &ck);
    return ck.bad ? -1 : 0;
}

int api_query_int(struct MHD_Connection *c, const char *name, int64_t min, int64_t max, int64_t def,
                  int64_t *out, struct api_error *e)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    if (!v) {
        *out = def;
        return 0;
    }
    return api_parse_int(name, v, min, max, out, e);
}

int api_query_seconds(struct MHD_Connection *c, const char *name, double min, double max,
                      double def, double *out, struct api_error *e)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    if (!v) {
        *out = def;
        return 0;
    }
    return api_parse_seconds(name, v, min, max, out, e);
}

int api_query_filter(struct MHD_Connection *c, struct store_filter *f, struct api_error *e)
{
    int64_t before;
    if (api_query_int(c, "before", 1, INT64_MAX, 0, &before, e) < 0) return -1;
    *f = (struct store_filter){
        .state = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state"),
        .queue = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "queue"),
        .name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name"),
        .before = before,
    };
    enum job_state st;
    if (f->state && job_state_parse(f->state, &st) < 0)
        return api_fail(e, 400, "invalid_argument", "state",
                        "unknown state '%.50s' (one of queued, running, succeeded, failed, "
                        "terminated, timed_out, canceled, lost)",
                        f->state);
    return 0;
}
