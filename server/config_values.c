/* config_values: one setting's value: read from its text (a flag, a variable or a config file
 * key; integers, sizes with K/M/G suffixes, seconds, ages with s/m/h/d suffixes as --retain 7d
 * takes them, counts, addresses, limits, lists) and written back as text. */
#include "server/config_internal.h"
#include "server/log.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int parse_listen(const char *s, struct config *cfg)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) return -1;
    size_t hlen = (size_t)(colon - s);
    if (s[0] == '[' && hlen >= 2 && s[hlen - 1] == ']') s++, hlen -= 2; /* [::1]:8080 */
    if (hlen >= sizeof cfg->listen_host) return -1;
    int64_t port;
    if (config_parse_int(colon + 1, &port) < 0 || port < 0 || port > 65535) return -1;
    memcpy(cfg->listen_host, s, hlen);
    cfg->listen_host[hlen] = '\0';
    cfg->listen_port = (int)port;
    return 0;
}

int config_set_option(struct config *cfg, const struct option_def *o, const char *value, int level,
                      const char *source, char *err, size_t errlen)
{
    char *field = (char *)cfg + o->offset;
    int64_t v;
    switch (o->type) {
    case OPT_ORIGINS:
    case OPT_HOSTS:
        return config_list_add((struct strlist *)field, o->type == OPT_ORIGINS, value, level,
                               source, err, errlen);
    case OPT_LISTEN:
        if (parse_listen(value, cfg) == 0) return 0;
        snprintf(err, errlen, "%s: listen must be HOST:PORT (e.g. 127.0.0.1:8080), got '%s'",
                 source, value);
        return -1;
    case OPT_STRING:
        if (o->offset == OFF(kill_mechanism) && strcmp(value, "auto") && strcmp(value, "cgroup") &&
            strcmp(value, "pgroup")) {
            snprintf(err, errlen, "%s: kill-mechanism must be auto, cgroup or pgroup, got '%s'",
                     source, value);
            return -1;
        }
        if (o->offset == OFF(durability) && strcmp(value, "normal") && strcmp(value, "full")) {
            snprintf(err, errlen, "%s: durability must be normal or full, got '%s'", source, value);
            return -1;
        }
        if (o->offset == OFF(log_format) && strcmp(value, "text") && strcmp(value, "json")) {
            snprintf(err, errlen, "%s: log-format must be text or json, got '%s'", source, value);
            return -1;
        }
        enum log_level least;
        if (o->offset == OFF(log_level) && !log_level_parse(value, &least)) {
            snprintf(err, errlen, "%s: log-level must be debug, info, warn or error, got '%s'",
                     source, value);
            return -1;
        }
        if (o->offset == OFF(node) && strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
                                                    "TUVWXYZ0123456789._-:") != strlen(value)) {
            snprintf(err, errlen,
                     "%s: node must be letters, digits, '.', '_', '-' or ':', got '%s'", source,
                     value);
            return -1;
        }
        if (o->offset == OFF(advertise_url) && strncmp(value, "http://", 7) != 0 &&
            strncmp(value, "https://", 8) != 0) {
            snprintf(err, errlen, "%s: advertise-url must start with http:// or https://, got '%s'",
                     source, value);
            return -1;
        }
        size_t room = o->offset == OFF(run_as)          ? sizeof cfg->run_as
                      : o->offset == OFF(node)          ? sizeof cfg->node
                      : o->offset == OFF(advertise_url) ? sizeof cfg->advertise_url
                                                        : 16;
        if (strlen(value) >= room || !value[0]) break;
        strcpy(field, value);
        return 0;
    case OPT_PATH:
        if (strlen(value) >= PATH_MAX || !value[0]) break;
        strcpy(field, value);
        return 0;
    case OPT_INT:
    case OPT_BYTES:
        if ((o->type == OPT_INT ? config_parse_int(value, &v) : config_parse_bytes(value, &v)) <
                0 ||
            v < o->min || v > o->max)
            break;
        if (o->offset == OFF(workers) || o->offset == OFF(http_threads) ||
            o->offset == OFF(max_connections) || o->offset == OFF(max_conns_per_address))
            *(int *)field = (int)v;
        else
            *(int64_t *)field = v;
        return 0;
    case OPT_BOOL:
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0 || strcmp(value, "yes") == 0) {
            *(bool *)field = true;
            return 0;
        }
        if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0 || strcmp(value, "no") == 0) {
            *(bool *)field = false;
            return 0;
        }
        break;
    case OPT_LIMIT: {
        int which = (int)o->min;
        char *end;
        if (which == PROTO_LIMIT_CPU) { /* a number of CPUs: 0.5, 2 */
            if (job_cpu_parse(strtod(value, &end), &v) < 0 || end == value || *end) {
                snprintf(err, errlen, "%s: %s must be a number of CPUs from 0.01 to %d, got '%s'",
                         source, o->flag, JOB_CPU_MAX / 1000, value);
                return -1;
            }
        } else if ((job_limit_is_bytes(which) ? config_parse_bytes(value, &v)
                                              : config_parse_int(value, &v)) < 0 ||
                   v < job_limit_min(which) || v > job_limit_max(which)) {
            snprintf(err, errlen, "%s: %s must be %s from %lld to %lld, got '%s'", source, o->flag,
                     job_limit_is_bytes(which) ? "a size in bytes (suffix K, M, G allowed)"
                                               : "an integer",
                     (long long)job_limit_min(which), (long long)job_limit_max(which), value);
            return -1;
        }
        cfg->limits.set |= 1u << which;
        cfg->limits.v[which] = v;
        return 0;
    }
    case OPT_AGE:
        if (config_parse_age(value, (double)o->max, (double *)field) == 0) return 0;
        snprintf(err, errlen,
                 "%s: %s must be an age such as 90s, 30m, 12h or 7d (at most %lldd), or 0 / off, "
                 "got '%s'",
                 source, o->flag, (long long)o->max / 86400, value);
        return -1;
    case OPT_COUNT:
        if (strcmp(value, "off") == 0 || strcmp(value, "0") == 0) {
            *(int64_t *)field = 0;
            return 0;
        }
        if (config_parse_int(value, &v) == 0 && v >= o->min && v <= o->max) {
            *(int64_t *)field = v;
            return 0;
        }
        snprintf(err, errlen, "%s: %s must be an integer from %lld to %lld, or 0 / off, got '%s'",
                 source, o->flag, (long long)o->min, (long long)o->max, value);
        return -1;
    case OPT_SECONDS: {
        char *end;
        errno = 0;
        double d = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(d) || d < 0 || d > 31536000) break;
        *(double *)field = d;
        return 0;
    }
    }
    if (o->type == OPT_INT || o->type == OPT_BYTES)
        snprintf(err, errlen, "%s: %s must be %s from %lld to %lld, got '%s'", source, o->flag,
                 o->type == OPT_BYTES ? "a size in bytes (suffix K, M, G allowed)" : "an integer",
                 (long long)o->min, (long long)o->max, value);
    else
        snprintf(err, errlen, "%s: invalid value for %s: '%s'", source, o->flag, value);
    return -1;
}

