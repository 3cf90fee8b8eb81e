/* bench_client: the harness's HTTP client. A tiny HTTP/1.1 client over one keep-alive TCP
 * connection (no libcurl, no process per request), so the client's CPU stays small next to
 * the server it measures on a 2-core machine. Responses are parsed with jansson only where
 * the harness needs a value out of them (ids, states, timestamps).
 *
 *   bench_client throughput HOST:PORT N BATCH
 *       Submits N /bin/true jobs as array POSTs of BATCH each, back to back, then long-polls
 *       the last id until it ends and polls /healthz until jobs.queued + jobs.running == 0.
 *       Prints "elapsed=S submitted=U succeeded=K last_id=I": S seconds from the first POST to
 *       all finished, U seconds from the first POST to the last POST's answer, K the server's
 *       spawnpool_jobs{state="succeeded"} read afterwards (outside the timing).
 *
 *   bench_client latency HOST:PORT N
 *       N single-job submits of /bin/true, one at a time: POST, then /wait until it ends.
 *       Prints (seconds, or "none"):
 *         metric_p50= metric_p99=   spawnpool_dispatch_latency_recent_seconds from /metrics
 *         ts_p50= ts_p99=           started_at - created_at of the N jobs (ms resolution)
 *         rtt_p50= rtt_p99=         client view: POST sent -> /wait answered (job finished)
 *         count= failed=
 *
 *   bench_client seqget HOST:PORT N PATHFMT MAXID
 *       N sequential GETs of PATHFMT with "%ld" replaced by a random id in 1..MAXID (a
 *       fixed seed, so runs ask for the same ids). Prints "p50= p99= max= errors=" in seconds.
 *
 *   bench_client getfor HOST:PORT SECONDS PATHFMT MAXID
 *       The same for SECONDS (a float) instead of N requests: as many sequential GETs as fit.
 *       Prints "p50= p99= max= count= errors=".
 *
 *   bench_client get HOST:PORT PATH      prints the status line and the body
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- a keep-alive HTTP/1.1 connection ---- */

struct conn {
    char host[256];
    char port[16];
    int fd;
    char *buf; /* response bytes */
    size_t len, cap;
};

struct response {
    int status;
    const char *body; /* NUL-terminated, inside conn.buf */
    size_t body_len;
};

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_client: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static double now(void)
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

static void conn_init(struct conn *c, const char *hostport)
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

static void request(struct conn *c, const char *method, const char *path, const char *body,
                    size_t body_len, struct response *r)
{
    if (try_request(c, method, path, body, body_len, r)) return;
    /* the server closed the idle keep-alive connection: reconnect once */
    close(c->fd);
    conn_open(c);
    if (!try_request(c, method, path, body, body_len, r))
        die("%s %s: connection closed without a response", method, path);
}

static json_t *parse(const struct response *r, const char *what)
{
    json_error_t err;
    json_t *j = json_loadb(r->body, r->body_len, 0, &err);
    if (!j) die("%s: bad JSON (%s): %.200s", what, err.text, r->body);
    return j;
}

/* ---- helpers ---- */

