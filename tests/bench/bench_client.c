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
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_http.h"

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
