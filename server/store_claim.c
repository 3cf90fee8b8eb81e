/* store_claim: a node takes a queued job (store_job_claim), several at once (store_jobs_claim),
 * a gang's members (store_jobs_claim_group), takes up one another node made
 * queued (store_queued_one), and hears the others (store_listen, store_heard).
 *
 * On PostgreSQL a claim is a transaction of its own on a connection of its own, committed
 * before the job is handed to a worker: whatever becomes of the main loop's batch, a job is
 * started only by the node whose claim committed. The row is taken with FOR UPDATE SKIP LOCKED
 * (a row another node is claiming, or this node's batch is changing, is skipped for now, not
 * waited for), only while its queue is not paused in the store, and under a queue's or a
 * concurrency key's limit counted over all nodes: a transaction-level advisory lock on the
 * queue (and on the key) makes the count and the claim one step across the nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"
#include "server/store_internal.h"

/* True (SQL) for a job fed by another job's output (stdin_from) that ran on another node
 * still alive: the output file is there, so the job is that node's to claim (?3: this node).
 * Once that node is declared dead any node may run it (it fails: no stdin to read). */
#define ELSEWHERE(node)                                                                            \
    "EXISTS (SELECT 1 FROM jobs p JOIN nodes n ON n.name = p.node WHERE p.id = jobs.stdin_from "   \
    "AND p.node <> CAST(?" #node " AS TEXT) AND n.rescued_at IS NULL)"

/* The claimer's connection, opened on first use. NULL if it cannot be (logged). */
static struct db *claimer(struct store *s)
{
    if (s->claimer) return s->claimer;
    char err[256];
    if (db_open(&s->claimer, s->target, 0, err, sizeof err) < 0) {
        snprintf(s->claim_error, sizeof s->claim_error,
                 "opening the claiming connection failed: %.200s", err);
        s->claimer = NULL;
    }
    return s->claimer;
}

/* Runs sql (binding text a, b if not NULL as ?1, ?2) and reads one integer; -1 on error. */
static int64_t one_int(struct db *db, const char *sql, const char *a, const char *b)
{
    struct db_stmt *st;
    if (db_prepare(db, sql, false, &st) < 0) return -1;
    if (a) db_bind_text(st, 1, a);
    if (b) db_bind_text(st, 2, b);
    int64_t v = db_step(st) == DB_ROW ? db_col_int(st, 0) : -1;
    db_finalize(st);
    return v;
}

/* Under the advisory lock of (kind, name): how many jobs of it run or are held on all nodes
 * (column: queue or concurrency_key). -1 on error. */
