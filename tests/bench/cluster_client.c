/* cluster_client: the HTTP client of tests/bench/cluster.sh (issue 15's bench), one
 * keep-alive connection per node (bench_http.c).
 *
 *   cluster_client run N BATCH JOB HOST:PORT...
 *       Submits N copies of JOB (a submit body, e.g. {"argv":["sleep","0.2"]}) as array POSTs
 *       of BATCH, the batches round-robin over the nodes given, back to back; then long-polls
 *       the last id until it ended and polls GET /v1/jobs?state=queued,running&limit=1 (every
 *       2 ms, the nodes in turn: any node answers for the cluster) until it lists none.
 *       Prints "elapsed=S submitted=U count=N succeeded=K nodes=NAME:n,...": S seconds from
 *       the first POST until that list was empty, U until the last POST was answered; read
 *       after the clock (GET /v1/jobs/wait?ids=..., 100 a request): K the jobs that ended
 *       succeeded, nodes how many each node ran.
 *
 *   cluster_client wake N JOB HOST:PORT CAP
 *       N single submits of JOB to that node, one at a time: POST, then /wait on the same node
 *       until the job ended, at most CAP seconds (a job not ended by then is counted in failed,
 *       and in unstarted if it had not started, and left behind). Prints (seconds, or "none"):
 *         ts_p50= ts_p99= ts_max=   started_at - created_at (ms resolution; both stamped by
 *                                   the servers, on one machine: one clock)
 *         rtt_p50= rtt_p99=         POST sent -> /wait answered (the job's run included)
 *         count= failed= unstarted= nodes=NAME:n,...   count: the jobs that ended; nodes: where
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_http.h"

#define WAIT_GROUP 100 /* ids a /v1/jobs/wait takes at most */
#define MAX_NAMES 16

/* how many jobs each node ran, by the job's "node" */
struct tally {
    char name[MAX_NAMES][64];
    long n[MAX_NAMES];
    int count;
};

static void tally_add(struct tally *t, const char *name)
{
    if (!name) name = "-";
    for (int i = 0; i < t->count; i++)
        if (!strcmp(t->name[i], name)) {
            t->n[i]++;
            return;
        }
    if (t->count == MAX_NAMES) die("more than %d node names", MAX_NAMES);
    snprintf(t->name[t->count], sizeof t->name[0], "%s", name);
    t->n[t->count++] = 1;
}

static void tally_print(const struct tally *t)
{
    printf("nodes=");
    for (int i = 0; i < t->count; i++)
        printf("%s%s:%ld", i ? "," : "", t->name[i], t->n[i]);
    if (t->count == 0) printf("none");
}

static int mode_run(long n, long batch, const char *job, int nn, char **addrs)
{
    if (n < 1 || batch < 1) die("N and BATCH must be positive");
    json_error_t err;
    json_t *spec = json_loads(job, 0, &err);
    if (!json_is_object(spec)) die("JOB must be a JSON object: %s", job);
    json_decref(spec);

    struct conn *c = calloc((size_t)nn, sizeof *c);
    long long *ids = calloc((size_t)n, sizeof *ids);
    size_t cap = (size_t)batch * (strlen(job) + 1) + 4;
    char *body = malloc(cap);
    if (!c || !ids || !body) die("out of memory");
    for (int i = 0; i < nn; i++)
        conn_init(&c[i], addrs[i]);

    double t0 = now();
    long sent = 0;
    for (long k = 0; sent < n; k++) {
        long m = n - sent < batch ? n - sent : batch;
        size_t len = 0;
        body[len++] = '[';
        for (long i = 0; i < m; i++) {
            if (i) body[len++] = ',';
            memcpy(body + len, job, strlen(job));
            len += strlen(job);
        }
        body[len++] = ']';
        struct conn *to = &c[k % nn];
        struct response r;
        request(to, "POST", "/v1/jobs", body, len, &r);
        if (r.status != 201)
            die("POST /v1/jobs to %s (array of %ld): %d %.300s", addrs[k % nn], m, r.status,
                r.body);
        json_t *j = parse(&r, "POST /v1/jobs");
        json_t *jobs = json_object_get(j, "jobs");
        if (json_array_size(jobs) != (size_t)m) die("POST /v1/jobs: expected %ld jobs back", m);
        for (long i = 0; i < m; i++)
            ids[sent + i] = json_integer_value(json_object_get(json_array_get(jobs, i), "id"));
        json_decref(j);
        sent += m;
    }
    double t_sub = now();

    /* the last id ended (a long-poll, no load on the servers), then the cluster's list until
     * nothing is queued or running (one query a look, whatever node answers) */
    json_decref(wait_job(&c[((n - 1) / batch) % nn], ids[n - 1]));
    for (int k = 0;; k++) {
        struct response r;
        request(&c[k % nn], "GET", "/v1/jobs?state=queued,running&limit=1", NULL, 0, &r);
        if (r.status != 200) die("GET /v1/jobs?state=queued,running: %d %.300s", r.status, r.body);
        json_t *j = parse(&r, "GET /v1/jobs");
        size_t left = json_array_size(json_object_get(j, "jobs"));
        json_decref(j);
        if (left == 0) break;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    double t1 = now();

    /* outside the timing: how each job ended and where it ran */
    long groups = (n + WAIT_GROUP - 1) / WAIT_GROUP;
    json_t **done = calloc((size_t)groups, sizeof *done);
    char *path = malloc((size_t)WAIT_GROUP * 24 + 128);
    if (!done || !path) die("out of memory");
    for (long g = 0; g < groups; g++) {
        int p = snprintf(path, 64, "/v1/jobs/wait?mode=all&timeout=60&ids=");
        for (long i = g * WAIT_GROUP; i < n && i < (g + 1) * WAIT_GROUP; i++)
            p += sprintf(path + p, "%s%lld", i > g * WAIT_GROUP ? "," : "", ids[i]);
        struct response r;
        request(&c[g % nn], "GET", path, NULL, 0, &r);
        if (r.status != 200) die("GET /v1/jobs/wait: %d %.300s", r.status, r.body);
        done[g] = parse(&r, "GET /v1/jobs/wait");
    }

    struct tally t = {0};
    long count = 0, ok = 0;
    for (long g = 0; g < groups; g++) {
        json_t *jobs = json_object_get(done[g], "jobs");
        for (size_t i = 0; i < json_array_size(jobs); i++) {
            json_t *o = json_array_get(jobs, i);
            const char *state = json_string_value(json_object_get(o, "state"));
            count++;
            ok += state && !strcmp(state, "succeeded");
            tally_add(&t, json_string_value(json_object_get(o, "node")));
        }
        json_decref(done[g]);
    }
    printf("elapsed=%.6f submitted=%.6f count=%ld succeeded=%ld ", t1 - t0, t_sub - t0, count, ok);
    tally_print(&t);
    printf("\n");
    free(done);
    free(path);
    free(body);
    free(ids);
    free(c);
    return 0;
}

/* The job once it ended, or as it is after `cap` seconds (a new reference). */
static json_t *wait_capped(struct conn *c, long long id, int cap)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%lld/wait?timeout=%d", id, cap);
    struct response r;
    request(c, "GET", path, NULL, 0, &r);
    if (r.status != 200) die("GET %s: %d %.200s", path, r.status, r.body);
    return parse(&r, path);
}

