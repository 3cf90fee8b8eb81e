/* config_lists: the repeatable settings (--allow-origin, --allow-host): each value is
 * checked and normalised the way it will be compared (lower case, no default port). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/config_internal.h"

/* A host as it may appear in Host (a DNS name, IPv4, or IPv6 with or without brackets),
 * lower-cased into out without brackets. */
static bool normalize_host(const char *s, size_t len, char *out, size_t outlen)
{
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') s++, len -= 2;
    if (len == 0 || len >= outlen) return false;
    bool v6 = memchr(s, ':', len) != NULL;
    for (size_t i = 0; i < len; i++) {
        char c = (char)tolower((unsigned char)s[i]);
        bool ok = isalnum((unsigned char)c) || c == '.' || c == '-' || (!v6 && c == '_') ||
                  (v6 && c == ':');
        if (!ok) return false;
        out[i] = c;
    }
    out[len] = '\0';
    struct in6_addr addr6;
    return !v6 || inet_pton(AF_INET6, out, &addr6) == 1; /* "name:port" is not a host */
}

/* scheme://host[:port] as a browser sends it in Origin: lower case, no path, and no port
 * when it is the scheme's default (browsers leave it out then). */
static bool normalize_origin(const char *s, char *out, size_t outlen)
{
    const char *scheme = strncasecmp(s, "http://", 7) == 0    ? "http"
                         : strncasecmp(s, "https://", 8) == 0 ? "https"
                                                              : NULL;
    if (!scheme) return false;
    const char *host = s + strlen(scheme) + 3;
    const char *port = host[0] == '[' ? strchr(host, ']') : host;
    if (!port) return false;
    port = strchr(port, ':');
    size_t hlen = port ? (size_t)(port - host) : strlen(host);
    char name[256];
    if (!normalize_host(host, hlen, name, sizeof name)) return false;
    bool v6 = strchr(name, ':') != NULL;
    long p = 0;
    if (port) {
        char *end;
        errno = 0;
        p = strtol(port + 1, &end, 10);
        if (errno || end == port + 1 || *end || p < 1 || p > 65535) return false;
        if (p == (strcmp(scheme, "http") == 0 ? 80 : 443)) p = 0;
    }
    int n =
        p ? snprintf(out, outlen, "%s://%s%s%s:%ld", scheme, v6 ? "[" : "", name, v6 ? "]" : "", p)
          : snprintf(out, outlen, "%s://%s%s%s", scheme, v6 ? "[" : "", name, v6 ? "]" : "");
    return n > 0 && (size_t)n < outlen;
}

bool config_list_has(const struct strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcasecmp(l->items[i], s) == 0) return true;
    return false;
}

void config_list_free(struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* Adds the comma-separated items of value to a repeatable setting (origins or hosts). */
int config_list_add(struct strlist *l, bool origins, const char *value, int level,
                    const char *source, char *err, size_t errlen)
{
    if (l->level != level) config_list_free(l); /* a later source replaces the list */
    l->level = level;
    const char *p = value;
    do {
        size_t len = strcspn(p, ",");
        char item[300], norm[300];
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        bool ok = len > 0 && len < sizeof item;
        if (ok) {
            memcpy(item, p, len);
            item[len] = '\0';
            ok = origins                  ? normalize_origin(item, norm, sizeof norm)
                 : strcmp(item, "*") == 0 ? (strcpy(norm, "*"), true)
                                          : normalize_host(item, len, norm, sizeof norm);
        }
        if (!ok) {
            snprintf(err, errlen,
                     origins ? "%s: allow-origin must be scheme://host[:port] (http or https, no "
                               "path), got '%s'"
                             : "%s: allow-host must be a host name or address without a port, or "
                               "*, got '%s'",
                     source, value);
            return -1;
        }
        if (config_list_has(l, norm)) continue;
        char **grown = realloc(l->items, (l->n + 1) * sizeof *grown);
        if (!grown || !(grown[l->n] = strdup(norm))) {
            if (grown) l->items = grown;
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        l->items = grown;
        l->n++;
    } while ((p = strchr(p, ',')) && *++p != '\0');
    return 0;
}
