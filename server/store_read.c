/* store_read: the read accessors (jobs, dependencies, events, queues, callbacks; the job list
 * is store_list.c's).
 * Each reads through the calling thread's connection (store_conns.c: rd_begin ... rd_end). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"
#include "server/store_internal.h"

static char *column_strdup(struct db_stmt *st, int i)
{
    const char *t = db_col_text(st, i);
    return t ? strdup(t) : NULL;
}

static int column_blob(struct db_stmt *st, int i, struct strblob *b)
{
    size_t n;
    const void *p = db_col_blob(st, i, &n);
    b->len = 0;
    b->data = malloc(n + 1);
    if (!b->data) return -1;
    if (n) memcpy(b->data, p, n);
    b->data[n] = '\0';
    b->len = n;
    return 0;
}

static int64_t column_int_or(struct db_stmt *st, int i, int64_t null_value)
{
    return db_col_null(st, i) ? null_value : db_col_int(st, i);
}

/* Reads "3,7,12" (NULL: none) into spec->after; false if out of memory or malformed. */
static bool read_id_list(const char *text, struct job_spec *spec)
{
    if (!text || !*text) return true;
    size_t n = 1;
    for (const char *c = text; *c; c++)
        n += *c == ',';
    if (!(spec->after = calloc(n, sizeof *spec->after))) return false;
    for (const char *p = text; *p;) {
        char *end;
        long long id = strtoll(p, &end, 10);
        if (end == p || id < 1 || (*end && *end != ',') || spec->n_after == n) return false;
        spec->after[spec->n_after++] = id;
        p = *end ? end + 1 : end;
    }
    return true;
}

/* Reads a row selected with JOB_COLUMNS. */
int store_read_job_row(struct db_stmt *st, struct job *j)
{
    memset(j, 0, sizeof *j);
    j->id = db_col_int(st, 0);
    j->spec.name = column_strdup(st, 1);
    j->spec.queue = column_strdup(st, 2);
    j->spec.priority = db_col_int(st, 3);
    column_blob(st, 4, &j->spec.argv);
    j->spec.command = column_strdup(st, 5);
    column_blob(st, 6, &j->spec.env);
    j->spec.cwd = column_strdup(st, 7);
    j->spec.timeout = db_col_double(st, 8);
    const char *state = db_col_text(st, 9);
    if (!state || job_state_parse(state, &j->state) < 0) j->state = JOB_LOST;
    j->exit_code = (int)column_int_or(st, 10, -1);
    j->signal = (int)column_int_or(st, 11, -1);
    j->error = column_strdup(st, 12);
    j->pid = column_int_or(st, 13, -1);
    j->worker = (int)column_int_or(st, 14, -1);
    j->attempt = (int)db_col_int(st, 15);
    j->spec.max_attempts = db_col_int(st, 16);
    j->created_at = db_col_int(st, 17);
    j->started_at = column_int_or(st, 18, 0);
    j->finished_at = column_int_or(st, 19, 0);
    j->stdout_bytes = db_col_int(st, 20);
    j->stderr_bytes = db_col_int(st, 21);
    j->truncated = db_col_int(st, 22) != 0;
    j->spec.task = column_strdup(st, 23);
    j->spec.params = column_strdup(st, 24);
    j->spec.concurrency_key = column_strdup(st, 25);
    j->spec.concurrency_limit = (int)column_int_or(st, 26, 0);
    j->spec.group = column_strdup(st, 27);
    j->spec.group_size = (int)column_int_or(st, 28, 0);
    j->spec.stdin_from = column_int_or(st, 29, 0);
    j->spec.pipeline = column_strdup(st, 30);
    j->spec.notify_url = column_strdup(st, 31);
    /* limits that cannot be read must not become "none": the row is unreadable */
    bool limits_ok = job_limits_scan(db_col_text(st, 32), &j->spec.limits) == 0;
    j->spec.idempotency_key = column_strdup(st, 33);
    j->spec.rerun_of = column_int_or(st, 34, 0);
    j->user_us = column_int_or(st, 35, -1);
    j->system_us = column_int_or(st, 36, -1);
    j->maxrss_kb = column_int_or(st, 37, -1);
    j->spec.run_at = column_int_or(st, 38, 0);
    j->spec.schedule = column_strdup(st, 39);
    j->spec.max_output = column_int_or(st, 40, 0);
    j->spec.has_retry_backoff = !db_col_null(st, 41);
    j->spec.retry_backoff = db_col_double(st, 41);
    j->usage_from = (int)column_int_or(st, 42, -1);
    j->node = column_strdup(st, 43);
    j->epoch = column_int_or(st, 44, 0);
    /* "after": its dependencies in id order, "3,7,12" */
    bool after_ok = read_id_list(db_col_text(st, 45), &j->spec);
    if (!j->spec.queue || !j->spec.argv.data || !j->spec.env.data || !j->spec.cwd || !limits_ok ||
        !after_ok) {
        job_free(j);
        return -1;
    }
    return 0;
}

