/* Unit tests for GET /v1/jobs's listing (server/store_list.c):
 * - plans: for every combination of filters (every valid shape), EXPLAIN QUERY PLAN of the
 *   exact SQL the store prepares must find its rows in an index of one of the filters: a
 *   plan with `SCAN jobs` (the whole table, or a whole index) fails, as does one that only
 *   walks ids down from `before` while other filters would have to look at every row below.
 *   Only the unfiltered shape may scan (newest first, it stops at the limit). The table is
 *   filled first, and not ANALYZEd: the server never runs ANALYZE, so these plans are its.
 * - results: for every shape, several sets of values, paged through with before=, give
 *   exactly what a plain loop over the same rows selects, newest first. */
#include <stdint.h>

#include <sqlite3.h>

#include "server/store_internal.h"
#include "store_fixture.h"

/* ---- plans ------------------------------------------------------------------------------- */

/* The indexes that find a filter's rows by key or range. */
static const struct {
    int bit;
    const char *index;
} filter_index[] = {
    {LIST_STATE, "jobs_by_state"},
    {LIST_STATES, "jobs_by_state"},
    {LIST_QUEUE, "jobs_by_queue"},
    {LIST_NAME, "jobs_by_name"},
    {LIST_NAME_PREFIX, "jobs_by_name"},
    {LIST_RERUN_OF, "jobs_by_rerun_of"},
    {LIST_SCHEDULE, "jobs_by_schedule"},
    {LIST_CREATED_AFTER, "jobs_by_created"},
    {LIST_CREATED_BEFORE, "jobs_by_created"},
    {LIST_FINISHED_AFTER, "jobs_by_finished"},
};

struct plan {
    char lines[16][200];
    int n;
};

/* EXPLAIN QUERY PLAN of sql on db into p; false if it does not prepare. */
static bool explain(sqlite3 *db, const char *sql, struct plan *p)
{
    char eqp[4096];
    snprintf(eqp, sizeof eqp, "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, eqp, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "cannot prepare %s: %s\n", sql, sqlite3_errmsg(db));
        return false;
    }
    p->n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && p->n < 16)
        snprintf(p->lines[p->n++], sizeof p->lines[0], "%s", sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    return true;
}

static bool has_line(const struct plan *p, const char *prefix)
{
    for (int i = 0; i < p->n; i++)
        if (strncmp(p->lines[i], prefix, strlen(prefix)) == 0) return true;
    return false;
}

/* Why the plan of a query of shape would read more of jobs than its filters select; NULL if
 * it does not. */
static const char *plan_fault(const struct plan *p, int shape)
{
    if (shape == 0) return has_line(p, "SCAN jobs USING") ? "scans a whole index" : NULL;
    if (has_line(p, "SCAN jobs")) return "scans the whole table or a whole index";
    if (shape == LIST_BEFORE)
        return has_line(p, "SEARCH jobs USING INTEGER PRIMARY KEY (rowid<?)")
                   ? NULL
                   : "does not walk down from before";
    for (size_t i = 0; i < sizeof filter_index / sizeof filter_index[0]; i++) {
        if (!(shape & filter_index[i].bit)) continue;
        char a[100], b[100];
        snprintf(a, sizeof a, "SEARCH jobs USING INDEX %s (", filter_index[i].index);
        snprintf(b, sizeof b, "SEARCH jobs USING COVERING INDEX %s (", filter_index[i].index);
        if (has_line(p, a) || has_line(p, b)) return NULL;
    }
    return "finds no filter's rows in that filter's index";
}

static void print_plan(const struct plan *p, int shape, const char *sql, const char *fault)
{
    fprintf(stderr, "shape 0x%03x %s:\n  %s\n", shape, fault, sql);
    for (int i = 0; i < p->n; i++)
        fprintf(stderr, "  | %s\n", p->lines[i]);
}

/* Fills the table: rows enough that a plan that scans is visibly the wrong one (the planner
 * does not count them without ANALYZE, so what it picks is what the server gets). */
