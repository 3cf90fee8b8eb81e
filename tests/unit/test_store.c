/* Unit tests for server/store against a real database file in a temporary directory:
 * insert and read back, listing filters, state transitions and their events, recovery,
 * deletion, persistence across a reopen, and counts. */
#include <dirent.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_fixture.h"

static const char *const echo_hi[] = {"/bin/echo", "hi there", NULL};

static int64_t total_jobs(struct store *s)
{
    int64_t counts[JOB_STATE_COUNT], sum = 0;
    CHECK(store_count_states(s, counts) == 0);
    for (int i = 0; i < JOB_STATE_COUNT; i++)
        sum += counts[i];
    return sum;
}

/* Ids of the jobs created by the tests, in creation order. */
static int64_t id_full, id_other, id_alpha2;

static void test_insert_and_get(struct store *s)
{
    struct job_spec specs[3];
    specs[0] = make_spec("alpha", "default", 5, echo_hi);
    strblob_add(&specs[0].env, "K=V", 3);
    strblob_add(&specs[0].env, "EMPTY=", 6);
    static const char in[] = {'i', 'n', '\0', 'p', 'u', 't'};
    specs[0].stdin_data = malloc(sizeof in);
    memcpy(specs[0].stdin_data, in, sizeof in);
    specs[0].stdin_len = sizeof in;
    specs[0].timeout = 2.5;
    specs[0].max_attempts = 3;
    specs[1] = make_spec(NULL, "other", -1, (const char *const[]){"sh", "-c", "echo hi", NULL});
    specs[1].command = strdup("echo hi");
    specs[2] = make_spec("alpha", "default", 0, true_cmd);

    int64_t ids[3] = {0, 0, 0};
    CHECK(store_insert_jobs(s, specs, 3, 1000, ids) == 0);
    CHECK(ids[0] > 0 && ids[1] == ids[0] + 1 && ids[2] == ids[1] + 1);
    id_full = ids[0];
    id_other = ids[1];
    id_alpha2 = ids[2];

    struct job j;
    CHECK(store_get_job(s, id_full, &j, true) == 0);
    CHECK_EQ_INT(j.id, id_full);
    CHECK(j.spec.name && strcmp(j.spec.name, "alpha") == 0);
    CHECK(j.spec.queue && strcmp(j.spec.queue, "default") == 0);
    CHECK_EQ_INT(j.spec.priority, 5);
    CHECK_EQ_INT(j.spec.argv.len, specs[0].argv.len);
    CHECK(j.spec.argv.len == specs[0].argv.len &&
          memcmp(j.spec.argv.data, specs[0].argv.data, specs[0].argv.len) == 0);
    CHECK_EQ_INT(strblob_count(&j.spec.argv), 2);
    const char *a0 = strblob_next(&j.spec.argv, NULL);
    const char *a1 = a0 ? strblob_next(&j.spec.argv, a0) : NULL;
    CHECK(a0 && strcmp(a0, "/bin/echo") == 0);
    CHECK(a1 && strcmp(a1, "hi there") == 0);
    CHECK(j.spec.command == NULL);
    CHECK_EQ_INT(j.spec.env.len, specs[0].env.len);
    CHECK(j.spec.env.len == specs[0].env.len &&
          memcmp(j.spec.env.data, "K=V\0EMPTY=\0", j.spec.env.len) == 0);
    CHECK(j.spec.cwd && strcmp(j.spec.cwd, "/tmp") == 0);
    CHECK_EQ_INT(j.spec.stdin_len, sizeof in);
    CHECK(j.spec.stdin_data && j.spec.stdin_len == sizeof in &&
          memcmp(j.spec.stdin_data, in, sizeof in) == 0);
    CHECK(j.spec.timeout == 2.5);
    CHECK_EQ_INT(j.spec.max_attempts, 3);
    CHECK_EQ_INT(j.state, JOB_QUEUED);
    CHECK_EQ_INT(j.exit_code, -1);
    CHECK_EQ_INT(j.signal, -1);
    CHECK(j.error == NULL);
    CHECK_EQ_INT(j.pid, -1);
    CHECK_EQ_INT(j.worker, -1);
    CHECK_EQ_INT(j.attempt, 0);
    CHECK_EQ_INT(j.created_at, 1000);
    CHECK_EQ_INT(j.started_at, 0);
    CHECK_EQ_INT(j.finished_at, 0);
    CHECK_EQ_INT(j.stdout_bytes, 0);
    CHECK_EQ_INT(j.stderr_bytes, 0);
    CHECK(!j.truncated);
    job_free(&j);

    /* without stdin */
    CHECK(store_get_job(s, id_full, &j, false) == 0);
    CHECK(j.spec.stdin_data == NULL && j.spec.stdin_len == 0);
    job_free(&j);

    /* the second: no name, a command, no env, no timeout */
    CHECK(store_get_job(s, id_other, &j, true) == 0);
    CHECK(j.spec.name == NULL);
    CHECK(j.spec.queue && strcmp(j.spec.queue, "other") == 0);
    CHECK_EQ_INT(j.spec.priority, -1);
    CHECK(j.spec.command && strcmp(j.spec.command, "echo hi") == 0);
    CHECK_EQ_INT(strblob_count(&j.spec.argv), 3);
    CHECK_EQ_INT(j.spec.env.len, 0);
    CHECK(j.spec.stdin_data == NULL && j.spec.stdin_len == 0);
    CHECK(j.spec.timeout == 0);
    CHECK_EQ_INT(j.spec.max_attempts, 1);
    job_free(&j);

    /* one "submitted" event each */
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(store_count_events(s, ids[i]), 1);

    /* missing job */
    CHECK(store_get_job(s, id_alpha2 + 1000, &j, true) == 1);
    CHECK_EQ_INT(store_count_events(s, id_alpha2 + 1000), 0);

    for (int i = 0; i < 3; i++)
        job_spec_free(&specs[i]);
}

