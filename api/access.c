/* access: who may call the API. The bearer tokens, the Host names the server answers to
 * and the browser origins it lets in, held as one policy that SIGHUP swaps whole. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/internal.h"
#include "server/log.h"

/* One immutable version of the policy; readers hold api.access_lock for reading. */
struct access_policy {
    char **tokens;
    size_t n_tokens;
    char **origins; /* --allow-origin, normalised */
    size_t n_origins;
    char **hosts; /* names accepted in Host, lower case, IPv6 without brackets */
    size_t n_hosts;
    bool any_host; /* --allow-host '*' */
    bool open_metrics;
    bool tls; /* the server's own origin is https://, else http:// */
};

/* Appends a copy of s unless it is there (names compare without case, tokens with). */
static int add_copy(char ***list, size_t *n, const char *s, bool fold_case)
{
    for (size_t i = 0; i < *n; i++)
        if ((fold_case ? strcasecmp((*list)[i], s) : strcmp((*list)[i], s)) == 0) return 0;
    char **grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (!grown) return -1;
    *list = grown;
    if (!(grown[*n] = strdup(s))) return -1;
    (*n)++;
    return 0;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static void policy_free(struct access_policy *p)
{
    if (!p) return;
    free_list(p->tokens, p->n_tokens);
    free_list(p->origins, p->n_origins);
    free_list(p->hosts, p->n_hosts);
    free(p);
}

static bool is_wildcard(const char *host)
{
    return !host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
}

/* Lower-cases s in place (ASCII: host names). */
static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
}

/* A wildcard listen answers on every address of the machine: accept those and its name. */
static int add_local_names(struct access_policy *p)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) < 0) {
        log_warn("getifaddrs() failed while listing the Host names to accept: %m");
    }
    int rc = 0;
    for (struct ifaddrs *i = ifs; i && rc == 0; i = i->ifa_next) {
        if (!i->ifa_addr) continue;
        char text[INET6_ADDRSTRLEN];
        int family = i->ifa_addr->sa_family;
        const void *addr =
            family == AF_INET    ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
            : family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr
                                 : NULL;
        if (addr && inet_ntop(family, addr, text, sizeof text))
            rc = add_copy(&p->hosts, &p->n_hosts, text, true);
    }
    if (ifs) freeifaddrs(ifs);
    char name[256];
    if (rc == 0 && gethostname(name, sizeof name) == 0) {
        name[sizeof name - 1] = '\0';
        lower(name);
        rc = add_copy(&p->hosts, &p->n_hosts, name, true);
    }
    return rc;
}

static struct access_policy *policy_build(const struct config *cfg)
{
    struct access_policy *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->open_metrics = cfg->open_metrics;
    p->tls = cfg->tls_cert[0] != '\0';
    int rc = 0;
    for (size_t i = 0; i < cfg->n_tokens && rc == 0; i++)
        rc = add_copy(&p->tokens, &p->n_tokens, cfg->tokens[i], false);
    for (size_t i = 0; i < cfg->allow_origins.n && rc == 0; i++)
        rc = add_copy(&p->origins, &p->n_origins, cfg->allow_origins.items[i], true);
    const char *listen = cfg->listen_host;
    if (rc == 0 && (config_is_loopback(listen) || is_wildcard(listen))) {
        static const char *const loopback[] = {"localhost", "127.0.0.1", "::1"};
        for (size_t i = 0; i < 3 && rc == 0; i++)
            rc = add_copy(&p->hosts, &p->n_hosts, loopback[i], true);
    }
    if (rc == 0 && is_wildcard(listen)) rc = add_local_names(p);
    if (rc == 0 && !is_wildcard(listen)) {
        char name[256];
        snprintf(name, sizeof name, "%s", listen);
        lower(name);
        rc = add_copy(&p->hosts, &p->n_hosts, name, true);
    }
    for (size_t i = 0; i < cfg->allow_hosts.n && rc == 0; i++) {
        if (strcmp(cfg->allow_hosts.items[i], "*") == 0)
            p->any_host = true;
        else
            rc = add_copy(&p->hosts, &p->n_hosts, cfg->allow_hosts.items[i], true);
    }
    if (rc < 0) {
        policy_free(p);
        return NULL;
    }
    return p;
}

int api_access_init(struct api *a, const struct config *cfg)
{
    pthread_rwlock_init(&a->access_lock, NULL);
    a->access = policy_build(cfg);
    return a->access ? 0 : -1;
}

void api_access_free(struct api *a)
{
    policy_free(a->access);
    a->access = NULL;
    pthread_rwlock_destroy(&a->access_lock);
}

/* How many of a's items are not in b. */
static size_t count_missing(char **a, size_t na, char **b, size_t nb)
{
    size_t missing = 0;
    for (size_t i = 0; i < na; i++) {
        bool found = false;
        for (size_t j = 0; j < nb && !found; j++)
            found = strcmp(a[i], b[j]) == 0;
        missing += !found;
    }
    return missing;
}