static void fill(struct store *s, int rows)
{
    static const char *const names[] = {NULL, "build-1", "deploy", "nightly-backup"};
    static const char *const queues[] = {"default", "ci", "nightly"};
    store_begin(s);
    for (int i = 0; i < rows; i++) {
        struct job_spec spec = make_spec(names[i % 4], queues[i % 3], 0, true_cmd);
        spec.rerun_of = i % 50 == 0 && i ? i / 2 : 0;
        insert_one(s, &spec, 1000000 + i);
        job_spec_free(&spec);
    }
    CHECK(store_commit(s) == 0);
    CHECK(sqlite3_exec(db_sqlite(s->db),
                       "UPDATE jobs SET state = CASE id % 10 WHEN 0 THEN 'failed' WHEN 1 THEN "
                       "'queued' WHEN 2 THEN 'running' ELSE 'succeeded' END, finished_at = "
                       "CASE WHEN id % 10 IN (1, 2) THEN NULL ELSE created_at + 500 END",
                       NULL, NULL, NULL) == SQLITE_OK);
}

/* Every valid shape's SQL prepares, and its plan reads only what its filters select. */
static void test_plans(struct store *s)
{
    fill(s, 20000);
    int checked = 0;
    for (int shape = 0; shape < LIST_SHAPES; shape++) {
        if (!store_list_shape_valid(shape)) continue;
        char sql[STORE_READ_SQL_MAX];
        store_list_sql(DB_SQLITE, shape, sql, sizeof sql);
        CHECK(strlen(sql) < sizeof sql - 1); /* (not cut short: rd_stmt's buffer is as big) */
        struct plan p;
        CHECK(explain(db_sqlite(s->db), sql, &p));
        const char *fault = plan_fault(&p, shape);
        /* the rows are read by id, and only those the subquery picked */
        if (!fault && !has_line(&p, "SEARCH jobs USING INTEGER PRIMARY KEY (rowid=?)"))
            fault = "does not read the rows by the ids it picked";
        /* a filter whose index is in id order, alone, stops at the limit: no sort */
        int alone = shape & ~LIST_BEFORE;
        if (!fault &&
            (alone == 0 || alone == LIST_STATE || alone == LIST_QUEUE || alone == LIST_NAME ||
             alone == LIST_RERUN_OF) &&
            has_line(&p, "USE TEMP B-TREE"))
            fault = "sorts what its index has in order";
        if (fault) print_plan(&p, shape, sql, fault);
        CHECK(fault == NULL);
        checked++;
    }
    CHECK_EQ_INT(checked, 3 * 3 * (LIST_SHAPES >> 4)); /* states x names x the other 6 */
    printf("plans of %d shapes checked\n", checked);

    /* the check can fail: a time bound alone, left to the planner, walks the whole table in
     * id order (that is why those shapes name their index) */
    struct plan p;
    CHECK(explain(db_sqlite(s->db),
                  "SELECT id FROM jobs WHERE created_at > ? ORDER BY id DESC LIMIT 10", &p));
    CHECK(plan_fault(&p, LIST_CREATED_AFTER) != NULL);
    CHECK(explain(db_sqlite(s->db),
                  "SELECT id FROM jobs WHERE finished_at > ? AND id < ? ORDER BY id DESC LIMIT 10",
                  &p));
    CHECK(plan_fault(&p, LIST_FINISHED_AFTER | LIST_BEFORE) != NULL);
    CHECK(explain(db_sqlite(s->db),
                  "SELECT id FROM jobs WHERE +queue = ? ORDER BY id DESC LIMIT 10", &p));
    CHECK(plan_fault(&p, LIST_QUEUE) != NULL);
}

/* ---- results ----------------------------------------------------------------------------- */

/* What each row of the results' table is, as inserted. */
struct row {
    int64_t id;
    const char *name, *queue;
    enum job_state state;
    int64_t created_at, finished_at; /* finished_at 0: not ended */
    int64_t rerun_of;
    const char *schedule;
};
#define ROWS 240
static struct row rows[ROWS];

static const char *const row_names[] = {
    NULL,      "build",  "build-", "build-a",           "build-zz",   "build.",
    "build.x", "buildx", "deploy", "\xc3\xa9t\xc3\xa9", "\xc3\xa9tz", "Build-a",
};
static const char *const row_queues[] = {"default", "ci", "nightly"};

