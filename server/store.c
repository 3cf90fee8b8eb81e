/* store: the job rows and the writer's transactions, on SQLite or PostgreSQL (server/db.h).
 * Prepared statements are made once at open; every accessor names its SQL. SQLite runs in
 * WAL mode with synchronous=NORMAL: a commit survives a crash of the process. */
#include "server/store_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/log.h"
#include "server/migrate.h"

/* How long the writer waits for a lock another process holds: in a batch, and when
 * retrying a batch that failed (then briefly: it retries again after its backoff). */
#define BUSY_MS 1000
#define RETRY_BUSY_MS 200

/* The fence of a write about a job a node holds, its parameters ?N (the node; NULL: no fence)
 * and ?N+1 (its epoch): it touches the row only while the job is no node's, or still this
 * node's under this lease. A node declared dead, whose jobs were rescued, changes nothing. */
#define FENCE(n, e)                                                                                \
    " AND (CAST(?" #n " AS TEXT) IS NULL OR node IS NULL OR (node = ?" #n " AND epoch = ?" #e "))"

/* A job's row made (?25: its state, ?11: now), moved to running (?3: now), to its end (?1:
 * the state, ?11: now, ?15: the state it leaves): their events follow (store_add_event), or on
 * PostgreSQL go in the same statement (stmt_sql_pg). */
#define INSERT_JOB                                                                                 \
    "INSERT INTO jobs (name, queue, priority, argv, command, env, cwd, stdin, "                    \
    "timeout, state, max_attempts, created_at, idempotency_key, task, params, "                    \
    "concurrency_key, concurrency_limit, group_name, group_size, stdin_from, pipeline, "           \
    "notify_url, limits, idempotency_fingerprint, rerun_of, run_at, schedule, not_before, "        \
    "max_output, retry_backoff) "                                                                  \
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?25, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "    \
    "?18, ?19, ?20, ?21, ?22, ?23, ?24, ?26, ?27, ?26, ?28, ?29)"
#define RUNNING                                                                                    \
    "UPDATE jobs SET state = 'running', worker = ?1, attempt = ?2, started_at = ?3, pid = NULL, "  \
    "exit_code = NULL, signal = NULL, error = NULL, finished_at = NULL "                           \
    "WHERE id = ?4 AND state = 'queued'" FENCE(5, 6)
#define FINISH                                                                                     \
    "UPDATE jobs SET state = ?1, exit_code = ?2, signal = ?3, error = ?4, stdout_bytes = ?5, "     \
    "stderr_bytes = ?6, truncated = ?7, user_us = ?8, system_us = ?9, maxrss_kb = ?10, "           \
    "finished_at = ?11, pid = coalesce(?12, pid), usage_from = ?13 "                               \
    "WHERE id = ?14 AND state = ?15" FENCE(16, 17)

