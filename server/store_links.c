/* store_links: the rows that tie jobs together: dependencies ("after") and idempotency
 * keys. */
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

int64_t store_idempotent_job(struct store *s, const char *key, int64_t since)
{
    store_tx_begin(s);
    bool was_failed = s->failed; /* a failure here is this submit's, not the batch's */
    sqlite3_stmt *st = store_stmt(s, ST_IDEMPOTENT);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since);
    int step = sqlite3_step(st);
    int64_t id = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (step != SQLITE_ROW && step != SQLITE_DONE) id = store_fail(s, "SELECT idempotency key");
    sqlite3_reset(st);
    if (id == 0) { /* an older job may hold the key: it is free again */
        st = store_stmt(s, ST_IDEMPOTENT_EXPIRE);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) id = store_fail(s, "UPDATE idempotency key");
    }
    if (id < 0) s->failed = was_failed;
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
