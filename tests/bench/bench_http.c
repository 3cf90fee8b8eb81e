/* bench_http: the harness clients' HTTP/1.1 over one keep-alive TCP connection (no libcurl,
 * no process per request) and the small helpers they share (jansson to read answers, RFC 3339
 * timestamps, percentiles). Used by bench_client.c and cluster_client.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_http.h"

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_client: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void conn_open(struct conn *c)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int rc = getaddrinfo(c->host, c->port, &hints, &res);
    if (rc != 0) die("resolve %s:%s: %s", c->host, c->port, gai_strerror(rc));
    c->fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            c->fd = fd;
            break;
        }
        close(fd);
    }
    freeaddrinfo(res);
    if (c->fd < 0) die("connect %s:%s: %s", c->host, c->port, strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void conn_init(struct conn *c, const char *hostport)
{
    memset(c, 0, sizeof *c);
    const char *colon = strrchr(hostport, ':');
    if (!colon) die("expected HOST:PORT, got %s", hostport);
    snprintf(c->host, sizeof c->host, "%.*s", (int)(colon - hostport), hostport);
    snprintf(c->port, sizeof c->port, "%s", colon + 1);
    c->cap = 1 << 16;
    c->buf = malloc(c->cap);
    if (!c->buf) die("out of memory");
    conn_open(c);
}

static void reserve(struct conn *c, size_t need)
{
    if (need <= c->cap) return;
    while (c->cap < need)
        c->cap *= 2;
    c->buf = realloc(c->buf, c->cap);
    if (!c->buf) die("out of memory");
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* One request/response. Returns false when the connection was closed before any byte of a
 * response came back (the caller reconnects and may retry). */
static bool try_request(struct conn *c, const char *method, const char *path, const char *body,
                        size_t body_len, struct response *r)
{
    char head[1024];
    int hn = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s:%s\r\n%s%s%zu\r\n\r\n", method,
                      path, c->host, c->port, body ? "Content-Type: application/json\r\n" : "",
                      "Content-Length: ", body ? body_len : (size_t)0);
    if (hn <= 0 || (size_t)hn >= sizeof head) die("request line too long");
    if (!write_all(c->fd, head, (size_t)hn)) return false;
    if (body && !write_all(c->fd, body, body_len)) return false;

    c->len = 0;
    size_t head_end = 0, content_length = 0;
    bool have_len = false, close_after = false;
    for (;;) {
        reserve(c, c->len + 4096 + 1);
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("recv: %s", strerror(errno));
        if (n == 0) {
            if (c->len == 0) return false;
            die("connection closed in the middle of a response");
        }
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
        if (!head_end) {
            char *e = strstr(c->buf, "\r\n\r\n");
            if (!e) continue;
            head_end = (size_t)(e - c->buf) + 4;
            if (sscanf(c->buf, "HTTP/1.%*d %d", &r->status) != 1) die("bad status line");
            for (char *line = strstr(c->buf, "\r\n") + 2; line < e;
                 line = strstr(line, "\r\n") + 2) {
                if (!strncasecmp(line, "Content-Length:", 15)) {
                    content_length = strtoul(line + 15, NULL, 10);
                    have_len = true;
                } else if (!strncasecmp(line, "Transfer-Encoding:", 18)) {
                    die("chunked responses are not supported (%s %s)", method, path);
                } else if (!strncasecmp(line, "Connection:", 11) && strcasestr(line, "close") &&
                           strcasestr(line, "close") < strstr(line, "\r\n")) {
                    close_after = true;
                }
            }
            if (!have_len) die("response without Content-Length (%s %s)", method, path);
            reserve(c, head_end + content_length + 1);
        }
        if (c->len >= head_end + content_length) break;
    }
    c->buf[head_end + content_length] = '\0';
    r->body = c->buf + head_end;
    r->body_len = content_length;
    if (close_after) {
        close(c->fd);
        conn_open(c);
    }
    return true;
}

void request(struct conn *c, const char *method, const char *path, const char *body,
             size_t body_len, struct response *r)
{
    if (try_request(c, method, path, body, body_len, r)) return;
    /* the server closed the idle keep-alive connection: reconnect once */
    close(c->fd);
    conn_open(c);
    if (!try_request(c, method, path, body, body_len, r))
        die("%s %s: connection closed without a response", method, path);
}

json_t *parse(const struct response *r, const char *what)
{
    json_error_t err;
    json_t *j = json_loadb(r->body, r->body_len, 0, &err);
    if (!j) die("%s: bad JSON (%s): %.200s", what, err.text, r->body);
    return j;
}

/* ---- helpers ---- */

bool terminal(const char *state)
{
    return state && strcmp(state, "queued") != 0 && strcmp(state, "running") != 0;
}

int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* nearest rank on a sorted array */
double pct(const double *sorted, size_t n, double p)
{
    if (n == 0) return NAN;
    size_t k = (size_t)ceil(p * (double)n);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return sorted[k - 1];
}

/* "2026-11-27T13:56:27.596Z" -> ms since the epoch, -1 if not that shape */
int64_t rfc3339_ms(const char *s)
{
    if (!s) return -1;
    struct tm tm = {0};
    int ms = 0;
    if (sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* value of a Prometheus sample line starting with `prefix` (name and labels), NAN if none */
double metric(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *line = text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (!strncmp(line, prefix, n) && line[n] == ' ') return strtod(line + n + 1, NULL);
    return NAN;
}

void print_seconds(const char *key, double v)
{
    if (isnan(v))
        printf("%s=none ", key);
    else
        printf("%s=%.6f ", key, v);
}

/* the job as it ends: long-polls /wait until its state is terminal */
json_t *wait_job(struct conn *c, long long id)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%lld/wait?timeout=60", id);
    for (int tries = 0; tries < 10; tries++) {
        struct response r;
        request(c, "GET", path, NULL, 0, &r);
        if (r.status != 200) die("GET %s: %d %.200s", path, r.status, r.body);
        json_t *j = parse(&r, path);
        if (terminal(json_string_value(json_object_get(j, "state")))) return j;
        json_decref(j);
    }
    die("job %lld did not finish in 600 s", id);
    return NULL;
}
