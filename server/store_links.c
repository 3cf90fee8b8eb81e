/* store_links: writes of the rows that tie jobs together or configure them: idempotency keys,
 * queue settings, notify_url callbacks (their reads are in store_read.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store_internal.h"

int64_t store_idempotent_job(struct store *s, const char *key, int64_t since, char fingerprint[65])
{
    store_tx_begin(s);
    sqlite3_stmt *st = store_stmt(s, ST_IDEMPOTENT);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since);
    int step = sqlite3_step(st);
    int64_t id = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    const unsigned char *stored = id > 0 ? sqlite3_column_text(st, 1) : NULL;
    snprintf(fingerprint, 65, "%s", stored ? (const char *)stored : "");
    if (step != SQLITE_ROW && step != SQLITE_DONE) id = store_fail(s, "SELECT idempotency key");
    sqlite3_reset(st);
    if (id == 0) { /* an older job may hold the key: it is free again */
        st = store_stmt(s, ST_IDEMPOTENT_EXPIRE);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        store_write(s, st, "UPDATE idempotency key", NULL);
    }
    return store_commit(s) < 0 ? -1 : id;
}

int store_queue_save(struct store *s, const char *name, int concurrency, bool paused)
{
    store_tx_begin(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO queues (name, concurrency, paused) VALUES (?, ?, ?) "
                           "ON CONFLICT (name) DO UPDATE SET concurrency = excluded.concurrency, "
                           "paused = excluded.paused",
                           -1, &st, NULL) != SQLITE_OK) {
        store_fail(s, "preparing the queue update");
    } else {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        store_bind_int(st, 2, concurrency);
        sqlite3_bind_int(st, 3, paused);
        store_write(s, st, "INSERT INTO queues", NULL);
        sqlite3_finalize(st);
    }
    return store_commit(s);
}

void store_notify_due(struct store *s, int64_t id, int64_t now)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            s->db,
            "INSERT OR IGNORE INTO notifications (job_id, url, next_at) "
            "SELECT id, notify_url, ? FROM jobs WHERE id = ? AND notify_url IS NOT NULL",
            -1, &st, NULL) != SQLITE_OK) {
        store_fail(s, "preparing the callback");
        return;
    }
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, id);
    store_write(s, st, "INSERT INTO notifications", NULL);
    sqlite3_finalize(st);
}

int store_notification_result(struct store *s, int64_t job_id, bool done, int64_t next_at,
                              const char *detail, int64_t now)
{
    store_tx_begin(s);
    sqlite3_stmt *st;
    const char *sql = done ? "DELETE FROM notifications WHERE job_id = ?1"
                           : "UPDATE notifications SET attempts = attempts + 1, next_at = ?2, "
                             "last_error = ?3 WHERE job_id = ?1";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_fail(s, "preparing the callback result");
    } else {
        sqlite3_bind_int64(st, 1, job_id);
        if (!done) {
            sqlite3_bind_int64(st, 2, next_at);
            sqlite3_bind_text(st, 3, detail, -1, SQLITE_STATIC);
        }
        store_write(s, st, "UPDATE notifications", NULL);
        sqlite3_finalize(st);
    }
    if (sqlite3_prepare_v2(s->db, "SELECT state FROM jobs WHERE id = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_int64(st, 1, job_id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            char state[32];
            snprintf(state, sizeof state, "%s", (const char *)sqlite3_column_text(st, 0));
            sqlite3_finalize(st);
            store_add_event(s, job_id, now, state, state, detail);
        } else {
            sqlite3_finalize(st);
        }
    }
    return store_commit(s);
}
