/* bench_http: one keep-alive HTTP/1.1 connection per struct conn, and the helpers the
 * harness's clients share. Any failure prints "bench_client: ..." and exits 1. */
#ifndef BENCH_HTTP_H
#define BENCH_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Prints "bench_client: " and the message to stderr and exits 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* CLOCK_MONOTONIC in seconds. */
double now(void);
/* Connects to "HOST:PORT" (TCP_NODELAY). */
void conn_init(struct conn *c, const char *hostport);
/* One request and its whole response (Content-Length bodies only) into r, which points into
 * c's buffer until the next request; reconnects once if the server closed the idle connection. */
void request(struct conn *c, const char *method, const char *path, const char *body,
             size_t body_len, struct response *r);
/* The response body as JSON (a new reference); dies naming `what` if it is not JSON. */
json_t *parse(const struct response *r, const char *what);
/* Whether a job state is final (neither queued nor running). */
bool terminal(const char *state);
/* qsort comparator of doubles, ascending. */
int cmp_double(const void *a, const void *b);
/* The nearest-rank percentile p (0..1) of n sorted values; NAN when n is 0. */
double pct(const double *sorted, size_t n, double p);
/* "2026-11-27T13:56:27.596Z" as ms since the epoch; -1 if not that shape. */
int64_t rfc3339_ms(const char *s);
/* The value of the Prometheus sample line starting with prefix (name and labels); NAN if none. */
double metric(const char *text, const char *prefix);
/* Prints "key=SECONDS " (6 decimals), or "key=none " for NAN. */
void print_seconds(const char *key, double v);
/* Long-polls GET /v1/jobs/{id}/wait until the job's state is final: the job (a new reference). */
json_t *wait_job(struct conn *c, long long id);

#endif
