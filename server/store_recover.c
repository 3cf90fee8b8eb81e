/* store_recover: startup recovery. The last run's jobs that were running, or reserved by
 * a worker, are sorted out before anything new is dispatched: a held job no worker began to
 * start (the start ledger says so) goes back to the queue as it was; one that may have run
 * is lost, or queued again while it has attempts left; one asked to terminate ends (terminated,
 * or canceled if it never started). Then the queued jobs are read once
 * (store_each_queued), for the dispatcher to take them up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store_internal.h"

/* True if the last run's workers began to start job id (the start ledger lists it). */
static bool began(const struct store_recovery *r, int64_t id)
{
    for (size_t i = 0; i < r->n_started; i++)
        if (r->started[i] == id) return true;
    return false;
}

/* A lost job's output sizes as its node shipped them (PostgreSQL: the chunks, which any node
 * reads; on SQLite the row keeps 0 and its files are here). */
static void shipped_sizes(struct store *s, int64_t id, int attempt, struct store_outcome *o)
{
    if (!store_output_shared(s)) return;
    int64_t end;
    bool complete;
    if (store_output_end(s, id, attempt, "stdout", &end, &complete) == 0) o->stdout_bytes = end;
    if (store_output_end(s, id, attempt, "stderr", &end, &complete) == 0) o->stderr_bytes = end;
}

/* The jobs a recovery ended, for its ended_fn once it committed. */
struct ends {
    struct end {
        int64_t id;
        enum job_state state;
    } * v;
    size_t n;
};

static void note_end(struct ends *e, int64_t id, enum job_state state)
{
    struct end *grown = realloc(e->v, (e->n + 1) * sizeof *grown);
    if (!grown) return; /* (out of memory: its waiters wake at their timeout) */
    e->v = grown;
    e->v[e->n++] = (struct end){id, state};
}