static void test_insert_is_atomic(struct store *s)
{
    int64_t before = total_jobs(s);
    struct job_spec specs[2];
    specs[0] = make_spec("atomic", "default", 0, true_cmd);
    specs[1] = make_spec("atomic", "default", 0, true_cmd);
    free(specs[1].argv.data); /* argv is NOT NULL: the second insert fails */
    specs[1].argv.data = NULL;
    specs[1].argv.len = 0;
    int64_t ids[2] = {0, 0};
    fprintf(stderr, "(an INSERT error is expected next)\n");
    CHECK(store_insert_jobs(s, specs, 2, 1500, ids) == -1);
    CHECK_EQ_INT(total_jobs(s), before);
    struct store_filter f = {.name = "atomic", .limit = 10};
    struct job *jobs = NULL;
    size_t n = 99;
    CHECK(store_list_jobs(s, &f, &jobs, &n) == 0);
    CHECK_EQ_INT(n, 0);
    free(jobs);
    /* the store works normally afterwards */
    struct job_spec ok = make_spec("after-failure", "default", 0, true_cmd);
    int64_t id = insert_one(s, &ok, 1600);
    CHECK_EQ_INT(state_of(s, id), JOB_QUEUED);
    enum job_state st;
    CHECK(store_job_running(s, id, 0, 1, 1601) == 0);
    struct store_outcome o = {.state = JOB_CANCELED,
                              .exit_code = -1,
                              .signal = -1,
                              .user_us = -1,
                              .system_us = -1,
                              .maxrss_kb = -1};
    CHECK(store_job_finish(s, id, JOB_RUNNING, &o, 1602) == 0);
    CHECK(store_delete_job(s, id, &st) == 0);
    CHECK_EQ_INT(total_jobs(s), before);
    job_spec_free(&ok);
    job_spec_free(&specs[0]);
    job_spec_free(&specs[1]);
}

/* Lists with f and checks the ids, newest first. */
static void expect_list(struct store *s, const struct store_filter *f, const int64_t *want,
                        size_t nwant, int line)
{
    struct job *jobs = NULL;
    size_t n = 99;
    int rc = store_list_jobs(s, f, &jobs, &n);
    bool ok = rc == 0 && n == nwant;
    for (size_t i = 0; ok && i < n; i++)
        ok = jobs[i].id == want[i];
    if (!ok) {
        fprintf(stderr, "list at line %d: rc %d, got %zu ids:", line, rc, n);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %lld", (long long)jobs[i].id);
        fprintf(stderr, ", want %zu:", nwant);
        for (size_t i = 0; i < nwant; i++)
            fprintf(stderr, " %lld", (long long)want[i]);
        fprintf(stderr, "\n");
    }
    CHECK(ok);
    /* listed jobs carry their fields, but not stdin */
    for (size_t i = 0; i < n; i++) {
        CHECK(jobs[i].spec.queue != NULL && jobs[i].spec.cwd != NULL);
        CHECK(jobs[i].spec.stdin_data == NULL);
        job_free(&jobs[i]);
    }
    free(jobs);
}

