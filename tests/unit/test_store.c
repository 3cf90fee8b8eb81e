/* Unit tests for server/store against a real database file in a temporary directory:
 * insert and read back, listing filters, state transitions and their events, recovery,
 * deletion, persistence across a reopen, and counts. */
#include <dirent.h>
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "server/store.h"

static char dir[] = "/tmp/spawnpool-test-store-XXXXXX";
static char db_path[256];

static void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(path);
}

static struct store *open_store(void)
{
    struct store *s = NULL;
    char err[256] = "";
    if (store_open(&s, db_path, err, sizeof err) != 0) {
        fprintf(stderr, "store_open(%s): %s\n", db_path, err);
        remove_dir(dir);
        exit(2);
    }
    return s;
}

/* A spec with argv {args...} (NULL-terminated), queue "default", cwd "/tmp". */
static struct job_spec make_spec(const char *name, const char *queue, int64_t priority,
                                 const char *const *args)
{
    struct job_spec j = {0};
    j.name = name ? strdup(name) : NULL;
    j.queue = strdup(queue ? queue : "default");
    j.priority = priority;
    for (const char *const *a = args; *a; a++)
        if (strblob_add(&j.argv, *a, strlen(*a)) < 0) exit(2);
    j.cwd = strdup("/tmp");
    j.max_attempts = 1;
    return j;
}

static const char *const echo_hi[] = {"/bin/echo", "hi there", NULL};
static const char *const true_cmd[] = {"true", NULL};

static int64_t insert_one(struct store *s, struct job_spec *spec, int64_t now)
{
    int64_t id = -1;
    CHECK(store_insert_jobs(s, spec, 1, now, &id) == 0);
    CHECK(id > 0);
    return id;
}

static enum job_state state_of(struct store *s, int64_t id)
{
    struct job j;
    if (store_get_job(s, id, &j, false) != 0) return JOB_STATE_COUNT;
    enum job_state st = j.state;
    job_free(&j);
    return st;
}

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

    f = (struct store_filter){.state = "queued", .limit = 100};
    expect_list(s, &f, (int64_t[]){id_alpha2, id_other, id_full}, 3, __LINE__);
    f = (struct store_filter){.state = "running", .limit = 100};
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
    f = (struct store_filter){
        .state = "queued", .queue = "default", .name = "alpha", .before = id_alpha2, .limit = 100};
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

    struct store_filter f = {.state = "running", .limit = 100};
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

static void collect_queued(void *ctx, int64_t id, int64_t priority, int64_t not_before)
{
    int64_t(*rows)[4] = ctx;
    int64_t k = rows[0][0]++;
    if (k < 15) {
        rows[k + 1][0] = id;
        rows[k + 1][1] = priority;
        rows[k + 1][2] = not_before;
    }
}

static void test_each_queued(struct store *s)
{
    struct job_spec a = make_spec("q1", "default", 3, true_cmd);
    struct job_spec b = make_spec("q2", "default", 9, true_cmd);
    int64_t ia = insert_one(s, &a, 8000), ib = insert_one(s, &b, 8001);
    CHECK(store_job_running(s, ib, 0, 1, 8002) == 0);
    CHECK(store_job_requeue(s, ib, JOB_RUNNING, 123456, "retry", 8003) == 0);
    int64_t rows[16][4] = {{0}};
    CHECK(store_each_queued(s, collect_queued, rows) == 0);
    /* queued now: id_other (from the insert test), ia, ib, in id order */
    CHECK_EQ_INT(rows[0][0], 3);
    CHECK_EQ_INT(rows[1][0], id_other);
    CHECK_EQ_INT(rows[1][1], -1);
    CHECK_EQ_INT(rows[1][2], 0);
    CHECK_EQ_INT(rows[2][0], ia);
    CHECK_EQ_INT(rows[2][1], 3);
    CHECK_EQ_INT(rows[2][2], 0);
    CHECK_EQ_INT(rows[3][0], ib);
    CHECK_EQ_INT(rows[3][1], 9);
    CHECK_EQ_INT(rows[3][2], 123456);
    struct store_outcome canceled = {.state = JOB_CANCELED,
                                     .exit_code = -1,
                                     .signal = -1,
                                     .user_us = -1,
                                     .system_us = -1,
                                     .maxrss_kb = -1};
    CHECK(store_job_finish(s, ia, JOB_QUEUED, &canceled, 8004) == 0);
    CHECK(store_job_finish(s, ib, JOB_QUEUED, &canceled, 8005) == 0);
    job_spec_free(&a);
    job_spec_free(&b);
}