static const char *const stmt_sql[ST_COUNT] = {
    [ST_INSERT_JOB] = INSERT_JOB " RETURNING id",
    /* recorded only if the job is now in the state it says (a write fenced off, or replayed
     * after another node rescued the job, changed nothing: nor does its event) */
    [ST_INSERT_EVENT] = "INSERT INTO job_events (job_id, at, from_state, to_state, detail) "
                        "SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?1 "
                        "AND state = ?4)",
    [ST_RUNNING] = RUNNING,
    [ST_RESERVE] =
        "UPDATE jobs SET worker = ?1, node = CASE WHEN CAST(?1 AS BIGINT) IS NULL THEN "
        "NULL ELSE CAST(?3 AS TEXT) END, epoch = CASE WHEN CAST(?1 AS BIGINT) IS NULL "
        "THEN NULL ELSE CAST(?4 AS BIGINT) END WHERE id = ?2 AND state = 'queued'" FENCE(3, 4),
    [ST_INSERT_DEP] = "INSERT INTO job_dependencies (job_id, depends_on) VALUES (?, ?) "
                      "ON CONFLICT DO NOTHING",
    [ST_IDEMPOTENT] = "SELECT id, idempotency_fingerprint FROM jobs WHERE idempotency_key = ? "
                      "AND created_at >= ?",
    [ST_IDEMPOTENT_EXPIRE] = "UPDATE jobs SET idempotency_key = NULL WHERE idempotency_key = ?",
    [ST_FINISH] = FINISH,
    [ST_REQUEUE] = "UPDATE jobs SET state = 'queued', not_before = ?, pid = NULL, worker = NULL, "
                   "node = NULL, epoch = NULL WHERE id = ?" FENCE(3, 4),
    [ST_STATE_OF] = "SELECT state FROM jobs WHERE id = ?",
    [ST_DELETE] = "DELETE FROM jobs WHERE id = ?",
    [ST_PATCH] = "UPDATE jobs SET priority = coalesce(?, priority), queue = coalesce(?, queue) "
                 "WHERE id = ? AND state IN ('queued', 'scheduled')",
    [ST_WAITING_ROW] = "SELECT state, priority, "
                       "EXISTS (SELECT 1 FROM job_dependencies WHERE job_id = jobs.id) "
                       "FROM jobs WHERE id = ?",
    [ST_PROMOTE] = "UPDATE jobs SET state = 'queued' WHERE id = ? AND state = 'scheduled'",
    [ST_TERMINATE_ASKED] = "UPDATE jobs SET terminate_signal = ?1 WHERE id = ?2 AND state IN "
                           "('queued', 'running')",
    [ST_SCHEDULE_PUT] =
        "INSERT INTO schedules (name, cron, timezone, job, overlap, paused, catch_up, "
        "created_at, updated_at, next_run_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9) "
        "ON CONFLICT (name) DO UPDATE SET cron = ?2, timezone = ?3, job = ?4, overlap = ?5, "
        "paused = ?6, catch_up = ?7, updated_at = ?8, next_run_at = ?9",
    [ST_SCHEDULE_DELETE] = "DELETE FROM schedules WHERE name = ?",
    [ST_SCHEDULE_NEXT] = "UPDATE schedules SET next_run_at = ?2 WHERE name = ?1",
    [ST_SCHEDULE_FIRED] =
        "UPDATE schedules SET last_run_at = ?2, next_run_at = ?3, "
        "last_job_id = coalesce(?4, last_job_id), runs = runs + "
        "CASE WHEN CAST(?4 AS BIGINT) IS NULL THEN 0 ELSE 1 END, "
        "skipped = skipped + CASE WHEN CAST(?4 AS BIGINT) IS NULL THEN 1 ELSE 0 END "
        "WHERE name = ?1",
};

/* PostgreSQL: the write of a job's row and its event in one statement (one round trip
 * instead of two; the event is inserted only if the write changed the row, replayed or not).
 * The event's detail: ?7 of running, ?18 of the end. */
#define EVENT_FROM(cte, at, from, to, detail)                                                      \
    " INSERT INTO job_events (job_id, at, from_state, to_state, detail) SELECT id, " at ", " from  \
    ", " to ", " detail " FROM " cte
static const char *const stmt_sql_pg[ST_COUNT] = {
    [ST_INSERT_JOB] = "WITH i AS (" INSERT_JOB " RETURNING id, state), e AS (" EVENT_FROM(
        "i", "?11", "NULL", "state", "'submitted'") ") SELECT id FROM i",
    [ST_RUNNING] =
        "WITH u AS (" RUNNING " RETURNING id)" EVENT_FROM("u", "?3", "'queued'", "'running'", "?7"),
    [ST_FINISH] = "WITH u AS (" FINISH " RETURNING id)" EVENT_FROM("u", "?11", "?15", "?1", "?18"),
};

static void journal_free(struct store *s, size_t from)
{
    for (size_t i = from; i < s->n_journal; i++)
        free(s->journal[i]);
    s->n_journal = from < s->n_journal ? from : s->n_journal;
}

int store_fail(struct store *s, const char *what)
{
    /* the first failure of a batch says why (the rest follow from it); while a batch is being
     * retried, its periodic "still cannot commit" line does */
    if (!s->failed && !s->failing_since)
        log_error("database: %s failed: %s", what, db_errmsg(s->db));
    snprintf(s->last_error, sizeof s->last_error, "%s: %s", what, db_errmsg(s->db));
    s->failed = true;
    return -1;
}