static bool terminal(const char *state)
{
    return state && strcmp(state, "queued") != 0 && strcmp(state, "running") != 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* nearest rank on a sorted array */
static double pct(const double *sorted, size_t n, double p)
{
    if (n == 0) return NAN;
    size_t k = (size_t)ceil(p * (double)n);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return sorted[k - 1];
}

/* "2026-11-27T13:56:27.596Z" -> ms since the epoch, -1 if not that shape */
static int64_t rfc3339_ms(const char *s)
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
static double metric(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *line = text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (!strncmp(line, prefix, n) && line[n] == ' ') return strtod(line + n + 1, NULL);
    return NAN;
}

static void print_seconds(const char *key, double v)
{
    if (isnan(v))
        printf("%s=none ", key);
    else
        printf("%s=%.6f ", key, v);
}

/* the job as it ends: long-polls /wait until its state is terminal */
static json_t *wait_job(struct conn *c, long long id)
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

/* ---- modes ---- */

static int mode_throughput(struct conn *c, long n, long batch)
{
    if (n < 1 || batch < 1) die("N and BATCH must be positive");
    /* one body per batch size, built before the clock starts */
    static const char job[] = "{\"argv\":[\"/bin/true\"]}";
    size_t cap = (size_t)batch * (sizeof job + 1) + 4;
    char *body = malloc(cap);
    if (!body) die("out of memory");

    double t0 = now();
    long sent = 0;
    long long last_id = 0;
    while (sent < n) {
        long k = n - sent < batch ? n - sent : batch;
        size_t len = 0;
        body[len++] = '[';
        for (long i = 0; i < k; i++) {
            if (i) body[len++] = ',';
            memcpy(body + len, job, sizeof job - 1);
            len += sizeof job - 1;
        }
        body[len++] = ']';
        struct response r;
        request(c, "POST", "/v1/jobs", body, len, &r);
        if (r.status != 201) die("POST /v1/jobs (array of %ld): %d %.300s", k, r.status, r.body);
        json_t *j = parse(&r, "POST /v1/jobs");
        json_t *jobs = json_object_get(j, "jobs");
        if (json_array_size(jobs) != (size_t)k) die("POST /v1/jobs: expected %ld jobs back", k);
        for (size_t i = 0; i < json_array_size(jobs); i++) {
            long long id = json_integer_value(json_object_get(json_array_get(jobs, i), "id"));
            if (id > last_id) last_id = id;
        }
        json_decref(j);
        sent += k;
    }
    double t_submitted = now();
    json_decref(wait_job(c, last_id));
    /* FIFO: the last one done means all have started; wait out the stragglers */
    for (;;) {
        struct response r;
        request(c, "GET", "/healthz", NULL, 0, &r);
        json_t *j = parse(&r, "GET /healthz");
        json_t *jobs = json_object_get(j, "jobs");
        long long busy = json_integer_value(json_object_get(jobs, "queued")) +
                         json_integer_value(json_object_get(jobs, "running"));
        json_decref(j);
        if (busy == 0) break;
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
    }
    double t1 = now();

    struct response r;
    request(c, "GET", "/metrics", NULL, 0, &r);
    double ok = metric(r.body, "spawnpool_jobs{state=\"succeeded\"}");
    printf("elapsed=%.6f submitted=%.6f succeeded=%.0f last_id=%lld\n", t1 - t0, t_submitted - t0,
           ok, last_id);
    free(body);
    return 0;
}

static int mode_latency(struct conn *c, long n)
{
    static const char job[] = "{\"argv\":[\"/bin/true\"]}";
    double *ts = calloc((size_t)n, sizeof *ts), *rtt = calloc((size_t)n, sizeof *rtt);
    if (!ts || !rtt) die("out of memory");
    long count = 0, failed = 0;
    for (long i = 0; i < n; i++) {
        double t0 = now();
        struct response r;
        request(c, "POST", "/v1/jobs", job, sizeof job - 1, &r);
        if (r.status != 201) die("POST /v1/jobs: %d %.300s", r.status, r.body);
        json_t *j = parse(&r, "POST /v1/jobs");
        long long id = json_integer_value(json_object_get(j, "id"));
        json_decref(j);
        j = wait_job(c, id);
        rtt[count] = now() - t0;
        int64_t created = rfc3339_ms(json_string_value(json_object_get(j, "created_at")));
        int64_t started = rfc3339_ms(json_string_value(json_object_get(j, "started_at")));
        if (strcmp(json_string_value(json_object_get(j, "state")), "succeeded") != 0) failed++;
        ts[count++] = created >= 0 && started >= 0 ? (double)(started - created) / 1000.0 : NAN;
        json_decref(j);
    }
    struct response r;
    request(c, "GET", "/metrics", NULL, 0, &r);
    double m50 = metric(r.body, "spawnpool_dispatch_latency_recent_seconds{quantile=\"0.5\"}");
    double m99 = metric(r.body, "spawnpool_dispatch_latency_recent_seconds{quantile=\"0.99\"}");
    qsort(ts, (size_t)count, sizeof *ts, cmp_double);
    qsort(rtt, (size_t)count, sizeof *rtt, cmp_double);
    print_seconds("metric_p50", m50);
    print_seconds("metric_p99", m99);
    print_seconds("ts_p50", pct(ts, (size_t)count, 0.50));
    print_seconds("ts_p99", pct(ts, (size_t)count, 0.99));
    print_seconds("rtt_p50", pct(rtt, (size_t)count, 0.50));
    print_seconds("rtt_p99", pct(rtt, (size_t)count, 0.99));
    printf("count=%ld failed=%ld\n", count, failed);
    free(ts);
    free(rtt);
    return 0;
}

/* n sequential GETs, or as many as fit in `seconds` when it is positive */
static int mode_seqget(struct conn *c, long n, double seconds, const char *fmt, long maxid)
{
    if (maxid < 1) die("MAXID must be positive");
    size_t cap = seconds > 0 ? 1 << 16 : (size_t)n;
    double *lat = calloc(cap, sizeof *lat);
    if (!lat) die("out of memory");
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    long errors = 0;
    double end = now() + seconds;
    long i;
    for (i = 0; seconds > 0 ? now() < end : i < n; i++) {
        if ((size_t)i == cap) {
            cap *= 2;
            if (!(lat = realloc(lat, cap * sizeof *lat))) die("out of memory");
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        long id = 1 + (long)(seed % (uint64_t)maxid);
        char path[512];
        snprintf(path, sizeof path, fmt, id);
        double t0 = now();
        struct response r;
        request(c, "GET", path, NULL, 0, &r);
        lat[i] = now() - t0;
        if (r.status != 200) {
            if (errors++ == 0)
                fprintf(stderr, "bench_client: GET %s: %d %.200s\n", path, r.status, r.body);
        }
    }
    n = i;
    if (n == 0) die("no request fit in %.3f s", seconds);
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    print_seconds("p50", pct(lat, (size_t)n, 0.50));
    print_seconds("p99", pct(lat, (size_t)n, 0.99));
    print_seconds("max", lat[n - 1]);
    printf("count=%ld errors=%ld\n", n, errors);
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_client throughput HOST:PORT N BATCH\n"
                        "       bench_client latency HOST:PORT N\n"
                        "       bench_client seqget HOST:PORT N PATHFMT MAXID\n"
                        "       bench_client getfor HOST:PORT SECONDS PATHFMT MAXID\n"
                        "       bench_client get HOST:PORT PATH\n");
        return 2;
    }
    struct conn c;
    conn_init(&c, argv[2]);
    const char *mode = argv[1];
    if (!strcmp(mode, "throughput") && argc == 5)
        return mode_throughput(&c, atol(argv[3]), atol(argv[4]));
    if (!strcmp(mode, "latency") && argc == 4) return mode_latency(&c, atol(argv[3]));
    if (!strcmp(mode, "seqget") && argc == 6)
        return mode_seqget(&c, atol(argv[3]), 0, argv[4], atol(argv[5]));
    if (!strcmp(mode, "getfor") && argc == 6)
        return mode_seqget(&c, 0, atof(argv[3]), argv[4], atol(argv[5]));
    if (!strcmp(mode, "get") && argc == 4) {
        struct response r;
        request(&c, "GET", argv[3], NULL, 0, &r);
        printf("%d\n%s", r.status, r.body);
        return r.status == 200 ? 0 : 1;
    }
    fprintf(stderr, "bench_client: bad arguments for %s\n", mode);
    return 2;
}