static void test_list(struct store *s)
{
    struct store_filter f = {.limit = 100};
    expect_list(s, &f, (int64_t[]){id_alpha2, id_other, id_full}, 3, __LINE__);
    f.limit = 2;
    expect_list(s, &f, (int64_t[]){id_alpha2, id_other}, 2, __LINE__);
    f.limit = 1;
    expect_list(s, &f, (int64_t[]){id_alpha2}, 1, __LINE__);

    f = (struct store_filter){.queue = "other", .limit = 100};
    expect_list(s, &f, (int64_t[]){id_other}, 1, __LINE__);
    f = (struct store_filter){.queue = "default", .limit = 100};
    expect_list(s, &f, (int64_t[]){id_alpha2, id_full}, 2, __LINE__);
    f = (struct store_filter){.queue = "nope", .limit = 100};
    expect_list(s, &f, NULL, 0, __LINE__);

    f = (struct store_filter){.name = "alpha", .limit = 100};
    expect_list(s, &f, (int64_t[]){id_alpha2, id_full}, 2, __LINE__);
    f.limit = 1;
    expect_list(s, &f, (int64_t[]){id_alpha2}, 1, __LINE__);

    f = (struct store_filter){.states = {JOB_QUEUED}, .n_states = 1, .limit = 100};
    expect_list(s, &f, (int64_t[]){id_alpha2, id_other, id_full}, 3, __LINE__);
    f = (struct store_filter){.states = {JOB_RUNNING}, .n_states = 1, .limit = 100};
    expect_list(s, &f, NULL, 0, __LINE__);

    /* before: only ids below, newest first; with a limit it pages */
    f = (struct store_filter){.before = id_alpha2, .limit = 100};
    expect_list(s, &f, (int64_t[]){id_other, id_full}, 2, __LINE__);
    f = (struct store_filter){.before = id_alpha2, .limit = 1};
    expect_list(s, &f, (int64_t[]){id_other}, 1, __LINE__);
    f = (struct store_filter){.before = id_other, .limit = 1};
    expect_list(s, &f, (int64_t[]){id_full}, 1, __LINE__);
    f = (struct store_filter){.before = id_full, .limit = 1};
    expect_list(s, &f, NULL, 0, __LINE__);

    /* filters combine */
    f = (struct store_filter){.states = {JOB_QUEUED},
                              .n_states = 1,
                              .queue = "default",
                              .name = "alpha",
                              .before = id_alpha2,
                              .limit = 100};
    expect_list(s, &f, (int64_t[]){id_full}, 1, __LINE__);
    /* values are bound, not pasted into the SQL */
    f = (struct store_filter){.name = "x' OR '1'='1", .limit = 100};
    expect_list(s, &f, NULL, 0, __LINE__);
}