int store_get_job(struct store *s, int64_t id, struct job *out, bool with_stdin)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    struct db_stmt *st = rd_stmt(&r, with_stdin ? RS_GET_JOB_STDIN : RS_GET_JOB);
    int rc = -1;
    if (st) {
        db_bind_int(st, 1, id);
        int step = db_step(st);
        if (step == DB_DONE)
            rc = 1;
        else if (step != DB_ROW)
            rc = rd_fail(&r, "SELECT job");
        else
            rc = store_read_job_row(st, out);
        size_t n = 0;
        const void *p = rc == 0 && with_stdin ? db_col_blob(st, JOB_COLUMNS_N, &n) : NULL;
        if (n > 0) {
            out->spec.stdin_data = malloc(n);
            if (out->spec.stdin_data) {
                memcpy(out->spec.stdin_data, p, n);
                out->spec.stdin_len = n;
            } else {
                job_free(out);
                rc = -1;
            }
        }
        db_reset(st);
    }
    rd_end(&r);
    return rc;
}

int store_job_deps(struct store *s, int64_t id, int64_t *culprit, enum job_state *culprit_state)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    struct db_stmt *st = rd_stmt(&r, RS_DEPS);
    int rc = DEPS_MET, step = DB_ERROR;
    if (st) {
        db_bind_int(st, 1, id);
        while ((step = db_step(st)) == DB_ROW) {
            enum job_state state = JOB_QUEUED;
            job_state_parse(db_col_text(st, 1), &state);
            if (job_state_terminal(state)) { /* ended, not succeeded: it never runs */
                *culprit = db_col_int(st, 0);
                *culprit_state = state;
                rc = DEPS_FAILED;
                break;
            }
            rc = DEPS_PENDING;
        }
    }
    if (!st)
        rc = -1;
    else if (step != DB_ROW && step != DB_DONE)
        rc = rd_fail(&r, "SELECT dependencies");
    rd_end(&r);
    return rc;
}

/* Collects the first column of every row of st (bound) into *ids. 0, or -1 (out of memory,
 * or a failed step). */
static int collect_ids(struct rd *r, struct db_stmt *st, const char *what, int64_t **ids, size_t *n)
{
    int step;
    while ((step = db_step(st)) == DB_ROW) {
        int64_t *grown = realloc(*ids, (*n + 1) * sizeof **ids);
        if (!grown) return -1;
        *ids = grown;
        (*ids)[(*n)++] = db_col_int(st, 0);
    }
    return step == DB_DONE ? 0 : rd_log(r, what);
}

int store_each_dependent(struct store *s, int64_t id, void (*fn)(void *ctx, int64_t dependent),
                         void *ctx)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    int64_t *ids = NULL;
    size_t n = 0;
    struct db_stmt *st = rd_stmt(&r, RS_DEPENDENTS);
    int rc = -1;
    if (st) {
        db_bind_int(st, 1, id);
        rc = collect_ids(&r, st, "SELECT dependents", &ids, &n);
    }
    rd_end(&r);
    /* after the read: fn may write to the store */
    for (size_t i = 0; i < n; i++)
        fn(ctx, ids[i]);
    free(ids);
    return rc;
}

