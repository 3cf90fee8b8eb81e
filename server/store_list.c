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
    const char *sql; /* its parameters are bare `?`s, numbered in the order of the WHERE */
} list_terms[] = {
    {LIST_STATE, " AND state = ?"},
    {LIST_STATES, " AND state IN (?, ?, ?, ?, ?, ?, ?, ?, ?)"},
    {LIST_QUEUE, " AND queue = ?"},
    {LIST_NAME, " AND name = ?"},
    {LIST_NAME_PREFIX, " AND name >= ? AND name < ?"},
    {LIST_RERUN_OF, " AND rerun_of = ?"},
    {LIST_CREATED_AFTER, " AND created_at > ?"},
    {LIST_CREATED_BEFORE, " AND created_at < ?"},
    {LIST_FINISHED_AFTER, " AND finished_at > ?"},
    {LIST_BEFORE, " AND id < ?"},
    {LIST_SCHEDULE, " AND schedule = ?"},
};
/* Filters an index finds by key: with one of them the planner picks an index by itself. */
#define LIST_KEYED                                                                                 \
    (LIST_STATE | LIST_STATES | LIST_QUEUE | LIST_NAME | LIST_NAME_PREFIX | LIST_RERUN_OF |        \
     LIST_SCHEDULE)

_Static_assert(JOB_STATE_COUNT == 9, "LIST_STATES binds 9 states");
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

void store_list_sql(enum db_kind kind, int shape, char *buf, size_t len)
{
    const char *indexed = "";
    if (!(shape & LIST_KEYED) && kind == DB_SQLITE) { /* (PostgreSQL's planner has no hint) */
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
             "SELECT " JOB_COLUMNS " FROM jobs WHERE id IN (SELECT id FROM jobs%s WHERE 1 = 1%s "
             "ORDER BY id DESC LIMIT ?) ORDER BY id DESC",
             indexed, where);
}

/* The upper bound of the names that start with prefix (malloc'd; NULL: out of memory).
 * SQLite: the prefix with its last byte incremented (bytes 0xFF dropped first), or with none
 * left an empty blob (SQLite orders every text below every blob: *blob is set). PostgreSQL
 * (text in UTF-8, COLLATE "C": byte order) takes valid UTF-8 only: the prefix followed by
 * U+10FFFF, above every name that starts with it but those going on with U+10FFFF. */
static char *prefix_end(enum db_kind kind, const char *prefix, bool *blob)
{
    size_t n = strlen(prefix);
    *blob = false;
    if (kind == DB_POSTGRES) {
        char *end = malloc(n + 5);
        if (end) snprintf(end, n + 5, "%s\xF4\x8F\xBF\xBF", prefix);
        return end;
    }
    while (n > 0 && (unsigned char)prefix[n - 1] == 0xFF)
        n--;
    char *end = malloc(n + 1);
    if (!end) return NULL;
    memcpy(end, prefix, n);
    end[n] = '\0';
    if (n > 0)
        end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
    else
        *blob = true;
    return end;
}

/* Binds f's values to a statement of its shape, in the order of its WHERE (list_terms). 0,
 * or -1 out of memory. */
static int bind_filter(enum db_kind kind, struct db_stmt *st, const struct store_filter *f)
{
    int i = 1;
    if (f->n_states == 1) db_bind_text(st, i++, job_state_name(f->states[0]));
    if (f->n_states > 1) {
        for (int k = 0; k < JOB_STATE_COUNT; k++, i++)
            if (k < f->n_states) db_bind_text(st, i, job_state_name(f->states[k]));
    } /* (the rest stay NULL) */
    if (f->queue) db_bind_text(st, i++, f->queue);
    if (f->name) db_bind_text(st, i++, f->name);
    if (f->name && f->name_prefix) {
        bool blob;
        char *end = prefix_end(kind, f->name, &blob);
        if (!end) return -1;
        if (blob)
            db_bind_blob(st, i++, "", 0);
        else
            db_bind_text(st, i++, end);
        free(end);
    }
    if (f->rerun_of > 0) db_bind_int(st, i++, f->rerun_of);
    if (f->created_after) db_bind_int(st, i++, *f->created_after);
    if (f->created_before) db_bind_int(st, i++, *f->created_before);
    if (f->finished_after) db_bind_int(st, i++, *f->finished_after);
    if (f->before > 0) db_bind_int(st, i++, f->before);
    if (f->schedule) db_bind_text(st, i++, f->schedule);
    db_bind_int(st, i, f->limit);
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
    struct db_stmt *st = rd_stmt(&r, RS_LIST + shape);
    int rc = st ? bind_filter(db_kind(s->db), st, f) : -1;
    while (rc == 0 && *n < (size_t)f->limit) {
        int step = db_step(st);
        if (step == DB_DONE) break;
        if (step != DB_ROW || store_read_job_row(st, &list[*n]) < 0) {
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
