/* store_list: GET /v1/jobs's listing: the SQL of each combination of filters (a *shape*),
 * prepared once per connection and shape (store_conns.c), and the read that binds and runs it.
 *
 * Every shape is answered from an index, never by a scan of the whole jobs table
 * (tests/unit/test_list_plan.c checks the plan of each one):
 * - the filters are found in the index of one of them: jobs_by_state, _queue, _name (a name
 *   prefix is a range on it: name >= 'build-' AND name < 'build.'), _rerun_of, _created,
 *   _finished (migration 0008). Where only time bounds filter, the planner would rather walk
 *   the table in id order (no sort) and stop at the limit, which reads all of it when fewer
 *   rows match: those shapes name their index (INDEXED BY).
 * - a range, or several states, does not come out of its index in id order, so the ids are
 *   picked first (from the index alone, a sort that keeps only `limit` of them) and only
 *   those rows are read: SELECT ... WHERE id IN (SELECT id ... ORDER BY id DESC LIMIT n).
 *   A filter whose index is in id order (one state, a queue, a name) stops at the limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store_internal.h"

/* The SQL of each filter, in the order a shape's WHERE lists them. To add a filter: a LIST_*
 * bit (store_internal.h), a row here (and in LIST_KEYED if an index of its own finds it),
 * a field of struct store_filter with its bit in store_list_shape and its binding in
 * store_list_jobs, and its index in a migration. */
static const struct {
    int bit;
    const char *sql;
} list_terms[] = {
    {LIST_STATE, " AND state = :state"},
    {LIST_STATES, " AND state IN (:state0, :state1, :state2, :state3, :state4, :state5, :state6, "
                  ":state7, :state8)"},
    {LIST_QUEUE, " AND queue = :queue"},
    {LIST_NAME, " AND name = :name"},
    {LIST_NAME_PREFIX, " AND name >= :name AND name < :name_end"},
    {LIST_RERUN_OF, " AND rerun_of = :rerun_of"},
    {LIST_CREATED_AFTER, " AND created_at > :created_after"},
    {LIST_CREATED_BEFORE, " AND created_at < :created_before"},
    {LIST_FINISHED_AFTER, " AND finished_at > :finished_after"},
    {LIST_BEFORE, " AND id < :before"},
    {LIST_SCHEDULE, " AND schedule = :schedule"},
};
/* Filters an index finds by key: with one of them the planner picks an index by itself. */
#define LIST_KEYED                                                                                 \
    (LIST_STATE | LIST_STATES | LIST_QUEUE | LIST_NAME | LIST_NAME_PREFIX | LIST_RERUN_OF |        \
     LIST_SCHEDULE)

_Static_assert(JOB_STATE_COUNT == 9, "LIST_STATES binds :state0 to :state8");
_Static_assert(RS_EVENTS - RS_LIST == LIST_SHAPES, "a statement per shape");

bool store_list_shape_valid(int shape)
{
    return shape >= 0 && shape < LIST_SHAPES &&
           (shape & (LIST_STATE | LIST_STATES)) != (LIST_STATE | LIST_STATES) &&
           (shape & (LIST_NAME | LIST_NAME_PREFIX)) != (LIST_NAME | LIST_NAME_PREFIX);
}

int store_list_shape(const struct store_filter *f)
{
    int shape = 0;
    if (f->n_states == 1) shape |= LIST_STATE;
    if (f->n_states > 1) shape |= LIST_STATES;
    if (f->queue) shape |= LIST_QUEUE;
    if (f->name) shape |= f->name_prefix ? LIST_NAME_PREFIX : LIST_NAME;
    if (f->rerun_of > 0) shape |= LIST_RERUN_OF;
    if (f->schedule) shape |= LIST_SCHEDULE;
    if (f->created_after) shape |= LIST_CREATED_AFTER;
    if (f->created_before) shape |= LIST_CREATED_BEFORE;
    if (f->finished_after) shape |= LIST_FINISHED_AFTER;
    if (f->before > 0) shape |= LIST_BEFORE;
    return shape;
}