/* After a read-only accessor: a failed read outside a transaction must not poison the
 * next one; inside one, the failure stays recorded so the batch rolls back. */
void store_read_done(struct store *s)
{
    if (s->depth == 0) s->failed = false;
}

/* Resets a statement for reuse; clears bindings. */
struct db_stmt *store_stmt(struct store *s, enum stmt_id id)
{
    struct db_stmt *st = s->stmt[id];
    db_clear(st);
    return st;
}

void store_bind_text(struct db_stmt *st, int i, const char *v)
{
    db_bind_text(st, i, v);
}

void store_bind_int(struct db_stmt *st, int i, int64_t v)
{
    if (v >= 0)
        db_bind_int(st, i, v);
    else
        db_bind_null(st, i);
}

int store_open(struct store **out, const char *target, char *err, size_t errlen)
{
    struct store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!(s->target = strdup(target))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    int opened = db_open(&s->db, target, 0, err, errlen);
    if (opened < 0) {
        store_close(s);
        return opened; /* (DB_UNREACHABLE: the caller may wait for it) */
    }
    db_set_busy_ms(s->db, BUSY_MS);
    bool pg = s->pg = db_kind(s->db) == DB_POSTGRES;
    if (migrate_apply(s->db, pg ? migrations_pg : migrations,
                      pg ? migrations_pg_count : migrations_count, err, errlen) < 0)
        goto fail;
    if (store_read_open(s, target, err, errlen) < 0) goto fail;
    if (!pg && store_checkpoint_start(s, target, err, errlen) < 0) goto fail;
    for (int i = 0; i < ST_COUNT; i++)
        if (db_prepare(s->db, pg && stmt_sql_pg[i] ? stmt_sql_pg[i] : stmt_sql[i], true,
                       &s->stmt[i]) < 0) {
            snprintf(err, errlen, "preparing statement %d: %s", i, db_errmsg(s->db));
            goto fail;
        }
    /* whether a live job has a notify_url is found out by store_each_queued, which reads every
     * queued job at start anyway (a probe here read a million queued rows for nothing); until
     * then every job end looks for a callback */
    s->any_notify = true;
    *out = s;
    return 0;
fail:
    store_close(s);
    return -1;
}

int store_set_durability(struct store *s, bool full)
{
    /* (PostgreSQL: its own synchronous_commit, the server's setting, decides) */
    if (db_kind(s->db) != DB_SQLITE) return 0;
    const char *sql = full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
    int rc = db_exec(s->db, sql) == 0 ? 0 : store_fail(s, sql);
    s->failed = false;
    return rc;
}

void store_close(struct store *s)
{
    if (!s) return;
    store_checkpoint_stop(s);
    store_read_close(s); /* its statements on the write connection too */
    store_clean_close(s);
    for (int i = 0; i < ST_COUNT; i++)
        db_finalize(s->stmt[i]);
    db_close(s->claimer);
    db_close(s->listener);
    db_close(s->db);
    free(s->target);
    journal_free(s, 0);
    free(s->journal);
    free(s->notes);
    free(s);
}

/* Replays the journal of the failed batches into the open transaction. A write that fails
 * for a reason a retry cannot change (a constraint: a bug) is logged and dropped, so one bad
 * write cannot keep the store from ever committing again. */
static void replay(struct store *s)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->n_journal; i++) {
        if (s->failed) {
            s->journal[kept++] = s->journal[i];
            continue;
        }
        /* PostgreSQL aborts the whole transaction on a failed statement: each write is
         * replayed under a savepoint, so one that fails can be undone alone */
        bool pg = db_kind(s->db) == DB_POSTGRES;
        if (pg && db_exec(s->db, "SAVEPOINT replay") < 0) {
            store_fail(s, "replaying the batch");
            s->journal[kept++] = s->journal[i];
            continue;
        }
        int rc = db_exec(s->db, s->journal[i]);
        bool transient = rc != 0 && db_error_transient(s->db);
        if (pg && rc == 0) rc = db_exec(s->db, "RELEASE SAVEPOINT replay");
        if (rc == 0 || transient) {
            if (rc != 0) store_fail(s, "replaying the batch");
            s->journal[kept++] = s->journal[i];
            continue;
        }
        char why[256]; /* (before the rollback, which clears it) */
        snprintf(why, sizeof why, "%s", db_errmsg(s->db));
        if (pg) db_exec(s->db, "ROLLBACK TO SAVEPOINT replay");
        log_error("database: a waiting write cannot be applied (%s), dropped: %.300s", why,
                  s->journal[i]);
        free(s->journal[i]);
    }
    s->n_journal = kept;
}

