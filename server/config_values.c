/* config_values: the text forms of the settings' values: integers, sizes with K/M/G
 * suffixes, and ages with s/m/h/d suffixes (--retain 7d). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/config_internal.h"

int config_parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

int config_parse_bytes(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0) return -1;
    int64_t mult = 1;
    if (*end == 'K' || *end == 'k')
        mult = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mult = 1024 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mult = 1024 * 1024 * 1024, end++;
    if (*end == 'i' && mult > 1) end++;
    if (*end == 'B' && mult > 1) end++;
    if (*end || v > INT64_MAX / mult) return -1;
    *out = v * mult;
    return 0;
}

int config_parse_age(const char *s, double max, double *out)
{
    if (strcmp(s, "off") == 0) {
        *out = 0;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || (*s < '0' || *s > '9') || !isfinite(v) || v < 0) return -1;
    double unit = 1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        unit = 60, end++;
    else if (*end == 'h')
        unit = 3600, end++;
    else if (*end == 'd')
        unit = 86400, end++;
    if (*end || v * unit > max) return -1;
    *out = v * unit;
    return 0;
}