/* Logs each item of a list that a reload added or removed (origins and hosts, by name). */
static void log_list_changes(const char *what, char **old, size_t n_old, char **new, size_t n_new)
{
    for (size_t i = 0; i < n_new; i++)
        if (count_missing(&new[i], 1, old, n_old)) log_info("reload: %s %s added", what, new[i]);
    for (size_t i = 0; i < n_old; i++)
        if (count_missing(&old[i], 1, new, n_new)) log_info("reload: %s %s removed", what, old[i]);
}

/* Logs what differs between the policies, naming origins and hosts but never a token. */
static void log_changes(const struct access_policy *old, const struct access_policy *new)
{
    size_t added = count_missing(new->tokens, new->n_tokens, old->tokens, old->n_tokens);
    size_t removed = count_missing(old->tokens, old->n_tokens, new->tokens, new->n_tokens);
    if (added || removed)
        log_info("reload: tokens: %zu added, %zu removed, %zu in use", added, removed,
                 new->n_tokens);
    log_list_changes("allow-origin", old->origins, old->n_origins, new->origins, new->n_origins);
    log_list_changes("allow-host", old->hosts, old->n_hosts, new->hosts, new->n_hosts);
    if (old->any_host != new->any_host)
        log_info("reload: allow-host * %s", new->any_host ? "added" : "removed");
    if (old->open_metrics != new->open_metrics)
        log_info("reload: open-metrics is now %s", new->open_metrics ? "on" : "off");
}

int api_access_reload(struct api *a, const struct config *fresh)
{
    struct access_policy *p = policy_build(fresh);
    if (!p) {
        log_error("reload: out of memory: keeping the old tokens, origins and hosts");
        return -1;
    }
    pthread_rwlock_wrlock(&a->access_lock);
    struct access_policy *old = a->access;
    a->access = p;
    pthread_rwlock_unlock(&a->access_lock);
    log_changes(old, p);
    policy_free(old);
    return 0;
}

/* Compares in time that depends only on the lengths, not on where the bytes differ. */
static bool same_secret(const char *given, size_t given_len, const char *token)
{
    size_t len = strlen(token);
    unsigned char diff = given_len != len;
    for (size_t i = 0; i < given_len; i++)
        diff |= (unsigned char)given[i] ^ (unsigned char)token[i % (len ? len : 1)];
    return diff == 0;
}

bool api_access_authorized(struct api *a, const char *url, const char *authorization)
{
    pthread_rwlock_rdlock(&a->access_lock);
    const struct access_policy *p = a->access;
    /* the API description is public (it says what the source says), like /healthz */
    bool guarded = p->n_tokens > 0 && strcmp(url, "/v1/openapi.json") != 0 &&
                   (strncmp(url, "/v1/", 4) == 0 || strcmp(url, "/v1") == 0 ||
                    (strcmp(url, "/metrics") == 0 && !p->open_metrics));
    bool ok = !guarded;
    if (guarded && authorization && strncasecmp(authorization, "Bearer ", 7) == 0) {
        const char *given = authorization + 7;
        size_t given_len = strlen(given);
        for (size_t i = 0; i < p->n_tokens; i++) /* every token, always: no early exit */
            ok |= same_secret(given, given_len, p->tokens[i]);
    }
    pthread_rwlock_unlock(&a->access_lock);
    return ok;
}

/* The name part of a Host header ("name:port", "[v6]:port", "name"), lower case. */
static bool host_name(const char *host, char *out, size_t outlen)
{
    const char *end;
    if (host[0] == '[') {
        end = strchr(host, ']');
        if (!end || (end[1] != '\0' && end[1] != ':')) return false;
        host++;
    } else {
        end = strchr(host, ':');
        if (!end) end = host + strlen(host);
    }
    size_t len = (size_t)(end - host);
    if (len == 0 || len >= outlen) return false;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)(host[i] >= 'A' && host[i] <= 'Z' ? host[i] - 'A' + 'a' : host[i]);
    out[len] = '\0';
    return true;
}

bool api_access_host_ok(struct api *a, const char *host)
{
    char name[256];
    if (!host) return true; /* HTTP/1.0 without Host: no browser sends that */
    if (!host_name(host, name, sizeof name)) return false;
    pthread_rwlock_rdlock(&a->access_lock);
    const struct access_policy *p = a->access;
    bool ok = p->any_host;
    for (size_t i = 0; i < p->n_hosts && !ok; i++)
        ok = strcmp(p->hosts[i], name) == 0;
    pthread_rwlock_unlock(&a->access_lock);
    return ok;
}

bool api_access_origin_ok(struct api *a, const char *origin, const char *host)
{
    pthread_rwlock_rdlock(&a->access_lock);
    const struct access_policy *p = a->access;
    const char *scheme = p->tls ? "https://" : "http://";
    /* the server's own origin: the page was loaded from the address this request went to */
    bool ok = host && strncasecmp(origin, scheme, strlen(scheme)) == 0 &&
              strcasecmp(origin + strlen(scheme), host) == 0;
    for (size_t i = 0; i < p->n_origins && !ok; i++)
        ok = strcasecmp(p->origins[i], origin) == 0;
    pthread_rwlock_unlock(&a->access_lock);
    return ok;
}