static void fill_rows(struct store *s)
{
    store_begin(s);
    for (int i = 0; i < ROWS; i++) {
        struct row *r = &rows[i];
        r->name = row_names[(i * 7) % 12];
        r->queue = row_queues[i % 3];
        r->state = (enum job_state)((i * 5) % JOB_STATE_COUNT);
        /* the clock steps back now and then: created_at is not in id order */
        r->created_at = 5000000 + i * 10 - (i % 17 == 0 ? 400 : 0);
        r->finished_at = job_state_terminal(r->state) ? r->created_at + (i * 37) % 900 : 0;
        r->rerun_of = i % 6 == 5 ? rows[i % 4].id : 0;
        struct job_spec spec = make_spec(r->name, r->queue, 0, true_cmd);
        spec.rerun_of = r->rerun_of;
        r->schedule = i % 5 == 2 ? row_queues[i % 3] : NULL; /* (three schedules' names) */
        spec.schedule = r->schedule ? strdup(r->schedule) : NULL;
        r->id = insert_one(s, &spec, r->created_at);
        job_spec_free(&spec);
        char sql[200];
        snprintf(sql, sizeof sql, "UPDATE jobs SET state = '%s', finished_at = %s WHERE id = %lld",
                 job_state_name(r->state), r->finished_at ? "?" : "NULL", (long long)r->id);
        sqlite3_stmt *st;
        CHECK(sqlite3_prepare_v2(db_sqlite(s->db), sql, -1, &st, NULL) == SQLITE_OK);
        if (r->finished_at) sqlite3_bind_int64(st, 1, r->finished_at);
        CHECK(sqlite3_step(st) == SQLITE_DONE);
        sqlite3_finalize(st);
    }
    CHECK(store_commit(s) == 0);
}

static bool row_matches(const struct row *r, const struct store_filter *f)
{
    bool state_ok = f->n_states == 0;
    for (int i = 0; i < f->n_states; i++)
        state_ok = state_ok || r->state == f->states[i];
    if (!state_ok) return false;
    if (f->queue && strcmp(r->queue, f->queue) != 0) return false;
    if (f->name && !r->name) return false;
    if (f->name && !f->name_prefix && strcmp(r->name, f->name) != 0) return false;
    if (f->name && f->name_prefix && strncmp(r->name, f->name, strlen(f->name)) != 0) return false;
    if (f->rerun_of && r->rerun_of != f->rerun_of) return false;
    if (f->schedule && (!r->schedule || strcmp(r->schedule, f->schedule) != 0)) return false;
    if (f->created_after && !(r->created_at > *f->created_after)) return false;
    if (f->created_before && !(r->created_at < *f->created_before)) return false;
    if (f->finished_after && !(r->finished_at && r->finished_at > *f->finished_after)) return false;
    if (f->before && r->id >= f->before) return false;
    return true;
}

/* Pages through f (limit per page) and compares with the rows a loop selects. */
static int nonempty_lists; /* of the lists expect_pages compared */

static void expect_pages(struct store *s, struct store_filter f, int shape, int variant)
{
    int64_t want[ROWS];
    int n_want = 0;
    for (int i = ROWS - 1; i >= 0; i--)
        if (row_matches(&rows[i], &f)) want[n_want++] = rows[i].id;
    int got = 0, pages = 0;
    bool same = true;
    nonempty_lists += n_want > 0;
    for (;;) {
        struct job *jobs;
        size_t n;
        if (store_list_jobs(s, &f, &jobs, &n) != 0) {
            same = false;
            break;
        }
        int64_t last = n ? jobs[n - 1].id : 0; /* (job_free zeroes it) */
        for (size_t k = 0; k < n; k++) {
            same = same && got < n_want && jobs[k].id == want[got];
            got++;
            job_free(&jobs[k]);
        }
        free(jobs);
        pages++;
        if (n < (size_t)f.limit || !same || pages > ROWS) break;
        f.before = last;
    }
    if (!same || got != n_want)
        fprintf(stderr, "shape 0x%03x variant %d: %d rows in %d pages, want %d\n", shape, variant,
                got, pages, n_want);
    CHECK(same && got == n_want);
}