/* BEGIN IMMEDIATE, then the waiting journal (if any) replayed first. */
static void open_tx(struct store *s)
{
    if (s->tx_open || s->failed) return;
    s->attempted = true;
    if (db_begin(s->db) < 0) {
        store_fail(s, "BEGIN");
        return;
    }
    s->tx_open = true;
    if (s->n_journal) replay(s);
}

void store_begin(struct store *s)
{
    if (s->depth++ > 0) return;
    s->failed = false;
    s->wrote = s->attempted = false;
    if (s->n_journal == 0) return;
    if (clock_mono_ms() < s->retry_at) {
        s->failed = true; /* not yet: this batch only journals */
        return;
    }
    /* the retry: BEGIN and replay now, even if nothing else writes; waiting only briefly for
     * a lock another process holds, so the main loop stays responsive meanwhile (workers'
     * messages, terminates) */
    db_set_busy_ms(s->db, RETRY_BUSY_MS);
    s->wrote = true; /* (the journal's writes) */
    open_tx(s);
    db_set_busy_ms(s->db, BUSY_MS);
}

/* Opens the transaction on the first write of a batch: a main-loop iteration that writes
 * nothing costs no BEGIN/COMMIT (and takes no SQLite write lock). */
void store_tx_begin(struct store *s)
{
    store_begin(s);
    s->wrote = true;
    open_tx(s);
}

/* Appends sql (malloc'd; NULL: out of memory) to the journal. A write that cannot be
 * journaled could not be replayed: memory would run ahead of the database for good. Better
 * to stop there; recovery at the next start is exact. */
static void journal_push(struct store *s, char *sql, const char *what)
{
    if (s->n_journal == s->cap_journal) {
        size_t cap = s->cap_journal ? s->cap_journal * 2 : 256;
        char **grown = realloc(s->journal, cap * sizeof *grown);
        if (grown) s->journal = grown, s->cap_journal = cap;
    }
    if (!sql || s->n_journal == s->cap_journal) {
        log_error("out of memory while journaling %s: stopping the server", what);
        abort();
    }
    s->journal[s->n_journal++] = sql;
}

int store_write(struct store *s, struct db_stmt *st, const char *what, int *changes)
{
    if (changes) *changes = 1;
    if (s->unjournaled) { /* (a submit: its batch failing refuses it, nothing to replay) */
        if (!s->tx_open || s->failed || !db_in_tx(s->db)) return store_fail(s, what);
        int rc = db_step(st);
        if (changes) *changes = db_changes(s->db);
        db_reset(st);
        return rc == DB_DONE ? 0 : store_fail(s, what);
    }
    journal_push(s, db_expanded_sql(st), what);
    if (!s->tx_open || s->failed) return s->failed ? 0 : store_fail(s, what);
    if (!db_in_tx(s->db)) { /* SQLite rolled the batch back (disk full, I/O) */
        snprintf(s->last_error, sizeof s->last_error, "the transaction was rolled back");
        s->failed = true;
        return 0;
    }
    if (db_step(st) != DB_DONE) {
        store_fail(s, what);
        db_reset(st);
        return 0; /* journaled: it is replayed with the rest */
    }
    if (changes) *changes = db_changes(s->db);
    db_reset(st);
    return 0;
}

bool store_failed(const struct store *s)
{
    return s->failed;
}

size_t store_journal_mark(const struct store *s)
{
    return s->n_journal;
}