static int mode_wake(long n, const char *job, const char *addr, int cap)
{
    if (n < 1 || cap < 1) die("N and CAP must be positive");
    struct conn c;
    conn_init(&c, addr);
    double *ts = calloc((size_t)n, sizeof *ts), *rtt = calloc((size_t)n, sizeof *rtt);
    if (!ts || !rtt) die("out of memory");
    struct tally t = {0};
    long count = 0, failed = 0, nts = 0, unstarted = 0;
    for (long i = 0; i < n; i++) {
        double t0 = now();
        struct response r;
        request(&c, "POST", "/v1/jobs", job, strlen(job), &r);
        if (r.status != 201) die("POST /v1/jobs: %d %.300s", r.status, r.body);
        json_t *j = parse(&r, "POST /v1/jobs");
        long long id = json_integer_value(json_object_get(j, "id"));
        json_decref(j);
        j = wait_capped(&c, id, cap);
        const char *state = json_string_value(json_object_get(j, "state"));
        if (!terminal(state)) { /* not ended within the cap: counted, left to run later */
            unstarted += !json_string_value(json_object_get(j, "started_at"));
            failed++;
            json_decref(j);
            continue;
        }
        rtt[count++] = now() - t0;
        if (!state || strcmp(state, "succeeded") != 0) failed++;
        tally_add(&t, json_string_value(json_object_get(j, "node")));
        int64_t created = rfc3339_ms(json_string_value(json_object_get(j, "created_at")));
        int64_t started = rfc3339_ms(json_string_value(json_object_get(j, "started_at")));
        if (created >= 0 && started >= 0) ts[nts++] = (double)(started - created) / 1000.0;
        json_decref(j);
    }
    qsort(ts, (size_t)nts, sizeof *ts, cmp_double);
    qsort(rtt, (size_t)count, sizeof *rtt, cmp_double);
    print_seconds("ts_p50", pct(ts, (size_t)nts, 0.50));
    print_seconds("ts_p99", pct(ts, (size_t)nts, 0.99));
    print_seconds("ts_max", nts ? ts[nts - 1] : NAN);
    print_seconds("rtt_p50", pct(rtt, (size_t)count, 0.50));
    print_seconds("rtt_p99", pct(rtt, (size_t)count, 0.99));
    printf("count=%ld failed=%ld unstarted=%ld ", count, failed, unstarted);
    tally_print(&t);
    printf("\n");
    free(ts);
    free(rtt);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && !strcmp(argv[1], "run"))
        return mode_run(atol(argv[2]), atol(argv[3]), argv[4], argc - 5, argv + 5);
    if (argc == 6 && !strcmp(argv[1], "wake"))
        return mode_wake(atol(argv[2]), argv[3], argv[4], atoi(argv[5]));
    fprintf(stderr, "usage: cluster_client run N BATCH JOB HOST:PORT...\n"
                    "       cluster_client wake N JOB HOST:PORT CAP\n");
    return 2;
}