static int64_t held_across(struct db *db, const char *column, const char *name)
{
    /* the lock in a statement of its own: a statement's snapshot is taken when it starts, so a
     * count in the same statement would not see a claim committed while it waited */
    if (one_int(db,
                "SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtextextended(?2 || ?1, 0))) "
                "AS l",
                name, column[0] == 'q' ? "queue:" : "key:") < 0)
        return -1;
    char sql[320];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM jobs WHERE %s = ?1 AND (state = 'running' OR (state = "
             "'queued' AND worker IS NOT NULL))",
             column);
    return one_int(db, sql, name, NULL);
}

/* Writes n (>= 1) integers as a PostgreSQL array literal ("{1,2,3}") into buf; false if it is
 * full. */
static bool array_literal(char *buf, size_t cap, const int64_t *v64, const int *v32, int n)
{
    size_t used = 0;
    for (int i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? "," : "{",
                                 v64 ? (long long)v64[i] : (long long)v32[i]);
    if (used + 2 > cap) return false;
    memcpy(buf + used, "}", 2);
    return true;
}

/* Takes the rows of jobs ids[i] for workers[i] of this node, in one statement (on db, in its
 * transaction if one is open): each one that is queued, no node's, not locked by another
 * transaction (skipped, not waited for: rows are locked in id order), its queue not paused in
 * the store, and not fed by output another live node has. got[i] says which were taken.
 * 0, or -1 on a database error. */
static int claim_rows(struct store *s, struct db *db, const int64_t *ids, const int *workers, int n,
                      bool *got)
{
    for (int i = 0; i < n; i++)
        got[i] = false;
    size_t cap = (size_t)n * 24 + 8;
    char *id_list = malloc(cap), *worker_list = malloc(cap);
    struct db_stmt *st = NULL;
    int rc = -1;
    if (id_list && worker_list && array_literal(id_list, cap, ids, NULL, n) &&
        array_literal(worker_list, cap, NULL, workers, n) &&
        db_prepare(db,
                   "UPDATE jobs SET worker = c.worker, node = ?3, epoch = ?4 FROM (SELECT * FROM "
                   "unnest(CAST(?1 AS BIGINT[]), CAST(?2 AS BIGINT[])) AS u(id, worker)) AS c "
                   "WHERE jobs.id = c.id AND jobs.id IN (SELECT id FROM jobs WHERE id = "
                   "ANY(CAST(?1 AS BIGINT[])) AND state = 'queued' AND worker IS NULL ORDER BY id "
                   "FOR UPDATE SKIP LOCKED) AND NOT EXISTS (SELECT 1 FROM queues q WHERE q.name "
                   "= jobs.queue AND q.paused <> 0) AND NOT " ELSEWHERE(3) " RETURNING jobs.id",
                   false, &st) == 0) {
        db_bind_text(st, 1, id_list);
        db_bind_text(st, 2, worker_list);
        db_bind_text(st, 3, s->node);
        db_bind_int(st, 4, s->epoch);
        int step;
        while ((step = db_step(st)) == DB_ROW) {
            int64_t id = db_col_int(st, 0);
            for (int i = 0; i < n; i++)
                if (ids[i] == id) got[i] = true;
        }
        rc = step == DB_DONE ? 0 : -1;
        db_finalize(st);
    }
    free(id_list);
    free(worker_list);
    return rc;
}

/* Why job id was not claimed: gone or another node's (CLAIM_TAKEN: forget it), its queue
 * paused in the store (CLAIM_FULL: park it, a resume is heard), or its row locked for a moment
 * (CLAIM_BUSY: later); CLAIM_FAILED on a database error. A locked row is skipped by the first
 * read and seen by the second. */
static enum store_claim refusal(struct store *s, struct db *db, int64_t id)
{
    struct db_stmt *st;
    if (db_prepare(
            db,
            "SELECT CASE WHEN state <> 'queued' OR worker IS NOT NULL OR " ELSEWHERE(
                2) " THEN 0 WHEN EXISTS "
                   "(SELECT 1 FROM queues q WHERE q.name = jobs.queue AND q.paused <> 0) THEN 3 "
                   "ELSE 2 END FROM jobs WHERE id = ?1 FOR UPDATE SKIP LOCKED",
            false, &st) < 0)
        return CLAIM_FAILED;
    db_bind_int(st, 1, id);
    db_bind_text(st, 2, s->node);
    int step = db_step(st);
    int why = step == DB_ROW ? (int)db_col_int(st, 0) : step == DB_DONE ? -2 : -1;
    db_finalize(st);
    if (why == -2) { /* locked (2), or gone (0) */
        if (db_prepare(db, "SELECT 2 FROM jobs WHERE id = ?1", false, &st) < 0) return CLAIM_FAILED;
        db_bind_int(st, 1, id);
        step = db_step(st);
        why = step == DB_ROW ? 2 : step == DB_DONE ? 0 : -1;
        db_finalize(st);
    }
    return why < 0 ? CLAIM_FAILED : why == 0 ? CLAIM_TAKEN : why == 3 ? CLAIM_FULL : CLAIM_BUSY;
}

enum store_claim store_job_claim(struct store *s, int64_t id, int worker, const char *queue,
                                 int qlimit, const char *key, int klimit)
{
    if (db_kind(s->db) != DB_POSTGRES) { /* one node: a reservation in the batch */
        store_job_reserve(s, id, worker);
        return CLAIM_OK;
    }
    struct db *db = claimer(s);
    if (!db) return CLAIM_FAILED;
    bool limited = (qlimit >= 0 && queue) || (klimit >= 0 && key);
    if (limited && db_begin(db) < 0) goto failed;
    if (qlimit >= 0 && queue) {
        int64_t n = held_across(db, "queue", queue);
        if (n < 0) goto failed;
        if (n >= qlimit) goto full;
    }
    if (klimit >= 0 && key) {
        int64_t n = held_across(db, "concurrency_key", key);
        if (n < 0) goto failed;
        if (n >= klimit) goto full;
    }
    bool got;
    if (claim_rows(s, db, &id, &worker, 1, &got) < 0) goto failed;
    if (limited && db_exec(db, "COMMIT") < 0) goto failed;
    if (got) return CLAIM_OK;
    enum store_claim why = refusal(s, db, id);
    if (why == CLAIM_FAILED) goto failed;
    return why;
full:
    db_exec(db, "ROLLBACK");
    return CLAIM_FULL;
failed:
    snprintf(s->claim_error, sizeof s->claim_error, "claiming job %lld failed: %s", (long long)id,
             db_errmsg(db));
    if (db_in_tx(db)) db_exec(db, "ROLLBACK");
    return CLAIM_FAILED;
}

int store_jobs_claim(struct store *s, const int64_t *ids, const int *workers, int n,
                     enum store_claim *out)
{
    for (int i = 0; i < n; i++)
        out[i] = CLAIM_FAILED;
    if (db_kind(s->db) != DB_POSTGRES) {
        for (int i = 0; i < n; i++) {
            store_job_reserve(s, ids[i], workers[i]);
            out[i] = CLAIM_OK;
        }
        return 0;
    }
    struct db *db = claimer(s);
    if (!db || n <= 0) return db ? 0 : -1;
    bool *got = calloc((size_t)n, sizeof *got);
    /* one statement, one commit (autocommit) for them all */
    if (!got || claim_rows(s, db, ids, workers, n, got) < 0) {
        snprintf(s->claim_error, sizeof s->claim_error, "claiming %d jobs failed: %s", n,
                 got ? db_errmsg(db) : "out of memory");
        free(got);
        return -1;
    }
    for (int i = 0; i < n; i++)
        out[i] = got[i] ? CLAIM_OK : refusal(s, db, ids[i]);
    free(got);
    return 0;
}

enum store_claim store_jobs_claim_group(struct store *s, const int64_t *ids, const int *workers,
                                        int n)
{
    if (db_kind(s->db) != DB_POSTGRES) {
        for (int i = 0; i < n; i++)
            store_job_reserve(s, ids[i], workers[i]);
        return CLAIM_OK;
    }
    struct db *db = claimer(s);
    if (!db) return CLAIM_FAILED;
    if (db_begin(db) < 0) goto failed;
    bool *got = calloc((size_t)n, sizeof *got);
    if (!got || claim_rows(s, db, ids, workers, n, got) < 0) {
        free(got);
        goto failed;
    }
    int claimed = 0;
    for (int i = 0; i < n; i++)
        claimed += got[i];
    free(got);
    if (claimed < n) { /* (one is missing: none is claimed) */
        db_exec(db, "ROLLBACK");
        return CLAIM_BUSY;
    }
    if (db_exec(db, "COMMIT") < 0) goto failed;
    return CLAIM_OK;
failed:
    snprintf(s->claim_error, sizeof s->claim_error, "claiming a group of %d jobs failed: %s", n,
             db_errmsg(db));
    if (db_in_tx(db)) db_exec(db, "ROLLBACK");
    return CLAIM_FAILED;
}

int store_queued_ids(struct store *s, const int64_t *ids, size_t n,
                     void (*fn)(void *ctx, const struct store_queued *q), void *ctx)
{
    if (n == 0) return 0;
    size_t cap = n * 24 + 8;
    char *list = malloc(cap);
    if (!list || !array_literal(list, cap, ids, NULL, (int)n)) {
        free(list);
        return store_fail(s, "reading queued jobs (out of memory)");
    }
    /* one read for them all (a batch of another node names hundreds at once) */
    struct db_stmt *st;
    if (db_prepare(s->db,
                   "SELECT id, priority, coalesce(not_before, 0), queue, group_name IS NULL AND "
                   "concurrency_key IS NULL, EXISTS (SELECT 1 FROM job_dependencies d WHERE "
                   "d.job_id = jobs.id) FROM jobs WHERE id = ANY(CAST(?1 AS BIGINT[])) AND "
                   "state = 'queued' AND worker IS NULL ORDER BY id",
                   false, &st) < 0) {
        free(list);
        return store_fail(s, "reading queued jobs");
    }
    db_bind_text(st, 1, list);
    int step, found = 0;
    while ((step = db_step(st)) == DB_ROW) {
        char queue[160];
        snprintf(queue, sizeof queue, "%s", db_col_text(st, 3));
        struct store_queued q = {.id = db_col_int(st, 0),
                                 .priority = db_col_int(st, 1),
                                 .not_before = db_col_int(st, 2),
                                 .queue = queue,
                                 .plain = db_col_int(st, 4) != 0,
                                 .has_deps = db_col_int(st, 5) != 0};
        if (fn) fn(ctx, &q);
        found++;
    }
    db_finalize(st);
    free(list);
    store_read_done(s);
    return step == DB_DONE ? found : store_fail(s, "reading queued jobs");
}

int store_queued_one(struct store *s, int64_t id,
                     void (*fn)(void *ctx, const struct store_queued *q), void *ctx)
{
    return store_queued_ids(s, &id, 1, fn, ctx);
}

const char *store_claim_error(const struct store *s)
{
    return s->claim_error;
}

int store_listen(struct store *s)
{
    if (db_kind(s->db) != DB_POSTGRES) return -1;
    if (s->listener) return db_listen_fd(s->listener);
    char err[256];
    if (db_open(&s->listener, s->target, DB_READONLY, err, sizeof err) < 0) {
        static struct log_every every;
        unsigned long dropped;
        if (log_every(&every, 10000, &dropped))
            log_error("database: opening the listening connection failed: %s (%lu more such "
                      "failures since the last such line)",
                      err, dropped);
        s->listener = NULL;
        return -2;
    }
    if (db_listen(s->listener, "spawnpool") < 0) {
        log_error("database: LISTEN failed: %s", db_errmsg(s->listener));
        db_close(s->listener);
        s->listener = NULL;
        return -2;
    }
    return db_listen_fd(s->listener);
}

int store_heard(struct store *s, void (*fn)(void *ctx, const char *payload), void *ctx)
{
    if (!s->listener) return 0;
    int n = db_notifications(s->listener, fn, ctx);
    if (n < 0) {
        log_warn("database: the connection that hears the other nodes is lost (%s): reopening",
                 db_errmsg(s->listener));
        db_close(s->listener);
        s->listener = NULL;
    }
    return n;
}
