/* query: strict query-string and path-id parsing. Unknown or repeated parameters are
 * rejected like unknown JSON fields, so a typo never goes unnoticed. The parsers work on
 * plain strings (tests/fuzz/fuzz_query.c drives them); the api_query_* wrappers read the
 * values from the connection. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "server/clock.h"

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

int api_parse_states(const char *v, enum job_state states[JOB_STATE_COUNT], int *n,
                     struct api_error *e)
{
    *n = 0;
    for (const char *p = v;;) {
        size_t len = strcspn(p, ",");
        char name[16];
        enum job_state st;
        if (len == 0)
            return api_fail(e, 400, "invalid_argument", "state",
                            "state lists states separated by commas (state=failed,timed_out); "
                            "it has an empty one");
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), p);
        if (len >= sizeof name || job_state_parse(name, &st) < 0)
            return api_fail(e, 400, "invalid_argument", "state",
                            "unknown state '%.*s' (one of queued, scheduled, running, succeeded, "
                            "failed, terminated, timed_out, canceled, lost)",
                            (int)(len > 50 ? 50 : len), p);
        bool seen = false;
        for (int i = 0; i < *n; i++)
            seen = seen || states[i] == st;
        if (!seen) states[(*n)++] = st;
        if (!p[len]) return 0;
        p += len + 1;
    }
}

int api_parse_name_filter(const char *v, bool *prefix, struct api_error *e)
{
    const char *star = strchr(v, '*');
    *prefix = star != NULL;
    if (star && star[1])
        return api_fail(e, 400, "invalid_argument", "name",
                        "a '*' in name may only end it: name=build-* lists the jobs whose name "
                        "starts with build-");
    return 0;
}

int api_parse_time(const char *name, const char *v, bool round_up, int64_t *out,
                   struct api_error *e)
{
    bool inexact;
    if (clock_parse(v, out, &inexact) < 0)
        return api_fail(e, 400, "invalid_argument", name,
                        "query parameter '%s' must be an RFC 3339 time such as "
                        "2026-11-27T12:00:00Z (or .5+01:00 at the end), got '%.50s'",
                        name, v);
    if (round_up && inexact) ++*out;
    return 0;
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

/* Reads time parameter name into *ms and points *bound at it (absent: left NULL). 0 or -1. */
static int query_time(struct MHD_Connection *c, const char *name, bool round_up, int64_t *ms,
                      const int64_t **bound, struct api_error *e)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    if (!v) return 0;
    if (api_parse_time(name, v, round_up, ms, e) < 0) return -1;
    *bound = ms;
    return 0;
}

int api_query_filter(struct MHD_Connection *c, struct api_filter *af, struct api_error *e)
{
    *af = (struct api_filter){0};
    struct store_filter *f = &af->f;
    int64_t before, rerun_of;
    if (api_query_int(c, "before", 1, INT64_MAX, 0, &before, e) < 0 ||
        api_query_int(c, "rerun_of", 1, INT64_MAX, 0, &rerun_of, e) < 0)
        return -1;
    f->queue = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "queue");
    f->name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
    f->rerun_of = rerun_of;
    f->schedule = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "schedule");
    f->before = before;
    const char *state = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
    if (state && api_parse_states(state, f->states, &f->n_states, e) < 0) return -1;
    if (f->name && api_parse_name_filter(f->name, &f->name_prefix, e) < 0) return -1;
    if (f->name_prefix) { /* without its '*' */
        if (!(af->name_copy = strndup(f->name, strlen(f->name) - 1)))
            return api_fail(e, 500, "internal", NULL, "out of memory");
        f->name = af->name_copy;
    }
    /* (bounds are exclusive: a time with digits below the millisecond rounds away from it) */
    if (query_time(c, "created_after", false, &af->created_after, &f->created_after, e) < 0 ||
        query_time(c, "created_before", true, &af->created_before, &f->created_before, e) < 0 ||
        query_time(c, "finished_after", false, &af->finished_after, &f->finished_after, e) < 0)
        return -1;
    return 0;
}

void api_filter_free(struct api_filter *af)
{
    free(af->name_copy);
    af->name_copy = NULL;
}
