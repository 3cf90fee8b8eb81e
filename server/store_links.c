/* store_links: the rows that tie jobs together or configure them: dependencies ("after"),
 * idempotency keys, queue settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store_internal.h"

int store_job_deps(struct store *s, int64_t id, int64_t *culprit, enum job_state *culprit_state)
{
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = store_stmt(s, ST_DEPS);
    sqlite3_bind_int64(st, 1, id);
    int rc = DEPS_MET, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        enum job_state state = JOB_QUEUED;
        job_state_parse((const char *)sqlite3_column_text(st, 1), &state);
        if (job_state_terminal(state)) { /* ended, not succeeded: it never runs */
            *culprit = sqlite3_column_int64(st, 0);
            *culprit_state = state;
            rc = DEPS_FAILED;
            break;
        }
        rc = DEPS_PENDING;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = store_fail(s, "SELECT dependencies");
        store_read_done(s);
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_each_dependent(struct store *s, int64_t id, void (*fn)(void *ctx, int64_t dependent),
                         void *ctx)
{
    /* collected first: fn may write to the store */
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = store_stmt(s, ST_DEPENDENTS);
    sqlite3_bind_int64(st, 1, id);
    int64_t *ids = NULL;
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t *grown = realloc(ids, (n + 1) * sizeof *ids);
        if (!grown) break;
        ids = grown;
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n; i++)
        fn(ctx, ids[i]);
    free(ids);
    return 0;
}

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

int64_t store_missing_job(struct store *s, const int64_t *ids, size_t n)
{
    pthread_mutex_lock(&s->lock);
    int64_t missing = 0;
    for (size_t i = 0; i < n && !missing; i++) {
        sqlite3_stmt *st = store_stmt(s, ST_EXISTS);
        sqlite3_bind_int64(st, 1, ids[i]);
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            missing = ids[i];
        else if (step != SQLITE_ROW)
            missing = -1;
        sqlite3_reset(st);
    }
    pthread_mutex_unlock(&s->lock);
    return missing;
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

int store_each_queue_setting(struct store *s,
                             void (*fn)(void *ctx, const char *name, int concurrency, bool paused),
                             void *ctx)
{
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT name, concurrency, paused FROM queues ORDER BY name", -1,
                           &st, NULL) != SQLITE_OK) {
        rc = store_fail(s, "SELECT queues");
    } else {
        while (sqlite3_step(st) == SQLITE_ROW)
            fn(ctx, (const char *)sqlite3_column_text(st, 0),
               sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 1),
               sqlite3_column_int(st, 2) != 0);
        sqlite3_finalize(st);
    }
    store_read_done(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_queue_counts(struct store *s,
                       void (*fn)(void *ctx, const char *name, int64_t queued, int64_t running),
                       void *ctx)
{
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT queue, sum(state = 'queued'), sum(state = 'running') FROM jobs "
                           "WHERE state IN ('queued', 'running') GROUP BY queue ORDER BY queue",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = store_fail(s, "counting queues");
    } else {
        while (sqlite3_step(st) == SQLITE_ROW)
            fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1),
               sqlite3_column_int64(st, 2));
        sqlite3_finalize(st);
    }
    store_read_done(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_each_event(struct store *s, int64_t after_id, int64_t job_id, const char *queue,
                     int limit, void (*fn)(void *ctx, const struct store_event *e), void *ctx)
{
    char sql[320];
    snprintf(sql, sizeof sql,
             "SELECT e.id, e.job_id, e.at, e.from_state, e.to_state, e.detail FROM job_events e%s "
             "WHERE e.id > ?1%s%s ORDER BY e.id LIMIT ?4",
             queue ? " JOIN jobs j ON j.id = e.job_id" : "", job_id > 0 ? " AND e.job_id = ?2" : "",
             queue ? " AND j.queue = ?3" : "");
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st;
    int n = 0;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        n = store_fail(s, "preparing the event read");
    } else {
        sqlite3_bind_int64(st, 1, after_id);
        if (job_id > 0) sqlite3_bind_int64(st, 2, job_id);
        if (queue) sqlite3_bind_text(st, 3, queue, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, limit);
        while (sqlite3_step(st) == SQLITE_ROW) {
            struct store_event e = {sqlite3_column_int64(st, 0),
                                    sqlite3_column_int64(st, 1),
                                    sqlite3_column_int64(st, 2),
                                    (const char *)sqlite3_column_text(st, 3),
                                    (const char *)sqlite3_column_text(st, 4),
                                    (const char *)sqlite3_column_text(st, 5)};
            fn(ctx, &e);
            n++;
        }
        sqlite3_finalize(st);
    }
    store_read_done(s);
    pthread_mutex_unlock(&s->lock);
    return n;
}

int64_t store_last_event(struct store *s)
{
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st;
    int64_t id = -1;
    if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(id), 0) FROM job_events", -1, &st, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return id;
}

int store_each_group_member(struct store *s, const char *group, void (*fn)(void *ctx, int64_t id),
                            void *ctx)
{
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            s->db, "SELECT id FROM jobs WHERE group_name = ? AND state = 'queued' ORDER BY id", -1,
            &st, NULL) != SQLITE_OK) {
        rc = store_fail(s, "SELECT group members");
    } else {
        sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            int64_t *grown = realloc(ids, (n + 1) * sizeof *ids);
            if (!grown) break;
            ids = grown;
            ids[n++] = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
    }
    store_read_done(s);
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n; i++)
        fn(ctx, ids[i]); /* after the read: fn writes */
    free(ids);
    return rc;
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

int store_notifications_due(struct store *s, int64_t now, struct store_notification *out, int max)
{
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st;
    int n = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT job_id, url, attempts FROM notifications WHERE next_at <= ? "
                           "ORDER BY next_at LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK) {
        n = store_fail(s, "SELECT notifications");
    } else {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int(st, 2, max);
        while (n < max && sqlite3_step(st) == SQLITE_ROW) {
            out[n].job_id = sqlite3_column_int64(st, 0);
            snprintf(out[n].url, sizeof out[n].url, "%s", (const char *)sqlite3_column_text(st, 1));
            out[n].attempts = sqlite3_column_int(st, 2);
            n++;
        }
        sqlite3_finalize(st);
    }
    store_read_done(s);
    pthread_mutex_unlock(&s->lock);
    return n;
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