static void test_transitions(struct store *s)
{
    struct job j;
    CHECK(store_job_running(s, id_full, 2, 1, 2000) == 0);
    CHECK(store_get_job(s, id_full, &j, false) == 0);
    CHECK_EQ_INT(j.state, JOB_RUNNING);
    CHECK_EQ_INT(j.worker, 2);
    CHECK_EQ_INT(j.attempt, 1);
    CHECK_EQ_INT(j.started_at, 2000);
    CHECK_EQ_INT(j.pid, -1);
    CHECK_EQ_INT(j.finished_at, 0);
    job_free(&j);
    CHECK_EQ_INT(store_count_events(s, id_full), 2);

    struct store_filter f = {.states = {JOB_RUNNING}, .n_states = 1, .limit = 100};
    expect_list(s, &f, (int64_t[]){id_full}, 1, __LINE__);

    struct store_outcome ok = {.state = JOB_SUCCEEDED,
                               .exit_code = 0,
                               .pid = 4242,
                               .signal = -1,
                               .stdout_bytes = 12,
                               .stderr_bytes = 3,
                               .truncated = false,
                               .user_us = 100,
                               .system_us = 50,
                               .maxrss_kb = 2048,
                               .detail = "exit 0"};
    CHECK(store_job_finish(s, id_full, JOB_RUNNING, &ok, 3000) == 0);
    CHECK(store_get_job(s, id_full, &j, false) == 0);
    CHECK_EQ_INT(j.state, JOB_SUCCEEDED);
    CHECK_EQ_INT(j.exit_code, 0);
    CHECK_EQ_INT(j.signal, -1);
    CHECK(j.error == NULL);
    CHECK_EQ_INT(j.stdout_bytes, 12);
    CHECK_EQ_INT(j.stderr_bytes, 3);
    CHECK(!j.truncated);
    CHECK_EQ_INT(j.started_at, 2000);
    CHECK_EQ_INT(j.finished_at, 3000);
    CHECK_EQ_INT(j.pid, 4242);
    CHECK_EQ_INT(j.worker, 2);
    job_free(&j);
    CHECK_EQ_INT(store_count_events(s, id_full), 3); /* submitted, running, finished */

    /* a job killed by a signal, with an error and truncated output */
    CHECK(store_job_running(s, id_alpha2, 0, 1, 4000) == 0);
    struct store_outcome killed = {.state = JOB_TERMINATED,
                                   .exit_code = -1,
                                   .signal = 9,
                                   .error = "killed by request",
                                   .stdout_bytes = 1000,
                                   .truncated = true,
                                   .user_us = -1,
                                   .system_us = -1,
                                   .maxrss_kb = -1,
                                   .detail = "SIGKILL"};
    CHECK(store_job_finish(s, id_alpha2, JOB_RUNNING, &killed, 4100) == 0);
    CHECK(store_get_job(s, id_alpha2, &j, false) == 0);
    CHECK_EQ_INT(j.state, JOB_TERMINATED);
    CHECK_EQ_INT(j.exit_code, -1);
    CHECK_EQ_INT(j.signal, 9);
    CHECK(j.error && strcmp(j.error, "killed by request") == 0);
    CHECK(j.truncated);
    CHECK_EQ_INT(j.stdout_bytes, 1000);
    job_free(&j);
    CHECK_EQ_INT(store_count_events(s, id_alpha2), 3);

    /* a retry: running -> queued (with not_before) -> running again clears the outcome */
    struct job_spec spec = make_spec("retry", "default", 7, true_cmd);
    int64_t id = insert_one(s, &spec, 5000);
    job_spec_free(&spec);
    CHECK(store_job_running(s, id, 1, 1, 5001) == 0);
    CHECK(store_job_requeue(s, id, JOB_RUNNING, 9999, "retry after failure", 5002) == 0);
    CHECK(store_get_job(s, id, &j, false) == 0);
    CHECK_EQ_INT(j.state, JOB_QUEUED);
    CHECK_EQ_INT(j.pid, -1);
    CHECK_EQ_INT(j.worker, -1);
    CHECK_EQ_INT(j.attempt, 1);
    job_free(&j);
    CHECK_EQ_INT(store_count_events(s, id), 3);
    CHECK(store_job_running(s, id, 3, 2, 6000) == 0);
    CHECK(store_get_job(s, id, &j, false) == 0);
    CHECK_EQ_INT(j.state, JOB_RUNNING);
    CHECK_EQ_INT(j.attempt, 2);
    CHECK_EQ_INT(j.worker, 3);
    CHECK_EQ_INT(j.started_at, 6000);
    job_free(&j);
    struct store_outcome failed = {.state = JOB_FAILED,
                                   .exit_code = 1,
                                   .signal = -1,
                                   .user_us = -1,
                                   .system_us = -1,
                                   .maxrss_kb = -1};
    CHECK(store_job_finish(s, id, JOB_RUNNING, &failed, 6100) == 0);
    CHECK_EQ_INT(state_of(s, id), JOB_FAILED);
    CHECK_EQ_INT(store_count_events(s, id), 5);

    /* nested transactions: the outer commit commits both */
    struct job_spec a = make_spec("nested", "default", 0, true_cmd);
    store_begin(s);
    int64_t nid = insert_one(s, &a, 7000);
    CHECK(store_job_running(s, nid, 0, 1, 7001) == 0);
    CHECK(store_commit(s) == 0);
    CHECK_EQ_INT(state_of(s, nid), JOB_RUNNING);
    CHECK(store_job_finish(s, nid, JOB_RUNNING, &failed, 7002) == 0);
    job_spec_free(&a);
}

struct queued_seen {
    int n;
    struct {
        int64_t id, priority, not_before;
        char queue[32];
        bool plain, has_deps;
    } rows[15];
};