void config_option_text(const struct config *cfg, const struct option_def *o, char *out,
                        size_t outlen)
{
    const char *field = (const char *)cfg + o->offset;
    const struct strlist *l = (const struct strlist *)field;
    size_t used = 0;
    switch (o->type) {
    case OPT_LISTEN:
        snprintf(out, outlen, "%s:%d", cfg->listen_host, cfg->listen_port);
        return;
    case OPT_STRING:
    case OPT_PATH:
        snprintf(out, outlen, "%s", field);
        return;
    case OPT_INT:
    case OPT_BYTES:
        if (o->offset == OFF(workers) || o->offset == OFF(http_threads) ||
            o->offset == OFF(max_connections) || o->offset == OFF(max_conns_per_address))
            snprintf(out, outlen, "%d", *(const int *)field);
        else
            snprintf(out, outlen, "%lld", (long long)*(const int64_t *)field);
        return;
    case OPT_SECONDS:
    case OPT_AGE:
        snprintf(out, outlen, "%.17g", *(const double *)field);
        return;
    case OPT_COUNT:
        snprintf(out, outlen, "%lld", (long long)*(const int64_t *)field);
        return;
    case OPT_BOOL:
        snprintf(out, outlen, "%d", *(const bool *)field);
        return;
    case OPT_LIMIT:
        snprintf(out, outlen, "%d:%lld", (cfg->limits.set >> o->min) & 1,
                 (long long)cfg->limits.v[o->min]);
        return;
    case OPT_ORIGINS:
    case OPT_HOSTS:
        out[0] = '\0';
        for (size_t i = 0; i < l->n && used < outlen; i++)
            used += (size_t)snprintf(out + used, outlen - used, "%s,", l->items[i]);
        return;
    }
}
