/* store_links: writes of the rows that tie jobs together or configure them: idempotency keys,
 * queue settings, notify_url callbacks (their reads are in store_read.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store_internal.h"

int64_t store_idempotent_job(struct store *s, const char *key, int64_t since, char fingerprint[65])
{
    store_tx_begin(s);
    struct db_stmt *st = store_stmt(s, ST_IDEMPOTENT);
    db_bind_text(st, 1, key);
    db_bind_int(st, 2, since);
    int step = db_step(st);
    int64_t id = step == DB_ROW ? db_col_int(st, 0) : 0;
    const char *stored = id > 0 ? db_col_text(st, 1) : NULL;
    snprintf(fingerprint, 65, "%s", stored ? (const char *)stored : "");
    if (step != DB_ROW && step != DB_DONE) id = store_fail(s, "SELECT idempotency key");
    db_reset(st);
    if (id == 0) { /* an older job may hold the key: it is free again */
        st = store_stmt(s, ST_IDEMPOTENT_EXPIRE);
        db_bind_text(st, 1, key);
        store_write(s, st, "UPDATE idempotency key", NULL);
    }
    return store_commit(s) < 0 ? -1 : id;
}

int store_queue_save(struct store *s, const char *name, int concurrency, bool paused)
{
    store_tx_begin(s);
    struct db_stmt *st;
    if (db_prepare(s->db,
                   "INSERT INTO queues (name, concurrency, paused) VALUES (?, ?, ?) "
                   "ON CONFLICT (name) DO UPDATE SET concurrency = excluded.concurrency, "
                   "paused = excluded.paused",
                   false, &st) < 0) {
        store_fail(s, "preparing the queue update");
    } else {
        db_bind_text(st, 1, name);
        store_bind_int(st, 2, concurrency);
        db_bind_int(st, 3, paused);
        store_write(s, st, "INSERT INTO queues", NULL);
        db_finalize(st);
    }
    store_notify(s, "q"); /* (the other nodes read the settings again) */
    return store_commit(s);
}

void store_notify_due(struct store *s, int64_t id, int64_t now)
{
    struct db_stmt *st;
    if (db_prepare(s->db,
                   "INSERT INTO notifications (job_id, url, next_at) "
                   "SELECT id, notify_url, ? FROM jobs WHERE id = ? AND notify_url IS NOT NULL "
                   "ON CONFLICT DO NOTHING",
                   false, &st) < 0) {
        store_fail(s, "preparing the callback");
        return;
    }
    db_bind_int(st, 1, now);
    db_bind_int(st, 2, id);
    store_write(s, st, "INSERT INTO notifications", NULL);
    db_finalize(st);
}

int store_notification_result(struct store *s, int64_t job_id, bool done, int64_t next_at,
                              const char *detail, int64_t now)
{
    store_tx_begin(s);
    struct db_stmt *st;
    const char *sql = done ? "DELETE FROM notifications WHERE job_id = ?1"
                           : "UPDATE notifications SET attempts = attempts + 1, next_at = ?2, "
                             "last_error = ?3 WHERE job_id = ?1";
    if (db_prepare(s->db, sql, false, &st) < 0) {
        store_fail(s, "preparing the callback result");
    } else {
        db_bind_int(st, 1, job_id);
        if (!done) {
            db_bind_int(st, 2, next_at);
            db_bind_text(st, 3, detail);
        }
        store_write(s, st, "UPDATE notifications", NULL);
        db_finalize(st);
    }
    if (db_prepare(s->db, "SELECT state FROM jobs WHERE id = ?", false, &st) == 0) {
        db_bind_int(st, 1, job_id);
        if (db_step(st) == DB_ROW) {
            char state[32];
            snprintf(state, sizeof state, "%s", db_col_text(st, 0));
            db_finalize(st);
            store_add_event(s, job_id, now, state, state, detail);
        } else {
            db_finalize(st);
        }
    }
    return store_commit(s);
}