static void collect_queued(void *ctx, const struct store_queued *q)
{
    struct queued_seen *seen = ctx;
    int k = seen->n++;
    if (k < 15) {
        seen->rows[k].id = q->id;
        seen->rows[k].priority = q->priority;
        seen->rows[k].not_before = q->not_before;
        snprintf(seen->rows[k].queue, sizeof seen->rows[k].queue, "%s", q->queue);
        seen->rows[k].plain = q->plain;
        seen->rows[k].has_deps = q->has_deps;
    }
}

static void test_each_queued(struct store *s)
{
    struct job_spec a = make_spec("q1", "default", 3, true_cmd);
    struct job_spec b = make_spec("q2", "default", 9, true_cmd);
    int64_t ia = insert_one(s, &a, 8000), ib = insert_one(s, &b, 8001);
    CHECK(store_job_running(s, ib, 0, 1, 8002) == 0);
    CHECK(store_job_requeue(s, ib, JOB_RUNNING, 123456, "retry", 8003) == 0);
    /* one that waits on ia, under a concurrency key: passed after the others, not plain */
    struct job_spec c = make_spec("q3", "slow", 1, true_cmd);
    c.after = calloc(1, sizeof *c.after);
    CHECK(c.after != NULL);
    c.after[0] = ia;
    c.n_after = 1;
    c.concurrency_key = strdup("k");
    c.concurrency_limit = 1;
    int64_t ic = insert_one(s, &c, 8004);
    struct queued_seen seen = {0};
    CHECK(store_each_queued(s, collect_queued, &seen) == 0);
    /* queued now: id_other (from the insert test), ia, ib, in id order; then ic */
    CHECK_EQ_INT(seen.n, 4);
    CHECK_EQ_INT(seen.rows[0].id, id_other);
    CHECK_EQ_INT(seen.rows[0].priority, -1);
    CHECK_EQ_INT(seen.rows[0].not_before, 0);
    CHECK(strcmp(seen.rows[0].queue, "other") == 0);
    CHECK(seen.rows[0].plain && !seen.rows[0].has_deps);
    CHECK_EQ_INT(seen.rows[1].id, ia);
    CHECK_EQ_INT(seen.rows[1].priority, 3);
    CHECK_EQ_INT(seen.rows[1].not_before, 0);
    CHECK(strcmp(seen.rows[1].queue, "default") == 0);
    CHECK_EQ_INT(seen.rows[2].id, ib);
    CHECK_EQ_INT(seen.rows[2].priority, 9);
    CHECK_EQ_INT(seen.rows[2].not_before, 123456);
    CHECK(seen.rows[2].plain && !seen.rows[2].has_deps);
    CHECK_EQ_INT(seen.rows[3].id, ic);
    CHECK_EQ_INT(seen.rows[3].priority, 1);
    CHECK(strcmp(seen.rows[3].queue, "slow") == 0);
    CHECK(!seen.rows[3].plain && seen.rows[3].has_deps);
    struct store_outcome canceled = {.state = JOB_CANCELED,
                                     .exit_code = -1,
                                     .signal = -1,
                                     .user_us = -1,
                                     .system_us = -1,
                                     .maxrss_kb = -1};
    CHECK(store_job_finish(s, ia, JOB_QUEUED, &canceled, 8005) == 0);
    CHECK(store_job_finish(s, ib, JOB_QUEUED, &canceled, 8006) == 0);
    CHECK(store_job_finish(s, ic, JOB_QUEUED, &canceled, 8007) == 0);
    job_spec_free(&a);
    job_spec_free(&b);
    job_spec_free(&c);
}

static int64_t delay_for(double backoff, int attempt)
{
    (void)backoff;
    return 1000 * attempt;
}

static void find_queued(void *ctx, const struct store_queued *q)
{
    int64_t *want = ctx; /* [0] id to find, [1] its not_before once found */
    if (q->id == want[0]) want[1] = q->not_before;
}