void store_list_sql(int shape, char *buf, size_t len)
{
    const char *indexed = "";
    if (!(shape & LIST_KEYED)) {
        if (shape & LIST_FINISHED_AFTER)
            indexed = " INDEXED BY jobs_by_finished";
        else if (shape & (LIST_CREATED_AFTER | LIST_CREATED_BEFORE))
            indexed = " INDEXED BY jobs_by_created";
    }
    char where[1024] = "";
    size_t at = 0;
    for (size_t i = 0; i < sizeof list_terms / sizeof list_terms[0]; i++)
        if (shape & list_terms[i].bit)
            at += (size_t)snprintf(where + at, sizeof where - at, "%s", list_terms[i].sql);
    snprintf(buf, len,
             "SELECT " JOB_COLUMNS " FROM jobs WHERE id IN (SELECT id FROM jobs%s WHERE 1%s "
             "ORDER BY id DESC LIMIT :limit) ORDER BY id DESC",
             indexed, where);
}

static void bind_text(sqlite3_stmt *st, const char *param, const char *v)
{
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, param), v, -1, SQLITE_STATIC);
}

static void bind_int(sqlite3_stmt *st, const char *param, int64_t v)
{
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, param), v);
}

/* Binds :name_end, the first text above every name starting with prefix: the prefix with its
 * last byte incremented (bytes 0xFF dropped first). With none (an empty prefix), an empty
 * blob: SQLite orders every text below every blob. 0, or -1 out of memory. */
static int bind_prefix_end(sqlite3_stmt *st, const char *prefix)
{
    int i = sqlite3_bind_parameter_index(st, ":name_end");
    size_t n = strlen(prefix);
    while (n > 0 && (unsigned char)prefix[n - 1] == 0xFF)
        n--;
    if (n == 0) return sqlite3_bind_zeroblob(st, i, 0) == SQLITE_OK ? 0 : -1;
    char *end = malloc(n);
    if (!end) return -1;
    memcpy(end, prefix, n);
    end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
    return sqlite3_bind_text(st, i, end, (int)n, free) == SQLITE_OK ? 0 : -1;
}

/* Binds f's values to a statement of its shape. 0, or -1 out of memory. */
static int bind_filter(sqlite3_stmt *st, const struct store_filter *f)
{
    if (f->n_states == 1) bind_text(st, ":state", job_state_name(f->states[0]));
    for (int i = 0; f->n_states > 1 && i < f->n_states && i < JOB_STATE_COUNT; i++) {
        char param[16];
        snprintf(param, sizeof param, ":state%d", i);
        bind_text(st, param, job_state_name(f->states[i])); /* (the rest stay NULL) */
    }
    if (f->queue) bind_text(st, ":queue", f->queue);
    if (f->name) bind_text(st, ":name", f->name);
    if (f->name && f->name_prefix && bind_prefix_end(st, f->name) < 0) return -1;
    if (f->rerun_of > 0) bind_int(st, ":rerun_of", f->rerun_of);
    if (f->schedule) bind_text(st, ":schedule", f->schedule);
    if (f->created_after) bind_int(st, ":created_after", *f->created_after);
    if (f->created_before) bind_int(st, ":created_before", *f->created_before);
    if (f->finished_after) bind_int(st, ":finished_after", *f->finished_after);
    if (f->before > 0) bind_int(st, ":before", f->before);
    bind_int(st, ":limit", f->limit);
    return 0;
}

int store_list_jobs(struct store *s, const struct store_filter *f, struct job **jobs, size_t *n)
{
    *jobs = NULL;
    *n = 0;
    int shape = store_list_shape(f);
    if (f->limit <= 0 || f->n_states < 0 || f->n_states > JOB_STATE_COUNT ||
        !store_list_shape_valid(shape))
        return -1;
    struct job *list = calloc((size_t)f->limit, sizeof *list);
    if (!list) return -1;
    struct rd r;
    if (rd_begin(s, &r) < 0) {
        free(list);
        return -1;
    }
    sqlite3_stmt *st = rd_stmt(&r, RS_LIST + shape);
    int rc = st ? bind_filter(st, f) : -1;
    while (rc == 0 && *n < (size_t)f->limit) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE) break;
        if (step != SQLITE_ROW || store_read_job_row(st, &list[*n]) < 0) {
            rc = rd_fail(&r, "listing jobs");
            break;
        }
        (*n)++;
    }
    rd_end(&r);
    if (rc < 0) {
        for (size_t i = 0; i < *n; i++)
            job_free(&list[i]);
        free(list);
        *n = 0;
        return -1;
    }
    *jobs = list;
    return 0;
}