int store_recover(struct store *s, int64_t now,
                  int64_t (*retry_delay_ms)(double backoff, int attempt), struct store_recovery *r)
{
    r->lost = r->requeued = r->released = r->terminated = 0;
    struct ends ends = {0};
    int *lost = &r->lost, *requeued = &r->requeued;
    bool fence = s->fence;
    s->fence = false; /* (its writes are about jobs of an older lease, or another node's) */
    store_tx_begin(s);
    /* one read finds them all (a reserved job is a queued row with a worker: with a million
     * queued jobs, each read of them costs a tenth of a second) */
    struct db_stmt *st, *release, *attempt;
    if (db_prepare(s->db,
                   r->node
                       ? "SELECT id, attempt, max_attempts, state, retry_backoff, terminate_signal "
                         "FROM jobs WHERE node = ?1 AND (state = 'running' OR (state = "
                         "'queued' AND worker IS NOT NULL))"
                       : "SELECT id, attempt, max_attempts, state, retry_backoff, "
                         "terminate_signal FROM jobs WHERE state = 'running' OR (state = "
                         "'queued' AND worker IS NOT NULL)",
                   false, &st) < 0) {
        store_fail(s, "SELECT running jobs");
        s->fence = fence;
        return store_commit(s);
    }
    if (r->node) db_bind_text(st, 1, r->node);
    /* what the events say: this server stopped, or another node died */
    char who[96];
    if (r->node && strcmp(r->node, s->node) != 0)
        snprintf(who, sizeof who, "node %s died", r->node);
    else
        snprintf(who, sizeof who, "the server stopped");
    struct row {
        int64_t id;
        int attempt, max_attempts;
        enum job_state from;
        double backoff; /* -1: the server's */
        int terminate;  /* the signal a terminate asked for; 0: none was */
    } *rows = NULL;
    size_t n = 0;
    while (db_step(st) == DB_ROW) {
        struct row *grown = realloc(rows, (n + 1) * sizeof *rows);
        if (!grown) break;
        rows = grown;
        const char *state = db_col_text(st, 3);
        rows[n++] = (struct row){db_col_int(st, 0),
                                 db_col_int(st, 1),
                                 db_col_int(st, 2),
                                 state && strcmp(state, "queued") == 0 ? JOB_QUEUED : JOB_RUNNING,
                                 db_col_null(st, 4) ? -1 : db_col_double(st, 4),
                                 (int)db_col_int(st, 5)};
    }
    db_finalize(st);
    if (db_prepare(s->db, "UPDATE jobs SET worker = NULL, node = NULL, epoch = NULL WHERE id = ?1",
                   false, &release) < 0)
        release = NULL;
    if (db_prepare(s->db, "UPDATE jobs SET attempt = attempt + 1 WHERE id = ?1", false, &attempt) <
        0)
        attempt = NULL;
    if (!release || !attempt) store_fail(s, "UPDATE reserved jobs");
    size_t kept = 0;
    for (size_t i = 0; i < n && release && attempt; i++) {
        if (rows[i].from != JOB_QUEUED) {
            rows[kept++] = rows[i];
            continue;
        }
        /* a reserved job no worker began to start is only released: queued as it was (or
         * canceled, when a terminate was asked) */
        if (r->started_known && !began(r, rows[i].id) && rows[i].terminate) {
            struct store_outcome o = {.state = JOB_CANCELED,
                                      .exit_code = -1,
                                      .signal = -1,
                                      .error = "terminated before it started",
                                      .user_us = -1,
                                      .system_us = -1,
                                      .maxrss_kb = -1,
                                      .detail = "a terminate was asked before it started"};
            if (store_job_finish(s, rows[i].id, JOB_QUEUED, &o, now) == 0)
                note_end(&ends, rows[i].id, o.state);
            r->terminated++;
            continue;
        }
        if (r->started_known && !began(r, rows[i].id)) {
            db_bind_int(release, 1, rows[i].id);
            if (db_step(release) != DB_DONE) store_fail(s, "UPDATE a held job");
            db_reset(release);
            r->released++;
            continue;
        }
        /* one that may have started just before the crash counts as an attempt, and is
         * recovered like a running one below */
        db_bind_int(attempt, 1, rows[i].id);
        if (db_step(attempt) != DB_DONE) store_fail(s, "UPDATE reserved jobs");
        db_reset(attempt);
        rows[i].attempt++;
        rows[kept++] = rows[i];
    }
    db_finalize(release);
    db_finalize(attempt);
    n = release && attempt ? kept : 0;
    char error[128], error_held[160]; /* (a held job: handed to a worker, maybe started) */
    snprintf(error, sizeof error, "%s while the job ran", who);
    snprintf(error_held, sizeof error_held,
             "%s after one of its workers got the job (it may "
             "have started)",
             who);
    char asked[160];
    snprintf(asked, sizeof asked, "a terminate was asked; %s before its end was seen", who);
    for (size_t i = 0; i < n; i++) {
        if (rows[i].terminate) { /* never run again: it ends as asked */
            struct store_outcome o = {.state = JOB_TERMINATED,
                                      .exit_code = -1,
                                      .signal = -1,
                                      .error = asked,
                                      .user_us = -1,
                                      .system_us = -1,
                                      .maxrss_kb = -1,
                                      .detail = asked};
            if (store_job_finish(s, rows[i].id, rows[i].from, &o, now) == 0)
                note_end(&ends, rows[i].id, o.state);
            r->terminated++;
            continue;
        }
        if (rows[i].attempt < rows[i].max_attempts) {
            char detail[256];
            snprintf(detail, sizeof detail, "attempt %d of %d lost: %s; retry", rows[i].attempt,
                     rows[i].max_attempts, who);
            store_job_requeue(s, rows[i].id, rows[i].from,
                              now + retry_delay_ms(rows[i].backoff, rows[i].attempt), detail, now);
            (*requeued)++;
            continue;
        }
        struct store_outcome o = {.state = JOB_LOST,
                                  .exit_code = -1,
                                  .signal = -1,
                                  .error = rows[i].from == JOB_QUEUED ? error_held : error,
                                  .user_us = -1,
                                  .system_us = -1,
                                  .maxrss_kb = -1,
                                  .detail = r->node && strcmp(r->node, s->node) != 0
                                                ? "its node died"
                                                : "server restarted"};
        shipped_sizes(s, rows[i].id, rows[i].attempt, &o);
        if (store_job_finish(s, rows[i].id, rows[i].from, &o, now) == 0)
            note_end(&ends, rows[i].id, o.state);
        (*lost)++;
    }
    int rc = store_commit(s);
    s->fence = fence;
    for (size_t i = 0; i < n && rc == 0 && r->requeued_fn; i++)
        if (!rows[i].terminate && rows[i].attempt < rows[i].max_attempts)
            r->requeued_fn(r->ctx, rows[i].id);
    for (size_t i = 0; i < ends.n && rc == 0 && r->ended_fn; i++)
        r->ended_fn(r->ctx, ends.v[i].id, ends.v[i].state);
    free(ends.v);
    free(rows);
    return rc;
}

static int64_t column_int_or(struct db_stmt *st, int i, int64_t null_value)
{
    return db_col_null(st, i) ? null_value : db_col_int(st, i);
}

/* The next job id at or after `after` with rows in job_dependencies (INT64_MAX: none), from
 * st, which walks them in job_id order (its primary key). */