void store_journal_drop(struct store *s, size_t mark)
{
    journal_free(s, mark);
    if (s->n_journal > 0 || !s->failing_since) return;
    /* only submits failed: something must still be retried, to learn when the database can
     * commit again (until then the store is degraded and submits are refused at once) */
    char *probe = malloc(128);
    if (probe)
        snprintf(probe, 128,
                 "INSERT INTO store_probe (id, at) VALUES (1, %lld) "
                 "ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                 (long long)clock_wall_ms());
    journal_push(s, probe, "the probe write");
}

/* The outermost end of a failed batch: rolls back, keeps the journal, schedules the retry. */
static void batch_failed(struct store *s)
{
    if (s->tx_open && db_in_tx(s->db)) db_exec(s->db, "ROLLBACK");
    /* a failed read (nothing was to be written), or a batch that only journaled while it
     * waits for its retry (nothing was tried): no new failure */
    if (!s->wrote || !s->attempted) return;
    int64_t now = clock_mono_ms();
    s->failed_commits++;
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 50;
    if (s->backoff_ms > 1000) s->backoff_ms = 1000; /* (healthy within 1 s of the cause going) */
    s->retry_at = now + s->backoff_ms;
    if (!s->failing_since) {
        s->failing_since = now;
        s->logged_at = now;
        log_error("database: a batch could not be committed (%s): its %zu writes are kept in "
                  "memory and retried until they commit; submits get 503 meanwhile",
                  s->last_error, s->n_journal);
    } else if (now - s->logged_at >= 10000) {
        s->logged_at = now;
        log_error("database: still cannot commit after %.1fs (%s): %zu writes wait",
                  (double)(now - s->failing_since) / 1000, s->last_error, s->n_journal);
    }
}

int store_commit(struct store *s)
{
    int rc = 0;
    if (--s->depth == 0) {
        bool ok = !s->failed && (s->tx_open || s->n_journal == 0);
        if (ok && s->notes_len > 0 && store_notes_send(s) < 0) ok = false;
        if (ok && s->tx_open && db_exec(s->db, "COMMIT") < 0) {
            store_fail(s, "COMMIT");
            ok = false;
        }
        if (ok) {
            s->notes_len = 0; /* (delivered with the commit) */
            if (s->failing_since)
                log_info("database: the waiting writes are committed after %.1fs: healthy again",
                         (double)(clock_mono_ms() - s->failing_since) / 1000);
            journal_free(s, 0);
            s->failing_since = 0;
            s->backoff_ms = 0;
            s->retry_at = 0;
        } else {
            batch_failed(s);
            rc = -1;
        }
        s->tx_open = false;
        s->failed = false;
    } /* (an inner level reports nothing: its writes are journaled, so they commit or are
       * retried with the batch) */
    return rc;
}

void store_health(const struct store *s, struct store_health *h)
{
    int64_t now = clock_mono_ms();
    h->waiting = s->n_journal;
    h->failed_commits = s->failed_commits;
    h->failing_ms = s->failing_since ? now - s->failing_since : 0;
    h->retry_in_ms = s->n_journal && s->retry_at > now ? s->retry_at - now : 0;
    snprintf(h->error, sizeof h->error, "%s", s->n_journal ? s->last_error : "");
}

void store_bind_fence(struct store *s, struct db_stmt *st, int i)
{
    if (!s->fence || !s->node[0]) return; /* (NULLs: no fence) */
    db_bind_text(st, i, s->node);
    db_bind_int(st, i + 1, s->epoch);
}

int store_add_event(struct store *s, int64_t id, int64_t now, const char *from, const char *to,
                    const char *detail)
{
    struct db_stmt *st = store_stmt(s, ST_INSERT_EVENT);
    db_bind_int(st, 1, id);
    db_bind_int(st, 2, now);
    store_bind_text(st, 3, from);
    db_bind_text(st, 4, to);
    store_bind_text(st, 5, detail);
    return store_write(s, st, "INSERT INTO job_events", NULL);
}

int store_insert_jobs(struct store *s, const struct job_spec *specs, size_t n, int64_t now,
                      int64_t *ids)
{
    store_tx_begin(s);
    /* a submit needs its ids: nothing is stored once the batch failed (the submit is refused,
     * not retried; its journal is dropped by the caller when the batch fails later) */
    int rc = s->failed || !db_in_tx(s->db) ? -1 : 0;
    size_t mark = s->n_journal;
    s->unjournaled = true;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct job_spec *j = &specs[i];
        struct db_stmt *st = store_stmt(s, ST_INSERT_JOB);
        store_bind_text(st, 1, j->name);
        db_bind_text(st, 2, j->queue);
        db_bind_int(st, 3, j->priority);
        db_bind_blob(st, 4, j->argv.data, (int)j->argv.len);
        store_bind_text(st, 5, j->command);
        db_bind_blob(st, 6, j->env.len ? j->env.data : "", (int)j->env.len);
        db_bind_text(st, 7, j->cwd);
        if (j->stdin_len) db_bind_blob(st, 8, j->stdin_data, (int)j->stdin_len);
        if (j->timeout > 0) db_bind_double(st, 9, j->timeout);
        db_bind_int(st, 10, j->max_attempts);
        db_bind_int(st, 11, now);
        store_bind_text(st, 12, j->idempotency_key);
        store_bind_text(st, 13, j->task);
        store_bind_text(st, 14, j->params);
        store_bind_text(st, 15, j->concurrency_key);
        store_bind_int(st, 16, j->concurrency_key ? j->concurrency_limit : -1);
        store_bind_text(st, 17, j->group);
        store_bind_int(st, 18, j->group ? j->group_size : -1);
        store_bind_int(st, 19, j->stdin_from > 0 ? j->stdin_from : -1);
        store_bind_text(st, 20, j->pipeline);
        store_bind_text(st, 21, j->notify_url);
        char limits[256];
        job_limits_format(&j->limits, limits, sizeof limits);
        store_bind_text(st, 22, limits[0] ? limits : NULL);
        store_bind_text(st, 23, j->idempotency_key ? j->idempotency_fingerprint : NULL);
        store_bind_int(st, 24, j->rerun_of > 0 ? j->rerun_of : -1);
        /* a run_at still to come: scheduled until then (not_before keeps it from starting) */
        const char *state = j->run_at > now ? "scheduled" : "queued";
        db_bind_text(st, 25, state);
        store_bind_int(st, 26, j->run_at > 0 ? j->run_at : -1);
        store_bind_text(st, 27, j->schedule);
        store_bind_int(st, 28, j->max_output > 0 ? j->max_output : -1);
        if (j->has_retry_backoff) db_bind_double(st, 29, j->retry_backoff);
        if (j->notify_url) s->any_notify = true;
        if (db_step(st) != DB_ROW) {
            rc = store_fail(s, "INSERT INTO jobs");
            break;
        }
        ids[i] = db_col_int(st, 0);
        db_reset(st);
        if (!s->pg) store_add_event(s, ids[i], now, NULL, state, "submitted");
        for (size_t k = 0; k < j->n_after; k++) {
            st = store_stmt(s, ST_INSERT_DEP);
            db_bind_int(st, 1, ids[i]);
            db_bind_int(st, 2, j->after[k]);
            store_write(s, st, "INSERT INTO job_dependencies", NULL);
        }
        if (s->failed) rc = -1;
    }
    if (rc == 0) { /* the other nodes take up the queued ones (those scheduled wait there):
                    * named together, so that each reads them in one query */
        int64_t *queued = db_kind(s->db) == DB_POSTGRES ? malloc(n * sizeof *queued) : NULL;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (specs[i].run_at <= now) {
                if (queued)
                    queued[k++] = ids[i];
                else
                    store_notify_jobs(s, &ids[i], 1);
            }
        store_notify_jobs(s, queued, k);
        free(queued);
    }
    s->unjournaled = false;
    if (rc < 0) journal_free(s, mark); /* a refused submit is never replayed */
    return store_commit(s) < 0 || rc < 0 ? -1 : 0;
}