int64_t store_missing_job(struct store *s, const int64_t *ids, size_t n)
{
    if (n == 0) return 0;
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    struct db_stmt *st = rd_stmt(&r, RS_EXISTS);
    int64_t missing = st ? 0 : -1;
    for (size_t i = 0; i < n && !missing; i++) {
        db_reset(st);
        db_bind_int(st, 1, ids[i]);
        int step = db_step(st);
        if (step == DB_DONE)
            missing = ids[i];
        else if (step != DB_ROW)
            missing = rd_log(&r, "SELECT job id");
    }
    rd_end(&r);
    return missing;
}

int store_each_queue_setting(struct store *s,
                             void (*fn)(void *ctx, const char *name, int concurrency, bool paused),
                             void *ctx)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    struct db_stmt *st = rd_stmt(&r, RS_QUEUE_SETTINGS);
    int rc = -1, step = DB_ERROR;
    if (st) {
        while ((step = db_step(st)) == DB_ROW)
            fn(ctx, db_col_text(st, 0), db_col_null(st, 1) ? -1 : db_col_int(st, 1),
               db_col_int(st, 2) != 0);
        rc = step == DB_DONE ? 0 : rd_log(&r, "SELECT queues");
    }
    rd_end(&r);
    return rc;
}

int store_queue_counts(struct store *s,
                       void (*fn)(void *ctx, const char *name, int64_t queued, int64_t running),
                       void *ctx)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    struct db_stmt *st = rd_stmt(&r, RS_QUEUE_COUNTS);
    int rc = -1, step = DB_ERROR;
    if (st) {
        while ((step = db_step(st)) == DB_ROW)
            fn(ctx, db_col_text(st, 0), db_col_int(st, 1), db_col_int(st, 2));
        rc = step == DB_DONE ? 0 : rd_log(&r, "counting queues");
    }
    rd_end(&r);
    return rc;
}

/* How long a gap in the event ids is waited for: the events after it were written this long
 * ago, so the missing id is no event to come (its transaction rolled back). A batch commits in
 * milliseconds; a node stuck longer is fenced off anyway. */
#define EVENT_GAP_MS 2000

/* PostgreSQL: the last event id a stream after after_id may send now: events commit in any
 * order across nodes, so it stops before the first id missing (an open transaction's) whose
 * next event was written less than EVENT_GAP_MS ago. after_id if none may go; -1 on error. */
static int64_t events_upto(struct rd *r, int64_t after_id, int limit)
{
    struct db_stmt *st = rd_stmt(r, RS_EVENT_IDS);
    if (!st) return -1;
    db_bind_int(st, 1, after_id);
    db_bind_int(st, 2, limit);
    int64_t upto = after_id, step;
    while ((step = db_step(st)) == DB_ROW) {
        int64_t id = db_col_int(st, 0), written = db_col_int(st, 1), now = db_col_int(st, 2);
        if (id != upto + 1 && written > now - EVENT_GAP_MS) break; /* (a gap: wait) */
        upto = id;
    }
    db_reset(st);
    return step == DB_ERROR ? -1 : upto;
}