/* The values a shape's filters take in variant v. */
static struct store_filter variant_filter(int shape, int v, int64_t times[3])
{
    static const enum job_state state_sets[][3] = {{JOB_FAILED, JOB_TIMED_OUT, JOB_LOST},
                                                   {JOB_SUCCEEDED, JOB_QUEUED, JOB_SUCCEEDED}};
    static const char *const prefixes[] = {"build-", "\xc3\xa9t", "", "build", "\xff"};
    static const char *const exact[] = {"build-a", "deploy", "build"};
    static const int limits[] = {3, 7, 50};
    struct store_filter f = {.limit = limits[v]};
    static const enum job_state one[] = {JOB_CANCELED, JOB_SUCCEEDED, JOB_RUNNING};
    if (shape & LIST_STATE) f.states[f.n_states++] = one[v];
    if (shape & LIST_STATES) {
        const enum job_state *set = state_sets[v % 2];
        for (int i = 0; i < 3 - v % 2; i++)
            f.states[f.n_states++] = set[i];
    }
    if (shape & LIST_QUEUE) f.queue = row_queues[v % 3];
    if (shape & LIST_NAME) f.name = exact[v % 3];
    if (shape & LIST_NAME_PREFIX) {
        f.name = prefixes[(v + shape) % 5];
        f.name_prefix = true;
    }
    if (shape & LIST_RERUN_OF) f.rerun_of = rows[1 + 2 * (v % 2)].id; /* (the reruns' firsts) */
    if (shape & LIST_SCHEDULE) f.schedule = row_queues[(v + 1) % 3];
    times[0] = 5000000 + 10 * (40 + 40 * v);
    times[1] = 5000000 + 10 * (200 - 20 * v);
    times[2] = 5000000 + 10 * (60 + 50 * v);
    if (shape & LIST_CREATED_AFTER) f.created_after = &times[0];
    if (shape & LIST_CREATED_BEFORE) f.created_before = &times[1];
    if (shape & LIST_FINISHED_AFTER) f.finished_after = &times[2];
    if (shape & LIST_BEFORE) f.before = rows[ROWS - 1 - 30 * v].id;
    return f;
}

static void test_results(struct store *s)
{
    fill_rows(s);
    int shapes = 0;
    for (int shape = 0; shape < LIST_SHAPES; shape++) {
        if (!store_list_shape_valid(shape)) continue;
        shapes++;
        for (int v = 0; v < 3; v++) {
            int64_t times[3];
            struct store_filter f = variant_filter(shape, v, times);
            CHECK_EQ_INT(store_list_shape(&f), shape);
            expect_pages(s, f, shape, v);
        }
    }
    /* (values that select something in many: comparing empty lists shows little; shapes of
     * five or more filters select nothing more often than not) */
    printf("%d of %d lists were not empty\n", nonempty_lists, shapes * 3);
    CHECK(nonempty_lists > shapes * 3 / 5); /* (a fifth: the schedule filter halves them) */
    /* the edges, spelled out: a prefix is a prefix of bytes, case and all */
    int64_t at = rows[0].created_at;
    struct store_filter f = {.name = "build-", .name_prefix = true, .limit = 1000};
    expect_pages(s, f, LIST_NAME_PREFIX, -1);
    f = (struct store_filter){.created_after = &at, .created_before = &at, .limit = 10};
    struct job *jobs;
    size_t n;
    CHECK(store_list_jobs(s, &f, &jobs, &n) == 0); /* exclusive both ways: nothing */
    CHECK_EQ_INT(n, 0);
    free(jobs);
    /* shapes that cannot be */
    f = (struct store_filter){.n_states = JOB_STATE_COUNT + 1, .limit = 10};
    CHECK(store_list_jobs(s, &f, &jobs, &n) == -1);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(db_path, sizeof db_path, "%s/spawnpool.db", dir);
    struct store *s = open_store();
    test_plans(s);
    store_close(s);
    char path[300];
    snprintf(path, sizeof path, "%s-wal", db_path);
    unlink(path);
    snprintf(path, sizeof path, "%s-shm", db_path);
    unlink(path);
    unlink(db_path);
    s = open_store();
    test_results(s);
    store_close(s);
    remove_dir(dir);
    return check_report();
}