int store_job_running(struct store *s, int64_t id, int worker, int attempt, int64_t now)
{
    store_tx_begin(s);
    struct db_stmt *st = store_stmt(s, ST_RUNNING);
    db_bind_int(st, 1, worker);
    db_bind_int(st, 2, attempt);
    db_bind_int(st, 3, now);
    db_bind_int(st, 4, id);
    store_bind_fence(s, st, 5);
    char detail[64];
    snprintf(detail, sizeof detail, "attempt %d on worker %d", attempt, worker);
    if (s->pg) db_bind_text(st, 7, detail);
    store_write(s, st, "UPDATE job to running", NULL);
    if (!s->pg) store_add_event(s, id, now, "queued", "running", detail);
    return store_commit(s);
}

int store_job_reserve(struct store *s, int64_t id, int worker)
{
    store_tx_begin(s);
    struct db_stmt *st = store_stmt(s, ST_RESERVE);
    store_bind_int(st, 1, worker);
    db_bind_int(st, 2, id);
    store_bind_fence(s, st, 3);
    store_write(s, st, "UPDATE job reservation", NULL);
    return store_commit(s);
}

int store_job_terminate_asked(struct store *s, int64_t id, int sig)
{
    store_tx_begin(s);
    struct db_stmt *st = store_stmt(s, ST_TERMINATE_ASKED);
    db_bind_int(st, 1, sig);
    db_bind_int(st, 2, id);
    store_write(s, st, "UPDATE job: terminate asked", NULL);
    return store_commit(s);
}