static void test_recover(struct store *s)
{
    /* a job with attempts left is queued again, after the backoff of its attempt */
    struct job_spec again = make_spec("again", "default", 0, true_cmd);
    again.max_attempts = 3;
    int64_t id_again = insert_one(s, &again, 8900);
    job_spec_free(&again);
    CHECK(store_job_running(s, id_again, 0, 2, 9000) == 0);
    CHECK(store_job_running(s, id_other, 1, 1, 9000) == 0);
    struct store_recovery rec = {0};
    CHECK(store_recover(s, 9500, delay_for, &rec) == 0);
    CHECK_EQ_INT(rec.lost, 1);
    CHECK_EQ_INT(rec.requeued, 1);
    CHECK_EQ_INT(state_of(s, id_again), JOB_QUEUED);
    int64_t found[2] = {id_again, -1};
    CHECK(store_each_queued(s, find_queued, found) == 0);
    CHECK_EQ_INT(found[1], 9500 + 2000);
    CHECK_EQ_INT(store_count_events(s, id_again), 3); /* submitted, running, queued again */
    struct store_outcome done = {.state = JOB_SUCCEEDED,
                                 .exit_code = 0,
                                 .signal = -1,
                                 .user_us = -1,
                                 .system_us = -1,
                                 .maxrss_kb = -1};
    CHECK(store_job_running(s, id_again, 0, 3, 9600) == 0);
    CHECK(store_job_finish(s, id_again, JOB_RUNNING, &done, 9700) == 0);
    struct job j;
    CHECK(store_get_job(s, id_other, &j, false) == 0);
    CHECK_EQ_INT(j.state, JOB_LOST);
    CHECK(j.error != NULL && j.error[0] != '\0');
    CHECK_EQ_INT(j.finished_at, 9500);
    CHECK_EQ_INT(j.exit_code, -1);
    CHECK_EQ_INT(j.signal, -1);
    job_free(&j);
    CHECK_EQ_INT(store_count_events(s, id_other), 3); /* submitted, running, lost */
    /* terminal jobs are left alone */
    CHECK_EQ_INT(state_of(s, id_full), JOB_SUCCEEDED);
    /* nothing running: nothing to do */
    CHECK(store_recover(s, 9600, delay_for, &rec) == 0);
    CHECK_EQ_INT(rec.lost, 0);
    CHECK_EQ_INT(rec.requeued, 0);
    CHECK_EQ_INT(store_count_events(s, id_other), 3);
}

/* With a start ledger, a job a worker only held is released (queued, no attempt counted)
 * and one it began to start is recovered like a running one. */
static void test_recover_held(struct store *s)
{
    struct job_spec spec = make_spec("held", "default", 0, true_cmd);
    int64_t held = insert_one(s, &spec, 9700), began = insert_one(s, &spec, 9700);
    job_spec_free(&spec);
    CHECK(store_job_reserve(s, held, 0) == 0);
    CHECK(store_job_reserve(s, began, 0) == 0);
    int64_t started[] = {began, 424242};
    struct store_recovery rec = {.started = started, .n_started = 2, .started_known = true};
    CHECK(store_recover(s, 9800, delay_for, &rec) == 0);
    CHECK_EQ_INT(rec.released, 1);
    CHECK_EQ_INT(rec.lost, 1);
    struct job j;
    CHECK(store_get_job(s, held, &j, false) == 0);
    CHECK_EQ_INT(j.state, JOB_QUEUED);
    CHECK_EQ_INT(j.attempt, 0);
    job_free(&j);
    CHECK_EQ_INT(state_of(s, began), JOB_LOST);
    /* released means unreserved: a second recovery finds nothing held */
    CHECK(store_recover(s, 9900, delay_for, &rec) == 0);
    CHECK_EQ_INT(rec.released + rec.lost + rec.requeued, 0);
    /* without a ledger, a held job may have started: it counts */
    CHECK(store_job_reserve(s, held, 1) == 0);
    struct store_recovery unknown = {0};
    CHECK(store_recover(s, 9950, delay_for, &unknown) == 0);
    CHECK_EQ_INT(unknown.released, 0);
    CHECK_EQ_INT(unknown.lost, 1);
}

static void test_delete(struct store *s)
{
    enum job_state st = JOB_STATE_COUNT;
    struct job_spec q = make_spec("to-delete", "default", 0, true_cmd);
    int64_t id = insert_one(s, &q, 10000);
    job_spec_free(&q);

    /* queued and running are refused, nothing deleted */
    CHECK(store_delete_job(s, id, &st) == 2);
    CHECK_EQ_INT(state_of(s, id), JOB_QUEUED);
    CHECK(store_job_running(s, id, 0, 1, 10001) == 0);
    CHECK(store_delete_job(s, id, &st) == 2);
    CHECK_EQ_INT(state_of(s, id), JOB_RUNNING);
    CHECK_EQ_INT(store_count_events(s, id), 2);

    struct store_outcome done = {.state = JOB_FAILED,
                                 .exit_code = 2,
                                 .signal = -1,
                                 .user_us = -1,
                                 .system_us = -1,
                                 .maxrss_kb = -1};
    CHECK(store_job_finish(s, id, JOB_RUNNING, &done, 10002) == 0);
    st = JOB_STATE_COUNT;
    CHECK(store_delete_job(s, id, &st) == 0);
    CHECK_EQ_INT(st, JOB_FAILED);
    struct job j;
    CHECK(store_get_job(s, id, &j, false) == 1);
    CHECK_EQ_INT(store_count_events(s, id), 0); /* its events went with it */
    CHECK(store_delete_job(s, id, &st) == 1);   /* gone */
    CHECK(store_delete_job(s, 987654, &st) == 1);
}