static int64_t next_dependent(struct db_stmt *st, int64_t current, int64_t after, int *step)
{
    while (current < after && *step == DB_ROW) {
        *step = db_step(st);
        current = *step == DB_ROW ? db_col_int(st, 0) : INT64_MAX;
    }
    return current;
}

int store_each_queued(struct store *s, void (*fn)(void *ctx, const struct store_queued *q),
                      void *ctx)
{
    /* one pass over the queued jobs in id order, beside one over the dependency rows in the
     * same order (a merge: no lookup per job); a job with no dependency is passed as it is
     * read, the few with some are collected and passed after the read, when fn may write (a
     * job whose dependency failed is canceled) */
    struct store_queued *later = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    bool notify = false; /* a queued or running job has a notify_url */
    struct db_stmt *st = NULL, *deps = NULL;
    /* when most jobs are queued (a backlog), reading the table straight through (in id order)
     * beats a lookup by id for each job the state index lists: a third less time */
    bool backlog = false;
    if (db_prepare(s->db,
                   "SELECT (SELECT count(*) FROM jobs WHERE state = 'queued') * 2 > "
                   "(SELECT coalesce(max(id), 0) FROM jobs)",
                   false, &st) == 0) {
        backlog = db_step(st) == DB_ROW && db_col_int(st, 0) != 0;
        db_finalize(st);
    }
    bool sqlite = db_kind(s->db) == DB_SQLITE; /* (NOT INDEXED: SQLite's hint) */
    if (db_prepare(s->db,
                   backlog && sqlite ? "SELECT id, priority, not_before, queue, "
                                       "group_name IS NULL AND concurrency_key IS NULL, "
                                       "notify_url IS NOT NULL "
                                       "FROM jobs NOT INDEXED WHERE state = 'queued' ORDER BY id"
                                     : "SELECT id, priority, not_before, queue, "
                                       "group_name IS NULL AND concurrency_key IS NULL, "
                                       "notify_url IS NOT NULL "
                                       "FROM jobs WHERE state = 'queued' ORDER BY id",
                   false, &st) < 0 ||
        db_prepare(s->db, "SELECT job_id FROM job_dependencies WHERE job_id >= ? ORDER BY job_id",
                   false, &deps) < 0) {
        rc = store_fail(s, "SELECT queued jobs");
    } else {
        int step, deps_step = DB_ROW;
        int64_t dependent = -1; /* the last job_id read from deps; -1: none yet */
        while ((step = db_step(st)) == DB_ROW) {
            const char *queue = db_col_text(st, 3);
            struct store_queued q = {.id = db_col_int(st, 0),
                                     .priority = db_col_int(st, 1),
                                     .not_before = column_int_or(st, 2, 0),
                                     .queue = queue ? queue : "default",
                                     .plain = db_col_int(st, 4) != 0};
            notify = notify || db_col_int(st, 5) != 0;
            if (dependent < 0) db_bind_int(deps, 1, q.id); /* from the first queued */
            dependent = next_dependent(deps, dependent, q.id, &deps_step);
            q.has_deps = dependent == q.id;
            if (!q.has_deps) {
                fn(ctx, &q);
                continue;
            }
            if (n == cap) {
                size_t grown_cap = cap ? 2 * cap : 64;
                struct store_queued *grown = realloc(later, grown_cap * sizeof *later);
                if (!grown) {
                    rc = -1;
                    break;
                }
                later = grown;
                cap = grown_cap;
            }
            q.queue = strdup(q.queue);
            if (!q.queue) {
                rc = -1;
                break;
            }
            later[n++] = q;
        }
        if (rc == 0 && (step != DB_DONE || (deps_step != DB_ROW && deps_step != DB_DONE)))
            rc = store_fail(s, "reading queued jobs");
    }
    db_finalize(st);
    db_finalize(deps);
    if (rc == 0 && db_prepare(s->db,
                              "SELECT 1 FROM jobs WHERE state IN ('running', 'scheduled') "
                              "AND notify_url IS NOT NULL "
                              "LIMIT 1",
                              false, &st) == 0) {
        notify = db_step(st) != DB_DONE || notify; /* (a failed read: look for callbacks) */
        db_finalize(st);
    }
    /* exact: the lock keeps inserts out meanwhile (but for jobs submitted through other nodes:
     * with several, every job end looks) */
    if (rc == 0) s->any_notify = notify || db_kind(s->db) == DB_POSTGRES;
    store_read_done(s);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) fn(ctx, &later[i]);
        free((char *)later[i].queue);
    }
    free(later);
    return rc;
}