int store_job_unreserve(struct store *s, int64_t id)
{
    store_tx_begin(s);
    store_job_reserve(s, id, -1);
    store_notify_jobs(s, &id, 1); /* (free again: any node may take it) */
    return store_commit(s);
}

int store_job_finish(struct store *s, int64_t id, enum job_state from,
                     const struct store_outcome *o, int64_t now)
{
    store_tx_begin(s);
    struct db_stmt *st = store_stmt(s, ST_FINISH);
    db_bind_text(st, 1, job_state_name(o->state));
    store_bind_int(st, 2, o->exit_code);
    store_bind_int(st, 3, o->signal);
    store_bind_text(st, 4, o->error);
    db_bind_int(st, 5, o->stdout_bytes);
    db_bind_int(st, 6, o->stderr_bytes);
    db_bind_int(st, 7, o->truncated);
    store_bind_int(st, 8, o->user_us);
    store_bind_int(st, 9, o->system_us);
    store_bind_int(st, 10, o->maxrss_kb);
    db_bind_int(st, 11, now);
    store_bind_int(st, 12, o->pid > 0 ? o->pid : -1);
    store_bind_int(st, 13, o->user_us >= 0 || o->maxrss_kb >= 0 ? o->usage_from : -1);
    db_bind_int(st, 14, id);
    db_bind_text(st, 15, job_state_name(from));
    store_bind_fence(s, st, 16);
    if (s->pg) store_bind_text(st, 18, o->detail);
    int changed = 0;
    store_write(s, st, "UPDATE job to its end", &changed);
    if (changed > 0) {
        if (!s->pg)
            store_add_event(s, id, now, job_state_name(from), job_state_name(o->state), o->detail);
        if (s->any_notify && !o->no_callback)
            store_notify_due(s, id, now); /* its callback, if it has one */
        char ended[64];
        snprintf(ended, sizeof ended, "e %lld %s", (long long)id, job_state_name(o->state));
        store_notify(s, ended);
    }
    store_commit(s); /* (a failed batch is retried: the change is made, later) */
    return changed > 0 ? 0 : 1;
}

int store_job_requeue(struct store *s, int64_t id, enum job_state from, int64_t not_before,
                      const char *detail, int64_t now)
{
    store_tx_begin(s);
    struct db_stmt *st = store_stmt(s, ST_REQUEUE);
    store_bind_int(st, 1, not_before > 0 ? not_before : -1);
    db_bind_int(st, 2, id);
    store_bind_fence(s, st, 3);
    int changed = 0;
    store_write(s, st, "UPDATE job to queued", &changed);
    store_add_event(s, id, now, job_state_name(from), "queued", detail);
    if (changed > 0) store_notify_jobs(s, &id, 1);
    return store_commit(s);
}

int store_job_patch(struct store *s, int64_t id, const int64_t *priority, const char *queue)
{
    store_tx_begin(s);
    struct db_stmt *st = store_stmt(s, ST_PATCH);
    if (priority) db_bind_int(st, 1, *priority);
    store_bind_text(st, 2, queue);
    db_bind_int(st, 3, id);
    store_write(s, st, "UPDATE a waiting job's priority and queue", NULL);
    store_notify_jobs(s, &id, 1);
    return store_commit(s);
}