static void test_counts(struct store *s, const int64_t want[JOB_STATE_COUNT], int line)
{
    int64_t counts[JOB_STATE_COUNT];
    for (int i = 0; i < JOB_STATE_COUNT; i++)
        counts[i] = -7;
    CHECK(store_count_states(s, counts) == 0);
    bool ok = true;
    for (int i = 0; i < JOB_STATE_COUNT; i++)
        ok = ok && counts[i] == want[i];
    if (!ok) {
        fprintf(stderr, "counts at line %d:", line);
        for (int i = 0; i < JOB_STATE_COUNT; i++)
            fprintf(stderr, " %s=%lld/%lld", job_state_name((enum job_state)i),
                    (long long)counts[i], (long long)want[i]);
        fprintf(stderr, "\n");
    }
    CHECK(ok);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(db_path, sizeof db_path, "%s/spawnpool.db", dir);
    struct store *s = open_store();

    int64_t none[JOB_STATE_COUNT] = {0};
    test_counts(s, none, __LINE__);
    test_insert_and_get(s);
    test_insert_is_atomic(s);
    test_list(s);
    test_transitions(s);
    test_each_queued(s);
    test_recover(s);
    test_recover_held(s);
    test_delete(s);

    /* id_full and "again" succeeded, id_other lost, id_alpha2 terminated, "retry" and
     * "nested" failed, q1, q2 and q3 canceled */
    int64_t want[JOB_STATE_COUNT] = {0};
    want[JOB_SUCCEEDED] = 2;
    want[JOB_LOST] = 3; /* test_recover 1, test_recover_held 2 */
    want[JOB_TERMINATED] = 1;
    want[JOB_FAILED] = 2;
    want[JOB_CANCELED] = 3;
    test_counts(s, want, __LINE__);

    /* Persistence: close, reopen (migrations already applied), everything is still there. */
    store_close(s);
    s = open_store();
    struct job j;
    CHECK(store_get_job(s, id_full, &j, true) == 0);
    CHECK_EQ_INT(j.state, JOB_SUCCEEDED);
    CHECK_EQ_INT(j.exit_code, 0);
    CHECK_EQ_INT(j.stdout_bytes, 12);
    CHECK_EQ_INT(j.finished_at, 3000);
    CHECK(j.spec.name && strcmp(j.spec.name, "alpha") == 0);
    CHECK_EQ_INT(j.spec.stdin_len, 6);
    job_free(&j);
    CHECK_EQ_INT(store_count_events(s, id_full), 3);
    test_counts(s, want, __LINE__);
    /* ids are never reused, even after a delete */
    struct job_spec spec = make_spec("after-reopen", "default", 0, true_cmd);
    int64_t id = insert_one(s, &spec, 20000);
    job_spec_free(&spec);
    struct store_filter f = {.limit = 100};
    struct job *jobs = NULL;
    size_t n = 0;
    CHECK(store_list_jobs(s, &f, &jobs, &n) == 0);
    CHECK(n >= 1 && jobs[0].id == id);
    for (size_t i = 1; i < n; i++)
        CHECK(jobs[i].id < id);
    for (size_t i = 0; i < n; i++)
        job_free(&jobs[i]);
    free(jobs);
    store_close(s);

    /* A path that cannot be opened: -1 with a message. */
    char bad[300], err[256] = "";
    snprintf(bad, sizeof bad, "%s/no/such/dir/db", dir);
    struct store *none_store = NULL;
    fprintf(stderr, "(an open error is expected next)\n");
    CHECK(store_open(&none_store, bad, err, sizeof err) == -1);
    CHECK(err[0] != '\0');

    remove_dir(dir);
    CHECK(access(dir, F_OK) != 0);
    return check_report();
}