static int64_t delay_for(int attempt)
{
    return 1000 * attempt;
}

static void find_queued(void *ctx, int64_t id, int64_t priority, int64_t not_before)
{
    (void)priority;
    int64_t *want = ctx; /* [0] id to find, [1] its not_before once found */
    if (id == want[0]) want[1] = not_before;
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

/* What a thread other than the writer read. */
struct reader_arg {
    struct store *s;
    int64_t id;
    int rc;
    enum job_state state;
    int64_t events;
    /* both >= 0: after reading, it says so on ready_fd and waits for hold_fd to close */
    int ready_fd, hold_fd;
};

static void *read_in_thread(void *p)
{
    struct reader_arg *a = p;
    struct job j;
    a->rc = store_get_job(a->s, a->id, &j, false);
    if (a->rc == 0) {
        a->state = j.state;
        job_free(&j);
    }
    a->events = store_count_events(a->s, a->id);
    char c;
    if (a->hold_fd >= 0) {
        (void)!write(a->ready_fd, "r", 1);
        (void)!read(a->hold_fd, &c, 1);
    }
    return NULL;
}

/* Reads job id in another thread; false if it did not finish within 10 s. */
static bool read_elsewhere(struct reader_arg *a)
{
    pthread_t t;
    a->rc = -2;
    if (pthread_create(&t, NULL, read_in_thread, a) != 0) return false;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    if (pthread_timedjoin_np(t, NULL, &until) == 0) return true;
    fprintf(stderr, "the reader thread did not finish in 10 s\n");
    pthread_detach(t);
    return false;
}

/* Readers never wait for the writer: while the writer (this thread, which opened the store)
 * holds a batch open with a change not yet committed, another thread reads at once and sees
 * the last commit, and the writer sees its own change. */
static void test_readers(struct store *s)
{
    struct job_spec spec = make_spec("reader", "default", 0, true_cmd);
    int64_t id = insert_one(s, &spec, 30000);
    job_spec_free(&spec);
    store_begin(s);
    CHECK(store_job_running(s, id, 0, 1, 30001) == 0);
    CHECK_EQ_INT(state_of(s, id), JOB_RUNNING); /* the writer: its own write */
    CHECK_EQ_INT(store_count_events(s, id), 2);
    static struct reader_arg a; /* static: a thread that did not finish may still write it */
    a = (struct reader_arg){.s = s, .id = id, .ready_fd = -1, .hold_fd = -1};
    CHECK(read_elsewhere(&a)); /* did not wait for the batch */
    CHECK_EQ_INT(a.rc, 0);
    CHECK_EQ_INT(a.state, JOB_QUEUED); /* the last commit */
    CHECK_EQ_INT(a.events, 1);
    CHECK(store_commit(s) == 0);
    static struct reader_arg b;
    b = (struct reader_arg){.s = s, .id = id, .ready_fd = -1, .hold_fd = -1};
    CHECK(read_elsewhere(&b));
    CHECK_EQ_INT(b.rc, 0);
    CHECK_EQ_INT(b.state, JOB_RUNNING); /* committed now */
    CHECK_EQ_INT(b.events, 2);
    static struct reader_arg gone;
    gone = (struct reader_arg){.s = s, .id = 1 << 30, .ready_fd = -1, .hold_fd = -1};
    CHECK(read_elsewhere(&gone));
    CHECK_EQ_INT(gone.rc, 1);
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
     * "nested" failed, q1 and q2 canceled */
    int64_t want[JOB_STATE_COUNT] = {0};
    want[JOB_SUCCEEDED] = 2;
    want[JOB_LOST] = 3; /* test_recover 1, test_recover_held 2 */
    want[JOB_TERMINATED] = 1;
    want[JOB_FAILED] = 2;
    want[JOB_CANCELED] = 2;
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
    test_readers(s);
    /* a reader thread still alive when the store closes: its connection goes with the store
     * (and nothing is left to its thread's exit) */
    int ready[2], hold[2];
    CHECK(pipe(ready) == 0 && pipe(hold) == 0);
    struct reader_arg live = {.s = s, .id = id, .ready_fd = ready[1], .hold_fd = hold[0]};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, read_in_thread, &live) == 0);
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    CHECK_EQ_INT(live.rc, 0);
    store_close(s);
    close(hold[1]);
    CHECK(pthread_join(t, NULL) == 0);
    close(hold[0]);
    close(ready[0]);
    close(ready[1]);

    /* A path that cannot be opened
: -1 with a message. */
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
