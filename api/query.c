/* query: strict query-string and path-id parsing. Unknown or repeated parameters are
 * rejected like unknown JSON fields, so a typo never goes unnoticed. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

struct check {
    const char *const *allowed;
    struct api_error *e;
    const char *seen[16];
    int nseen;
    bool bad;
};

static enum MHD_Result check_one(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    (void)value;
    struct check *ck = cls;
    bool known = false;
    for (const char *const *k = ck->allowed; *k; k++)
        if (strcmp(*k, key) == 0) known = true;
    if (!known) {
        api_fail(ck->e, 400, "invalid_argument", key, "unknown query parameter '%.100s'", key);
        ck->bad = true;
        return MHD_NO;
    }
    for (int i = 0; i < ck->nseen; i++)
        if (strcmp(ck->seen[i], key) == 0) {
            api_fail(ck->e, 400, "invalid_argument", key, "query parameter '%s' is given twice",
                     key);
            ck->bad = true;
            return MHD_NO;
        }
    if (ck->nseen < 16) ck->seen[ck->nseen++] = key;
    return MHD_YES;
}

int api_query_check(struct MHD_Connection *c, const char *const *allowed, struct api_error *e)
{
    struct check ck = {.allowed = allowed, .e = e};
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

int api_query_seconds(struct MHD_Connection *c, const char *name, double min, double max,
                      double def, double *out, struct api_error *e)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    if (!v) {
        *out = def;
        return 0;
    }
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