int store_each_event(struct store *s, int64_t after_id, int64_t job_id, const char *queue,
                     int limit, void (*fn)(void *ctx, const struct store_event *e), void *ctx)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    bool pg = db_kind(s->db) == DB_POSTGRES;
    int64_t upto = pg ? events_upto(&r, after_id, limit) : 0;
    if (upto < 0) {
        rd_end(&r);
        return -1;
    }
    struct db_stmt *st =
        rd_stmt(&r, RS_EVENTS + (job_id > 0 ? EVENTS_JOB : 0) + (queue ? EVENTS_QUEUE : 0));
    int n = -1, step = DB_ERROR;
    if (st) {
        n = 0;
        int i = 1; /* (the parameters in the order of the WHERE: none unused) */
        db_bind_int(st, i++, after_id);
        if (job_id > 0) db_bind_int(st, i++, job_id);
        if (queue) db_bind_text(st, i++, queue);
        if (pg) db_bind_int(st, i++, upto);
        db_bind_int(st, i, limit);
        while ((step = db_step(st)) == DB_ROW) {
            struct store_event e = {db_col_int(st, 0),  db_col_int(st, 1),  db_col_int(st, 2),
                                    db_col_text(st, 3), db_col_text(st, 4), db_col_text(st, 5)};
            fn(ctx, &e);
            n++;
        }
        /* a failed step ends the read there: the rows given to fn stay given, the rest
         * comes with the next read */
        if (step != DB_DONE) rd_log(&r, "reading events");
    }
    rd_end(&r);
    return n;
}

int64_t store_last_event(struct store *s)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    struct db_stmt *st = rd_stmt(&r, RS_LAST_EVENT);
    int64_t id = -1;
    if (st) {
        if (db_step(st) == DB_ROW)
            id = db_col_int(st, 0);
        else
            rd_log(&r, "SELECT the last event");
    }
    rd_end(&r);
    return id;
}

int64_t store_count_events(struct store *s, int64_t job_id)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    struct db_stmt *st = rd_stmt(&r, RS_COUNT_EVENTS);
    int64_t n = -1;
    if (st) {
        db_bind_int(st, 1, job_id);
        if (db_step(st) == DB_ROW)
            n = db_col_int(st, 0);
        else
            rd_log(&r, "counting events");
    }
    rd_end(&r);
    return n;
}

int store_each_group_member(struct store *s, const char *group, void (*fn)(void *ctx, int64_t id),
                            void *ctx)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    int64_t *ids = NULL;
    size_t n = 0;
    struct db_stmt *st = rd_stmt(&r, RS_GROUP_MEMBERS);
    int rc = -1;
    if (st) {
        db_bind_text(st, 1, group);
        rc = collect_ids(&r, st, "SELECT group members", &ids, &n);
    }
    rd_end(&r);
    for (size_t i = 0; i < n; i++)
        fn(ctx, ids[i]); /* after the read: fn writes */
    free(ids);
    return rc;
}

int store_notifications_due(struct store *s, int64_t now, struct store_notification *out, int max)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    struct db_stmt *st = rd_stmt(&r, RS_NOTIFICATIONS_DUE);
    int n = -1, step = DB_ERROR;
    if (st) {
        n = 0;
        db_bind_int(st, 1, now);
        db_bind_int(st, 2, max);
        db_bind_text(st, 3, s->node);
        while (n < max && (step = db_step(st)) == DB_ROW) {
            out[n].job_id = db_col_int(st, 0);
            snprintf(out[n].url, sizeof out[n].url, "%s", db_col_text(st, 1));
            out[n].attempts = db_col_int(st, 2);
            n++;
        }
        if (n < max && step != DB_DONE) n = rd_log(&r, "SELECT notifications");
    }
    rd_end(&r);
    return n;
}

int store_count_states(struct store *s, int64_t counts[JOB_STATE_COUNT])
{
    memset(counts, 0, sizeof(int64_t) * JOB_STATE_COUNT);
    struct db_stmt *st;
    int rc = 0;
    if (db_prepare(s->db, "SELECT state, count(*) FROM jobs GROUP BY state", false, &st) < 0) {
        rc = store_fail(s, "counting jobs");
    } else {
        while (db_step(st) == DB_ROW) {
            enum job_state state;
            if (job_state_parse(db_col_text(st, 0), &state) == 0) counts[state] = db_col_int(st, 1);
        }
        db_finalize(st);
    }
    store_read_done(s);
    return rc;
}
